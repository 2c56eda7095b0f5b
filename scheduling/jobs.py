"""Job functions, importable by reference (``proctorbot.scheduling.jobs:send_reminder``).

Each takes ids only; the executor adds ``runtime`` (context and hooks) when it runs the
job, so nothing but ids is pickled into the job store and no global state is needed.
Jobs are idempotent: notifications carry a dedupe key, so a job that runs twice
(at-least-once after a crash) sends once. Their database work runs in a thread and is
retried while the database is locked (storage/db_retry.py): never on the event loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from proctorbot.notifications.outbox import enqueue
from proctorbot.scheduling.hooks import JobRuntime, call_hook
from proctorbot.scheduling.schedule import link_for
from proctorbot.scheduling.tables import Enrolment
from proctorbot.storage.db import utcnow
from proctorbot.storage.db_retry import write_retrying
from proctorbot.storage.localtime import zone
from proctorbot.storage.models import (
    ExamDay,
    ExamSession,
    Person,
    Role,
    SessionKind,
    SessionStatus,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

DONE = (SessionStatus.FINISHED, SessionStatus.CANCELLED)


class JobSetupError(RuntimeError):
    """A job was called without the runtime the scheduler's executor provides."""


def reminder_template(offset_minutes: int) -> str:
    """Which text a reminder uses: procedure ≥ 7 d, schedule ≥ 2 d, link ≥ 1 h, else soon."""
    if offset_minutes >= 7 * 1440:
        return "scheduling.reminder_procedure"
    if offset_minutes >= 2 * 1440:
        return "scheduling.reminder_schedule"
    if offset_minutes >= 60:
        return "scheduling.reminder_link"
    return "scheduling.reminder_soon"


def trial_reminder_template(offset_minutes: int) -> str:
    """A trial call's reminder: the link and what happens, or "starts now"."""
    return "scheduling.reminder_trial" if offset_minutes >= 60 else "scheduling.reminder_trial_soon"


async def send_reminder(
    session_id: str, offset_minutes: int, *, runtime: JobRuntime | None = None
) -> int:
    """Queue the reminder for the session's students (and examiners from 1 day on)."""
    rt = _need(runtime)
    return await write_retrying(
        _queue_reminder, rt, session_id, offset_minutes, what=f"reminder for {session_id}"
    )


def _queue_reminder(rt: JobRuntime, session_id: str, offset_minutes: int) -> int:
    settings = rt.ctx.settings
    with rt.ctx.db.begin() as db:
        session = db.get(ExamSession, session_id)
        if session is None or session.status in DONE:
            log.info("reminder for %s skipped: session gone or over", session_id)
            return 0
        if utcnow() >= session.ends_at:
            log.warning(
                "reminder %s min for %s came after the session; not sent",
                offset_minutes,
                session_id,
            )
            return 0
        trial = session.kind == SessionKind.TRIAL
        template = (
            trial_reminder_template(offset_minutes) if trial else reminder_template(offset_minutes)
        )
        tz_default = _session_timezone(db, session, settings.scheduling.timezone)
        students = [m.person for m in session.members if m.role == Role.STUDENT]
        roles = reminder_recipients(session.profile)
        count = 0
        for member in session.members:
            person = member.person
            if member.role not in roles:
                continue
            if member.role == Role.STUDENT:
                key = template
            elif member.role == Role.EXAMINER and offset_minutes <= 1440:
                key = "scheduling.reminder_examiner"
            else:
                continue
            tz_name = _person_timezone(db, person) or tz_default
            local = session.starts_at.astimezone(zone(tz_name))
            link = link_for(
                rt.ctx.signer,
                settings.server.public_url,
                session,
                person.id,
                member.role,
                min_ttl_hours=settings.server.call_link_ttl_hours,
            )
            payload = {
                "title": session.title,
                "date": local.strftime("%d.%m.%Y"),
                "time": local.strftime("%H:%M"),
                "timezone": tz_name,
                "link": link,
                "student": ", ".join(s.full_name for s in students),
            }
            if enqueue(
                db,
                person,
                key,
                payload,
                session_id=session.id,
                dedupe_key=f"reminder:{session.id}:{offset_minutes}:{person.id}",
            ):
                count += 1
    return count


def reminder_recipients(profile_name: str) -> tuple[str, ...]:
    """The roles the profile reminds (``reminders.to``); students and examiners by default."""
    try:
        from proctorbot.config.profiles import load_profile

        return tuple(load_profile(profile_name).reminders.to)
    except Exception:  # an unknown profile: the default
        return (Role.STUDENT, Role.EXAMINER)


async def bot_join(session_id: str, *, runtime: JobRuntime | None = None) -> bool:
    rt = _need(runtime)
    if not await asyncio.to_thread(_session_running, rt, session_id):
        log.info("bot join for %s skipped: session gone or over", session_id)
        return False
    if rt.hooks.bot_join is None:
        log.warning("no bot manager plugged in; the bot cannot join %s", session_id)
        return False
    await call_hook(rt.hooks.bot_join, session_id)
    return True


def _session_running(rt: JobRuntime, session_id: str) -> bool:
    with rt.ctx.db() as db:
        session = db.get(ExamSession, session_id)
        return not (session is None or session.status in DONE or utcnow() >= session.ends_at)


async def check_no_show(session_id: str, *, runtime: JobRuntime | None = None) -> list[str]:
    """At the start: tell organizers and examiners about every student not in the room."""
    rt = _need(runtime)
    if rt.hooks.people_in_room is None:
        log.warning("no room registry plugged in; no-show check for %s skipped", session_id)
        return []
    present = set(await call_hook(rt.hooks.people_in_room, session_id) or ())
    return await write_retrying(
        _queue_no_shows, rt, session_id, present, what=f"no-show check of {session_id}"
    )


