"""`proctorbot report ...`, `proctorbot retention run`, `proctorbot organizer add`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from proctorbot.command_settings import settings_from


def _context(ctx: click.Context):
    from proctorbot.context import AppContext

    return AppContext.build(settings_from(ctx))


@click.command("report")
@click.argument("session")
@click.option("--pdf", is_flag=True, help="Also print the report and the acts to PDF (Chromium).")
@click.option("--profile", default=None, help="Rule profile for a bare folder (name or TOML path).")
@click.pass_context
def report_command(ctx: click.Context, session: str, pdf: bool, profile: str | None) -> None:
    """Build the report of SESSION: a session id from the database or a session folder."""
    from proctorbot.config.profiles import ProfileError
    from proctorbot.report.pdf import PdfError
    from proctorbot.report.service import ReportError, rebuild_report, report_for_folder

    try:
        if Path(session).is_dir():
            settings = settings_from(ctx)
            written = report_for_folder(Path(session), profile or settings.default_profile, pdf=pdf)
        else:
            app = _context(ctx)
            try:
                written = rebuild_report(app, session, pdf=pdf)
            finally:
                app.engine.dispose()
    except (ReportError, ProfileError, PdfError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"report: {written.html}")
    if written.pdf:
        click.echo(f"pdf: {written.pdf}")
    for key, path in written.documents.items():
        click.echo(f"{key}: {path}")


@click.group("retention")
def retention_group() -> None:
    """Delete recordings and evidence past their profile's retention period."""


@retention_group.command("run")
@click.option("--now", "now_text", default=None, help="Pretend it is this UTC time (ISO 8601).")
@click.pass_context
def retention_run(ctx: click.Context, now_text: str | None) -> None:
    from proctorbot.report.retention import run_retention

    now = dt.datetime.fromisoformat(now_text).replace(tzinfo=dt.UTC) if now_text else None
    app = _context(ctx)
    try:
        result = run_retention(app, now=now)
    finally:
        app.engine.dispose()
    for purge in result.purged:
        click.echo(
            f"{purge.session_id}: deleted {len(purge.deleted)} files ({purge.bytes_deleted} bytes)"
        )
    for session_id in result.held:
        click.echo(f"{session_id}: kept (legal hold)")
    click.echo(f"done: {result.files_deleted} files deleted, {len(result.held)} sessions held")


@click.group("organizer")
def organizer_group() -> None:
    """Organizers' dashboard accounts."""


@organizer_group.command("add")
@click.option("--organization", "organization", required=True, help="Organization id or name.")
@click.option("--name", "full_name", required=True)
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(["organizer", "examiner"]), default="organizer")
@click.option("--language", type=click.Choice(["ru", "en"]), default="ru")
@click.password_option()
@click.pass_context
def organizer_add(
    ctx: click.Context,
    organization: str,
    full_name: str,
    email: str,
    role: str,
    language: str,
    password: str,
) -> None:
    """Create (or reset the password of) a person who signs in to the dashboard."""
    from proctorbot.report.passwords import WeakPassword, hash_password
    from proctorbot.storage.models import Organization, Person
    from sqlalchemy import func, select

    try:
        password_hash = hash_password(password)
    except WeakPassword as exc:
        raise click.ClickException(str(exc)) from None
    app = _context(ctx)
    try:
        with app.db() as db:
            org = db.get(Organization, organization) or db.scalar(
                select(Organization).where(Organization.name == organization)
            )
            if org is None:
                org = Organization(name=organization)
                db.add(org)
                db.flush()
                click.echo(f"organization created: {org.id} {org.name}")
            person = db.scalar(
                select(Person).where(
                    Person.organization_id == org.id,
                    Person.role == role,
                    func.lower(Person.email) == email.lower(),
                )
            )
            if person is None:
                person = Person(
                    organization_id=org.id,
                    role=role,
                    full_name=full_name,
                    email=email,
                    external_id=email.lower(),
                    language=language,
                )
                db.add(person)
            person.password_hash = password_hash
            db.commit()
            click.echo(f"{role} {person.id} <{email}> can sign in at /dashboard")
    finally:
        app.engine.dispose()


def register(group: click.Group) -> None:
    group.add_command(report_command)
    group.add_command(retention_group)
    group.add_command(organizer_group)
