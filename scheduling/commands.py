"""`proctorbot import-roster`, `proctorbot plan`, `proctorbot jobs`."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import click

from proctorbot.command_settings import settings_from


def _context(ctx: click.Context):  # noqa: ANN202
    from proctorbot.context import AppContext

    return AppContext.build(settings_from(ctx))


@click.command("import-roster")
@click.argument("roster", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option(
    "--availability",
    "-a",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Examiners' available hours (CSV or XLSX).",
)
@click.option("--organization", "-o", default="default", show_default=True)
@click.pass_context
def import_roster_command(
    ctx: click.Context, roster: Path | None, availability: Path | None, organization: str
) -> None:
    """Import students, examiners and organizers (and availability) from CSV or XLSX.

    Every line is checked first; on any error nothing is imported and each bad line is
    listed with its number.
    """
    from proctorbot.scheduling.roster import RosterError, import_roster

    if roster is None and availability is None:
        raise click.UsageError("give a roster file, --availability FILE, or both")
    app = _context(ctx)
    settings = app.settings
    try:
        with app.db.begin() as db:
            summary = import_roster(
                db,
                organization,
                roster,
                availability,
                default_language=settings.language,
                default_timezone=settings.scheduling.timezone,
            )
    except RosterError as exc:
        raise click.ClickException(
            f"nothing imported, {len(exc.issues)} problem(s):\n{exc}"
        ) from None
    roles = ", ".join(f"{n} {role}(s)" for role, n in sorted(summary.by_role.items())) or "nobody"
    click.echo(
        f"imported {roles}: {summary.created} new, {summary.updated} updated; "
        f"{summary.windows} availability window(s)"
    )


@click.command("plan")
@click.argument("day")
@click.option("--organization", "-o", default="default", show_default=True)
@click.option("--title", default=None, help="Exam day title (default: the exam or 'Exam').")
@click.option("--exam", default=None, help="Only students enrolled in this exam.")
@click.option("--profile", default=None, help="Rule profile (default: settings.default_profile).")
@click.option("--timezone", "tz_name", default=None, help="Zone of the day (default: settings).")
@click.option("--instruction", type=int, default=None, help="Minutes of instruction.")
@click.option("--technical", type=int, default=None, help="Minutes of technical procedures.")
@click.option("--exam-minutes", type=int, default=None, help="Minutes of the exam itself.")
@click.option("--buffer", type=int, default=None, help="Minutes left free after each slot.")
@click.option(
    "--break",
    "breaks",
    multiple=True,
    metavar="HH:MM-HH:MM",
    help="A break for everyone (repeatable).",
)
@click.option("--rest-every", type=int, default=0, help="A rest after this many slots in a row.")
@click.option("--rest-minutes", type=int, default=10, show_default=True)
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--ics", "ics_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Show the plan; save nothing.")
@click.option("--no-jobs", is_flag=True, help="Do not schedule reminders and the bot.")
@click.pass_context
def plan_command(
    ctx: click.Context,
    day: str,
    organization: str,
    title: str | None,
    exam: str | None,
    profile: str | None,
    tz_name: str | None,
    instruction: int | None,
    technical: int | None,
    exam_minutes: int | None,
    buffer: int | None,
    breaks: tuple[str, ...],
    rest_every: int,
    rest_minutes: int,
    csv_path: Path | None,
    ics_path: Path | None,
    dry_run: bool,
    no_jobs: bool,
) -> None:
    """Plan the connection schedule of DAY (YYYY-MM-DD): one slot per student.

    Creates the sessions with their members, writes CSV/ICS with every slot's links and
    schedules reminders, the bot's join and the no-show check. Students who do not fit
    are listed as conflicts (exit status 2 when there are any).
    """
    from proctorbot.scheduling.exports import schedule_csv, schedule_ics
    from proctorbot.scheduling.planner import BreakRule, Interval, SlotLengths, SlotPlanner
    from proctorbot.scheduling.schedule import (
        ScheduleError,
        examiners_to_plan,
        organization_by_name,
        save_plan,
        scheduled_slots,
        students_to_plan,
    )
    from proctorbot.storage.localtime import LocalTimeError, local_to_utc, parse_day, zone

    app = _context(ctx)
    s = app.settings
    sched = s.scheduling
    tz_name = tz_name or sched.timezone
    profile = profile or s.default_profile
    title = title or exam or "Exam"
    lengths = SlotLengths.minutes(
        sched.instruction_minutes if instruction is None else instruction,
        sched.technical_minutes if technical is None else technical,
        sched.exam_minutes if exam_minutes is None else exam_minutes,
        sched.buffer_minutes if buffer is None else buffer,
    )
    try:
        the_day = parse_day(day)
        tz = zone(tz_name)
        fixed = []
        for text in breaks:
            start_text, _, end_text = text.partition("-")
            fixed.append(
                Interval(
                    local_to_utc(the_day, dt.time.fromisoformat(start_text), tz),
                    local_to_utc(the_day, dt.time.fromisoformat(end_text), tz),
                )
            )
    except (LocalTimeError, ValueError) as exc:
        raise click.BadParameter(str(exc)) from None
    if the_day < dt.datetime.now(tz).date():
        click.echo(f"warning: {the_day} is in the past; no reminders will go out", err=True)
    planner = SlotPlanner(
        lengths, BreakRule(tuple(fixed), rest_every, dt.timedelta(minutes=rest_minutes))
    )
    with app.db.begin() as db:
        try:
            org = organization_by_name(db, organization)
        except ScheduleError as exc:
            raise click.ClickException(str(exc)) from None
        students = students_to_plan(db, org.id, the_day, tz_name, exam)
        examiners = examiners_to_plan(db, org.id, the_day, tz_name)
        if not students:
            raise click.ClickException(f"nobody to plan on {the_day} (all planned, or no students)")
        if not examiners:
            raise click.ClickException(f"no examiner is available on {the_day}")
        plan = planner.plan(students, examiners)
        for slot in plan.slots:
            local = slot.start.astimezone(tz)
            click.echo(f"{local:%H:%M}  {slot.examiner.full_name:<24} {slot.student.full_name}")
        for conflict in plan.conflicts:
            click.echo(f"CONFLICT {conflict.student.full_name}: {conflict.reason}", err=True)
        if dry_run:
            db.rollback()
            return
        sessions = save_plan(
            db,
            org.id,
            the_day,
            plan,
            title=title,
            profile=profile,
            timezone=tz_name,
            language=s.language,
        )
        slots = scheduled_slots(
            db,
            sessions,
            app.signer,
            s.server.public_url,
            timezone=tz_name,
            min_ttl_hours=s.server.call_link_ttl_hours,
            lengths_instruction_technical=lengths.instruction + lengths.technical,
        )
    if csv_path:
        csv_path.write_text(schedule_csv(slots, plan.conflicts), encoding="utf-8")
        click.echo(f"CSV written: {csv_path}")
    if ics_path:
        ics_path.write_text(
            schedule_ics(slots, calendar_name=f"{title} {the_day}"), encoding="utf-8", newline=""
        )
        click.echo(f"ICS written: {ics_path}")
    if not no_jobs:
        count = asyncio.run(_schedule_jobs(app, [slot.session_id for slot in slots], profile))
        click.echo(f"{count} job(s) scheduled")
    click.echo(f"{len(plan.slots)} slot(s) planned, {len(plan.conflicts)} conflict(s)")
    if plan.conflicts:
        ctx.exit(2)


async def _schedule_jobs(app, session_ids: list[str], profile: str) -> int:  # noqa: ANN001
    from proctorbot.scheduling.hooks import JobHooks, JobRuntime
    from proctorbot.scheduling.scheduler import (
        make_scheduler,
        reminder_offsets,
        schedule_session_jobs,
    )
    from proctorbot.storage.models import ExamSession

    scheduler = make_scheduler(JobRuntime(app, JobHooks()))
    scheduler.start(paused=True)  # writes to the job store; the server runs the jobs
    offsets = reminder_offsets(profile, app.settings.scheduling.reminder_offsets_minutes)
    count = 0
    try:
        with app.db() as db:
            for session_id in session_ids:
                session = db.get(ExamSession, session_id)
                count += len(
                    schedule_session_jobs(
                        scheduler,
                        session,
                        reminder_offsets_minutes=offsets,
                        bot_join_minutes_before=app.settings.scheduling.bot_join_minutes_before,
                    )
                )
    finally:
        scheduler.shutdown(wait=False)
    return count


@click.command("jobs")
@click.option(
    "--run",
    "run_seconds",
    type=float,
    default=None,
    metavar="SECONDS",
    help="Run due jobs for SECONDS, then exit (without the server: reminders and "
    "notifications work; the bot cannot join).",
)
@click.pass_context
def jobs_command(ctx: click.Context, run_seconds: float | None) -> None:
    """List the scheduled jobs stored in the job store, soonest first."""
    from proctorbot.scheduling.hooks import JobHooks, JobRuntime
    from proctorbot.scheduling.scheduler import make_scheduler

    app = _context(ctx)

    async def listing() -> list[tuple[str, str]]:
        scheduler = make_scheduler(JobRuntime(app, JobHooks()))
        scheduler.start(paused=run_seconds is None)
        try:
            if run_seconds is not None:
                await asyncio.sleep(run_seconds)
            return [(str(job.next_run_time), job.id) for job in scheduler.get_jobs()]
        finally:
            scheduler.shutdown(wait=False)

    rows = asyncio.run(listing())
    for when, job_id in rows:
        click.echo(f"{when}  {job_id}")
    click.echo(f"{len(rows)} job(s)")


def register(group: click.Group) -> None:
    group.add_command(import_roster_command)
    group.add_command(plan_command)
    group.add_command(jobs_command)
