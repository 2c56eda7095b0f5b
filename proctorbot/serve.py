"""`proctorbot serve [--demo] [--host H] [--port P]`: run the whole product in one process."""

from __future__ import annotations

import click
from aiohttp import web

from proctorbot.config.settings import Settings
from proctorbot.context import AppContext


def apply_address(settings: Settings, host: str | None, port: int | None) -> None:
    """Override the listening address; a public URL left at its default follows it."""
    server = settings.server
    default_public = f"http://{server.host}:{server.port}"
    if host:
        server.host = host
    if port:
        server.port = port
    if server.public_url.rstrip("/") == default_public and (host or port):
        shown = "127.0.0.1" if server.host in ("0.0.0.0", "::") else server.host
        server.public_url = f"http://{shown}:{server.port}"


def print_demo_links(ctx: AppContext, session_ids: list[str]) -> None:
    from proctorbot.conference.links import session_links
    from proctorbot.storage.models import ExamSession

    with ctx.db() as db:
        sessions = [db.get(ExamSession, sid) for sid in session_ids]
    for session in sessions:
        when = session.starts_at.strftime("%H:%M UTC")
        click.echo(f"\n{session.title} — {when} (session {session.id})")
        for link in session_links(ctx, session.id):
            click.echo(f"  {link.role:<10} {link.name}: {link.url}")
    click.echo("")


@click.command("serve")
@click.option(
    "--demo", is_flag=True, help="Seed a demo exam day (idempotent) and print the call links."
)
@click.option("--host", default=None, help="Listen address (default: server.host).")
@click.option("--port", type=int, default=None, help="Listen port (default: server.port).")
@click.pass_context
def serve_command(ctx: click.Context, demo: bool, host: str | None, port: int | None) -> None:
    """Start the server: call pages, signaling and every area plugged into it."""
    from proctorbot.app import build_app
    from proctorbot.command_settings import settings_from
    from proctorbot.secret_key import SecretKeyError, check_key_for_serving

    settings = settings_from(ctx)
    apply_address(settings, host, port)
    try:
        check_key_for_serving(settings)
        app_ctx = AppContext.build(settings)
    except SecretKeyError as exc:
        raise click.ClickException(str(exc)) from None
    if demo:
        from proctorbot.storage.demo import seed_demo

        day = seed_demo(app_ctx.db, profile=settings.default_profile, language=settings.language)
        click.echo("Demo exam day ready. Open a link in a browser (one per person):")
        print_demo_links(app_ctx, day.session_ids)
        from proctorbot.report.demo_sign_in import demo_sign_in_lines

        # The dashboard, a one-time sign-in link for the demo organizer, the organization.
        click.echo("\n".join(demo_sign_in_lines(app_ctx, day.organization_id)))
    click.echo(
        f"proctorbot serving on http://{settings.server.host}:{settings.server.port} (Ctrl+C stops)"
    )
    web.run_app(
        build_app(app_ctx),
        host=settings.server.host,
        port=settings.server.port,
        print=None,
        access_log=None,
    )