def _queue_no_shows(rt: JobRuntime, session_id: str, present: set[str]) -> list[str]:
    missing: list[str] = []
    with rt.ctx.db.begin() as db:
        session = db.get(ExamSession, session_id)
        if session is None or session.status in DONE:
            return []
        tz = zone(_session_timezone(db, session, rt.ctx.settings.scheduling.timezone))
        students = [m.person for m in session.members if m.role == Role.STUDENT]
        missing = [s.full_name for s in students if s.id not in present]
        if not missing:
            return []
        start = session.starts_at.astimezone(tz).strftime("%H:%M")
        for person in _staff(db, session):
            for name in missing:
                enqueue(
                    db,
                    person,
                    "no_show",
                    {"student": name, "title": session.title, "start": start},
                    session_id=session.id,
                    dedupe_key=f"no_show:{session.id}:{name}:{person.id}"[:200],
                )
    return missing


async def post_session(session_id: str, *, runtime: JobRuntime | None = None) -> bool:
    rt = _need(runtime)
    if rt.hooks.post_session is None:
        log.warning("no post-session processing plugged in for %s", session_id)
        return False
    await call_hook(rt.hooks.post_session, session_id)
    return True


async def retention_sweep(*, runtime: JobRuntime | None = None) -> object:
    rt = _need(runtime)
    if rt.hooks.retention is None:
        log.warning("no retention rule plugged in; nothing deleted")
        return None
    return await call_hook(rt.hooks.retention)


def report_missed(runtime: JobRuntime, job_id: str, due: dt.datetime) -> None:
    """A job missed past its grace time: say so to the organizers, never drop it silently."""
    log.error("job %s due %s was missed while the scheduler was down", job_id, due)
    session_id = job_id.split(":")[1] if job_id.count(":") >= 1 else None
    with runtime.ctx.db.begin() as db:
        session = db.get(ExamSession, session_id) if session_id else None
        query = select(Person).where(Person.role == Role.ORGANIZER)
        if session is not None:
            query = query.where(Person.organization_id == session.organization_id)
        for organizer in db.scalars(query):
            enqueue(
                db,
                organizer,
                "job_missed",
                {"job": job_id, "due": due.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")},
                session_id=session_id,
                dedupe_key=f"missed:{job_id}:{organizer.id}"[:200],
            )


async def send_trial_summary(exam_day_id: str, *, runtime: JobRuntime | None = None) -> int:
    """After the day's trial calls, before the exam day: the organizers get the students
    who failed or did not attend, with their contacts (scheduling/trial_calls.py)."""
    rt = _need(runtime)
    return await write_retrying(
        _queue_trial_summary, rt, exam_day_id, what=f"trial summary of {exam_day_id}"
    )


def _queue_trial_summary(rt: JobRuntime, exam_day_id: str) -> int:
    from proctorbot.checklist.trial import trial_reason_text
    from proctorbot.config.catalogue import Catalogue
    from proctorbot.scheduling.trial_calls import TrialState, trial_results

    with rt.ctx.db.begin() as db:
        day = db.get(ExamDay, exam_day_id)
        if day is None:
            return 0
        results = trial_results(db, exam_day_id, utcnow())
        counts = {state: sum(r.state is state for r in results) for state in TrialState}
        # failed or absent first (to call), then any not held or not planned
        needing = sorted(
            (r for r in results if r.state is not TrialState.PASSED),
            key=lambda r: not r.needs_contact,
        )
        organizers = db.scalars(
            select(Person).where(
                Person.organization_id == day.organization_id, Person.role == Role.ORGANIZER
            )
        ).all()
        sent = 0
        for organizer in organizers:
            texts = Catalogue.load(
                organizer.language if organizer.language in ("ru", "en") else "ru"
            )
            values = {
                "title": day.title,
                "date": day.date.strftime("%d.%m.%Y"),
                "passed": counts[TrialState.PASSED],
                "failed": counts[TrialState.FAILED],
                "no_show": counts[TrialState.NO_SHOW],
            }
            if not needing:
                kind, payload = "scheduling.trial_summary_all_passed", values
            else:
                lines = []
                for result in needing:
                    reason = (
                        ": " + trial_reason_text(texts, result.outcome) if result.outcome else ""
                    )
                    contacts = ", ".join(c for c in (result.email, result.telegram) if c)
                    lines.append(
                        texts.text(
                            "scheduling.trial_summary_line",
                            student=result.student_name,
                            state=texts.text(f"checklist.trial.status.{result.state}"),
                            reason=reason,
                            contacts=contacts or texts.text("scheduling.no_contacts"),
                        )
                    )
                kind, payload = "scheduling.trial_summary", {**values, "lines": "\n".join(lines)}
            if enqueue(
                db, organizer, kind, payload, dedupe_key=f"trial_summary:{day.id}:{organizer.id}"
            ):
                sent += 1
    return sent


def _need(runtime: JobRuntime | None) -> JobRuntime:
    if runtime is None:
        raise JobSetupError("scheduled jobs run through scheduling.scheduler's executor")
    return runtime


def _staff(db: Session, session: ExamSession) -> list[Person]:
    examiners = [m.person for m in session.members if m.role == Role.EXAMINER]
    organizers = db.scalars(
        select(Person).where(
            Person.organization_id == session.organization_id, Person.role == Role.ORGANIZER
        )
    ).all()
    return examiners + list(organizers)


def _session_timezone(db: Session, session: ExamSession, default: str) -> str:
    if session.exam_day_id:
        day = db.get(ExamDay, session.exam_day_id)
        if day is not None:
            return day.timezone
    return default


def _person_timezone(db: Session, person: Person) -> str | None:
    return db.scalar(select(Enrolment.timezone).where(Enrolment.person_id == person.id))
