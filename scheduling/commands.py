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
@click.option(
    "--no-trial-calls",
    is_flag=True,
    help="Do not place the test calls the profile's [trial_call] asks for.",
)
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
    no_trial_calls: bool,
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
        trials = [] if no_trial_calls else _place_trial_calls(db, sessions, profile, tz)
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
        if trials:
            count += asyncio.run(_schedule_trial_jobs(app, trials, profile))
        click.echo(f"{count} job(s) scheduled")
    click.echo(f"{len(plan.slots)} slot(s) planned, {len(plan.conflicts)} conflict(s)")
    if plan.conflicts:
        ctx.exit(2)


def _place_trial_calls(db, sessions, profile: str, tz) -> list[str]:  # noqa: ANN001
    """The profile's test calls before this day's exams (``[trial_call]``), printed."""
    from proctorbot.scheduling.trial_calls import plan_trial_calls
    from proctorbot.storage.db import utcnow
    from proctorbot.storage.models import ExamDay

    if not sessions:
        return []
    day = db.get(ExamDay, sessions[0].exam_day_id)
    plan, trials = plan_trial_calls(db, day, profile_name=profile, now=utcnow())
    for slot in plan.slots:
        click.echo(
            f"test call {slot.start.astimezone(tz):%Y-%m-%d %H:%M}  {slot.exam.student_name}"
        )
    for conflict in plan.conflicts:
        click.echo(f"NO TEST CALL {conflict.exam.student_name}: {conflict.reason}", err=True)
    return [trial.id for trial in trials]


async def _schedule_trial_jobs(app, trial_ids: list[str], profile: str) -> int:  # noqa: ANN001
    from proctorbot.config.profiles import load_profile
    from proctorbot.scheduling.hooks import JobHooks, JobRuntime
    from proctorbot.scheduling.scheduler import make_scheduler
    from proctorbot.scheduling.trial_calls import exams_to_prepare, schedule_trial_jobs
    from proctorbot.storage.models import ExamSession

    scheduler = make_scheduler(JobRuntime(app, JobHooks()))
    scheduler.start(paused=True)
    try:
        with app.db() as db:
            trials = [db.get(ExamSession, trial_id) for trial_id in trial_ids]
            day_id = trials[0].exam_day_id
            first_exam = min(e.starts_at for e in exams_to_prepare(db, day_id))
            jobs = schedule_trial_jobs(
                scheduler,
                trials,
                exam_day_id=day_id,
                first_exam_starts=first_exam,
                reminder_offsets_minutes=load_profile(profile).trial_call.reminder_offsets_minutes,
                bot_join_minutes_before=app.settings.scheduling.bot_join_minutes_before,
            )
    finally:
        scheduler.shutdown(wait=False)
    return len(jobs)


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


@click.command("trial-calls")
@click.argument("day")
@click.option("--organization", "-o", default="default", show_default=True)
@click.option("--language", type=click.Choice(["ru", "en"]), default=None)
@click.pass_context
def trial_calls_command(
    ctx: click.Context, day: str, organization: str, language: str | None
) -> None:
    """The test calls before the exams of DAY (YYYY-MM-DD): per student passed / failed
    (why) / did not attend, then who to contact before the exam, with contacts. Exit
    status 2 when someone is to contact."""
    from proctorbot.checklist.trial import trial_reason_text
    from proctorbot.config.catalogue import Catalogue
    from proctorbot.scheduling.schedule import ScheduleError, organization_by_name
    from proctorbot.scheduling.trial_calls import trial_results
    from proctorbot.storage.db import utcnow
    from proctorbot.storage.localtime import LocalTimeError, parse_day, zone
    from proctorbot.storage.models import ExamDay
    from sqlalchemy import select

    app = _context(ctx)
    texts = Catalogue.load(language or app.settings.language)
    try:
        the_day = parse_day(day)
    except LocalTimeError as exc:
        raise click.BadParameter(str(exc)) from None
    needing = 0
    with app.db() as db:
        try:
            org = organization_by_name(db, organization)
        except ScheduleError as exc:
            raise click.ClickException(str(exc)) from None
        days = db.scalars(
            select(ExamDay).where(ExamDay.organization_id == org.id, ExamDay.date == the_day)
        ).all()
        if not days:
            raise click.ClickException(f"no exam day on {the_day}")
        for exam_day in days:
            tz = zone(exam_day.timezone)
            click.echo(f"== {exam_day.title} {exam_day.date} ({exam_day.timezone})")
            results = trial_results(db, exam_day.id, utcnow())
            for r in results:
                when = (
                    f"{r.trial_starts_at.astimezone(tz):%Y-%m-%d %H:%M}"
                    if r.trial_starts_at
                    else "—"
                )
                state = texts.text(f"checklist.trial.status.{r.state}")
                why = f": {trial_reason_text(texts, r.outcome)}" if r.outcome else ""
                click.echo(f"{when:<16}  {r.student_name:<30} {state}{why}")
            contact = [r for r in results if r.needs_contact]
            needing += len(contact)
            if contact:
                click.echo(f"-- {texts.text('report.trials.to_contact')}:")
                for r in contact:
                    contacts = ", ".join(c for c in (r.email, r.telegram) if c)
                    state = texts.text(f"checklist.trial.status.{r.state}")
                    click.echo(
                        f"{r.student_name:<30} {state:<16} "
                        f"{contacts or texts.text('scheduling.no_contacts')}"
                    )
    if needing:
        ctx.exit(2)


def register(group: click.Group) -> None:
    group.add_command(import_roster_command)
    group.add_command(plan_command)
    group.add_command(jobs_command)
    group.add_command(trial_calls_command)
