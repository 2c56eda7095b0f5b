"""`proctorbot telegram invite|check` and `proctorbot outbox`."""

from __future__ import annotations

import asyncio

import click

from proctorbot.command_settings import settings_from


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


@telegram_group.command("invites")
@click.option("--organization", "-o", default="default", show_default=True)
@click.option(
    "--role",
    default="student",
    show_default=True,
    type=click.Choice(["student", "examiner", "expert", "organizer"]),
)
@click.option("--days", type=float, default=14.0, show_default=True, help="Code lifetime.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="Write codes here.")
@click.option("--send", is_flag=True, help="E-mail each person their code (through the outbox).")
@click.pass_context
def invites_command(
    ctx: click.Context, organization: str, role: str, days: float, csv_path: str | None, send: bool
) -> None:
    """One-time codes for everyone of ROLE without a linked chat (e.g. all students)."""
    import csv
    import datetime as dt

    from proctorbot.notifications.invites import create_invite, deep_link
    from proctorbot.notifications.outbox import Recipient, enqueue
    from proctorbot.storage.db import utcnow
    from proctorbot.storage.models import Organization, Person
    from sqlalchemy import select

    from proctorbot.context import AppContext

    app = AppContext.build(settings_from(ctx))
    username = asyncio.run(_bot_username(app.settings))
    rows: list[list[str]] = []
    sent = 0
    with app.db.begin() as db:
        people = db.scalars(
            select(Person)
            .join(Organization, Organization.id == Person.organization_id)
            .where(
                Organization.name == organization,
                Person.role == role,
                Person.telegram_chat_id.is_(None),
            )
            .order_by(Person.full_name)
        ).all()
        until = utcnow() + dt.timedelta(days=days)
        for person in people:
            code = create_invite(db, person, ttl=dt.timedelta(days=days))
            link = deep_link(username, code) if username else ""
            rows.append([person.full_name, person.email or "", code, link])
            if send and person.email:
                enqueue(
                    db,
                    Recipient("email", person.email, person.language),
                    "invite",
                    {
                        "code": code,
                        "link": link or f"/start {code}",
                        "title": "Telegram",
                        "until": until.strftime("%d.%m.%Y"),
                    },
                )
                sent += 1
    if csv_path:
        with open(csv_path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["full_name", "email", "code", "link"])
            writer.writerows(rows)
    else:
        for row in rows:
            click.echo("\t".join(row))
    click.echo(f"{len(rows)} code(s) made, {sent} e-mailed", err=True)


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
