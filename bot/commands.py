"""``proctorbot bot join SESSION [--url URL]``: run one session's bot in the foreground."""

from __future__ import annotations

import asyncio
import signal

import click


@click.group("bot")
def bot_group() -> None:
    """The silent participant that records a session."""


@bot_group.command("join")
@click.argument("session_id")
@click.option("--url", default=None, help="Server base URL (default: server.public_url).")
@click.option("--seconds", type=float, default=None, help="Leave after this many seconds.")
@click.pass_context
def join_command(
    ctx: click.Context, session_id: str, url: str | None, seconds: float | None
) -> None:
    """Join SESSION as the bot and record it until Ctrl-C (or --seconds)."""
    from proctorbot.command_settings import settings_from
    from proctorbot.context import AppContext

    settings = settings_from(ctx)
    app_ctx = AppContext.build(settings)
    manifest = asyncio.run(_run(app_ctx, session_id, url, seconds))
    click.echo(f"recording in {settings.recordings_dir / session_id} ({len(manifest.files)} files)")


async def _run(app_ctx, session_id: str, url: str | None, seconds: float | None):  # noqa: ANN001, ANN202
    from proctorbot.bot.manager import bot_signaling_url
    from proctorbot.bot.session_bot import SessionBot

    janus_place = None
    if app_ctx.settings.conference.mode == "janus":  # the room from the shared placement
        from proctorbot.conference.janus.placement import JanusRooms

        janus_place = JanusRooms(app_ctx.db, app_ctx.settings)
    bot = SessionBot(
        session_id,
        bot_signaling_url(app_ctx, session_id, url),
        app_ctx.settings,
        janus_place=janus_place,
    )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, lambda: asyncio.ensure_future(bot.stop()))
    if seconds is not None:
        loop.call_later(seconds, lambda: asyncio.ensure_future(bot.stop()))
    manifest = await bot.run()
    if app_ctx.settings.recording.make_composite:  # a server's bot leaves this to the hand-over
        from proctorbot.recording.composite import add_composite

        try:
            manifest = await asyncio.to_thread(add_composite, bot.session_dir, manifest)
        except Exception as exc:  # noqa: BLE001 - the recordings are kept either way
            click.echo(f"composite not made: {exc}", err=True)
    return manifest


def register(group: click.Group) -> None:
    group.add_command(bot_group)
