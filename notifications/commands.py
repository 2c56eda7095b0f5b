"""`proctorbot telegram invite|check` and `proctorbot outbox`."""

from __future__ import annotations

import asyncio

import click

from proctorbot.commands_core import settings_from


@click.group("telegram")
def telegram_group() -> None:
    """Telegram bot: invite codes and a token check."""


@telegram_group.command("invite")
@click.argument("person")
@click.option("--organization", "-o", default="default", show_default=True)
@click.option("--days", type=float, default=7.0, show_default=True, help="Code lifetime.")
@click.pass_context
def invite_command(ctx: click.Context, person: str, organization: str, days: float) -> None:
    """Make a one-time code that links PERSON's chat (roster id or e-mail): /start CODE."""
    import datetime as dt

    from proctorbot.notifications.invites import create_invite, deep_link
    from proctorbot.storage.models import Organization, Person
    from sqlalchemy import or_, select

    from proctorbot.context import AppContext

    app = AppContext.build(settings_from(ctx))
    with app.db.begin() as db:
        people = db.scalars(
            select(Person)
            .join(Organization, Organization.id == Person.organization_id)
            .where(
                Organization.name == organization,
                or_(Person.external_id == person, Person.email == person),
            )
        ).all()
        if not people:
            raise click.ClickException(f"nobody with id or e-mail {person!r} in {organization!r}")
        if len(people) > 1:
            roles = ", ".join(p.role for p in people)
            raise click.ClickException(f"{person!r} matches several people ({roles}); use the id")
        code = create_invite(db, people[0], ttl=dt.timedelta(days=days))
        name = people[0].full_name
    click.echo(f"invite for {name}: /start {code}")
    username = asyncio.run(_bot_username(app.settings))
    if username:
        click.echo(deep_link(username, code))


async def _bot_username(settings) -> str | None:  # noqa: ANN001
    from proctorbot.notifications.telegram_client import TelegramSetupError, check_bot, make_bot

    try:
        bot = make_bot(settings.telegram)
        user = await asyncio.wait_for(check_bot(bot), timeout=10)
        await bot.shutdown()
        return user.username
    except (TelegramSetupError, TimeoutError):
        return None


@telegram_group.command("check")
@click.pass_context
def check_command(ctx: click.Context) -> None:
    """Ask the Bot API who the bot is (getMe): a bad token gets a clear message."""
    from proctorbot.notifications.telegram_client import TelegramSetupError, check_bot, make_bot

    settings = settings_from(ctx)

    async def run() -> str:
        bot = make_bot(settings.telegram)
        user = await check_bot(bot)
        await bot.shutdown()
        return f"@{user.username} ({user.first_name}), id {user.id}"

    try:
        click.echo(asyncio.run(run()))
    except TelegramSetupError as exc:
        raise click.ClickException(str(exc)) from None


@click.command("outbox")
@click.pass_context
def outbox_command(ctx: click.Context) -> None:
    """Count notifications by channel and status (pending ones are still to be sent)."""
    from proctorbot.notifications.tables import OutboxMessage
    from sqlalchemy import func, select

    from proctorbot.context import AppContext

    app = AppContext.build(settings_from(ctx))
    with app.db() as db:
        rows = db.execute(
            select(OutboxMessage.channel, OutboxMessage.status, func.count())
            .group_by(OutboxMessage.channel, OutboxMessage.status)
            .order_by(OutboxMessage.channel, OutboxMessage.status)
        ).all()
    for channel, status, count in rows:
        click.echo(f"{channel:<9} {status:<14} {count}")
    if not rows:
        click.echo("the outbox is empty")


def register(group: click.Group) -> None:
    group.add_command(telegram_group)
    group.add_command(outbox_command)
