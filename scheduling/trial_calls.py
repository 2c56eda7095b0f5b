"""Trial calls: a test call with recording before each exam [003 §3].

``TrialCallPlanner`` places one per student ``days_before`` calendar days before the
exam, at the same local time, ``minutes`` long (the profile's ``[trial_call]``): the
student already keeps that hour free, and the trials of a day run as many at once as
the exams will. No examiner sits a trial: the bot runs consent and the equipment steps
(checklist/trial.py), records a short sample and ends the call. A trial that would fall
in the past is a conflict with its reason, never dropped silently.

``save_trial_calls`` makes each an ``ExamSession`` of kind ``trial`` on the exam's day
(``exam_day_id``: the day it prepares), the student its only member; jobs remind the
student and bring the bot like any session's. After the calls ``trial_results`` gives,
per student of the exam day, passed / failed (step and reason) / did not attend, and
``to_contact`` the students the organizers should call before the exam, with contacts.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from proctorbot.checklist.trial import TrialOutcome, TrialStatus, load_trial_outcomes
from proctorbot.config.catalogue import Catalogue
from proctorbot.storage.localtime import LocalTimeError, local_to_utc
from proctorbot.storage.models import (
    ExamDay,
    ExamSession,
    Person,
    Role,
    SessionKind,
    SessionMember,
    SessionStatus,
)
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload


@dataclass(frozen=True)
class ExamToPrepare:
    """One exam slot a trial call prepares."""

    session_id: str
    student_id: str
    student_name: str
    starts_at: dt.datetime  # UTC


@dataclass(frozen=True)
class TrialSlot:
    exam: ExamToPrepare
    start: dt.datetime  # UTC
    end: dt.datetime


@dataclass(frozen=True)
class TrialConflict:
    exam: ExamToPrepare
    reason: str


@dataclass
class TrialPlan:
    slots: list[TrialSlot] = field(default_factory=list)
    conflicts: list[TrialConflict] = field(default_factory=list)


class TrialCallPlanner:
    """Same local time, ``days_before`` calendar days earlier, ``minutes`` long."""

    def __init__(self, *, days_before: int, minutes: int, tz: ZoneInfo) -> None:
        if days_before < 1:
            raise ValueError("a trial call is at least one day before the exam [003 §3]")
        self.days_before = days_before
        self.length = dt.timedelta(minutes=minutes)
        self.tz = tz

    def plan(self, exams: Iterable[ExamToPrepare], now: dt.datetime) -> TrialPlan:
        plan = TrialPlan()
        seen: set[tuple[str, dt.date]] = set()
        for exam in sorted(exams, key=lambda e: (e.starts_at, e.student_name)):
            local = exam.starts_at.astimezone(self.tz)
            day = local.date() - dt.timedelta(days=self.days_before)
            try:
                start = local_to_utc(day, local.time().replace(tzinfo=None), self.tz)
            except LocalTimeError:  # that hour is skipped by DST that day: one hour later
                start = local_to_utc(day, (local + dt.timedelta(hours=1)).time(), self.tz)
            if start < now:
                plan.conflicts.append(
                    TrialConflict(
                        exam,
                        f"too late: a trial call {self.days_before} day(s) before the exam "
                        f"would be at {start.astimezone(self.tz):%Y-%m-%d %H:%M}, in the past",
                    )
                )
                continue
            if (exam.student_id, day) in seen:
                continue  # two exams of one student: one trial call that day is enough
            seen.add((exam.student_id, day))
            plan.slots.append(TrialSlot(exam, start, start + self.length))
        return plan


def exams_to_prepare(db: Session, exam_day_id: str) -> list[ExamToPrepare]:
    sessions = db.scalars(
        select(ExamSession)
        .where(
            ExamSession.exam_day_id == exam_day_id,
            ExamSession.kind == SessionKind.EXAM,
            ExamSession.status != SessionStatus.CANCELLED,
        )
        .options(selectinload(ExamSession.members).selectinload(SessionMember.person))
    ).all()
    return [
        ExamToPrepare(session.id, member.person_id, member.person.full_name, session.starts_at)
        for session in sessions
        for member in session.members
        if member.role == Role.STUDENT
    ]


def save_trial_calls(
    db: Session, day: ExamDay, plan: TrialPlan, *, profile: str
) -> list[ExamSession]:
    """A trial session per slot (kind ``trial``, on the exam's day, the student alone);
    a student who already has a trial for this day keeps it."""
    existing = set(
        db.scalars(
            select(SessionMember.person_id)
            .join(ExamSession)
            .where(
                ExamSession.exam_day_id == day.id,
                ExamSession.kind == SessionKind.TRIAL,
                ExamSession.status != SessionStatus.CANCELLED,
            )
        )
    )
    sessions = []
    for slot in plan.slots:
        if slot.exam.student_id in existing:
            continue
        student = db.get(Person, slot.exam.student_id)
        language = student.language if student and student.language in ("ru", "en") else "ru"
        title = Catalogue.load(language).text(
            "scheduling.trial_title", title=day.title, student=slot.exam.student_name
        )
        session = ExamSession(
            organization_id=day.organization_id,
            exam_day_id=day.id,
            title=title,
            profile=profile,
            language=language,
            starts_at=slot.start,
            ends_at=slot.end,
            kind=SessionKind.TRIAL,
        )
        session.members = [SessionMember(person_id=slot.exam.student_id, role=Role.STUDENT)]
        db.add(session)
        sessions.append(session)
        existing.add(slot.exam.student_id)
    db.flush()
    return sessions


class TrialState(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NO_SHOW = "no_show"
    PENDING = "pending"  # not held yet
    NOT_PLANNED = "not_planned"


@dataclass(frozen=True)
class TrialResult:
    """One student of the exam day and their trial call."""

    student_id: str
    student_name: str
    group: str
    email: str
    telegram: str
    exam_starts_at: dt.datetime
    trial_session_id: str | None
    trial_starts_at: dt.datetime | None
    state: TrialState
    outcome: TrialOutcome | None = None  # the step and reason when failed

    @property
    def needs_contact(self) -> bool:
        """Failed or did not attend: the organizers call before the exam day."""
        return self.state in (TrialState.FAILED, TrialState.NO_SHOW)


def trial_results(db: Session, exam_day_id: str, now: dt.datetime) -> list[TrialResult]:
    """Per student of the exam day (exam order): their trial call's result."""
    exams = exams_to_prepare(db, exam_day_id)
    trials = db.scalars(
        select(ExamSession)
        .where(ExamSession.exam_day_id == exam_day_id, ExamSession.kind == SessionKind.TRIAL)
        .options(selectinload(ExamSession.members))
        .order_by(ExamSession.starts_at)
    ).all()
    trial_of: dict[str, ExamSession] = {}
    for trial in trials:
        if trial.status == SessionStatus.CANCELLED:
            continue
        for member in trial.members:
            trial_of.setdefault(member.person_id, trial)
    outcomes = load_trial_outcomes(db, [t.id for t in trial_of.values()])
    results = []
    seen: set[str] = set()
    for exam in sorted(exams, key=lambda e: (e.starts_at, e.student_name)):
        if exam.student_id in seen:
            continue
        seen.add(exam.student_id)
        person = db.get(Person, exam.student_id)
        trial = trial_of.get(exam.student_id)
        outcome = outcomes.get(trial.id) if trial is not None else None
        state = _state(trial, outcome, now)
        results.append(
            TrialResult(
                student_id=exam.student_id,
                student_name=exam.student_name,
                group=(person.group_name if person else None) or "",
                email=(person.email if person else None) or "",
                telegram=_telegram(person),
                exam_starts_at=exam.starts_at,
                trial_session_id=trial.id if trial is not None else None,
                trial_starts_at=trial.starts_at if trial is not None else None,
                state=state,
                outcome=outcome if state is TrialState.FAILED else None,
            )
        )
    return results


def to_contact(results: Iterable[TrialResult]) -> list[TrialResult]:
    return [result for result in results if result.needs_contact]


def _state(trial: ExamSession | None, outcome: TrialOutcome | None, now: dt.datetime) -> TrialState:
    if trial is None:
        return TrialState.NOT_PLANNED
    if outcome is not None and outcome.status is TrialStatus.PASSED:
        return TrialState.PASSED
    over = trial.status == SessionStatus.FINISHED or now >= trial.ends_at
    if not over:
        return TrialState.PENDING
    if outcome is None or outcome.status is TrialStatus.NO_SHOW:
        return TrialState.NO_SHOW
    return TrialState.FAILED


def _telegram(person: Person | None) -> str:
    if person is None:
        return ""
    if person.telegram_username:
        return "@" + person.telegram_username.lstrip("@")
    return str(person.telegram_chat_id) if person.telegram_chat_id else ""


# After the day's last trial call, the organizers' list (``send_trial_summary``) waits
# this long: the bot has left and the checklist's last word is stored.
SUMMARY_DELAY = dt.timedelta(minutes=5)


def plan_trial_calls(
    db: Session, day: ExamDay, *, profile_name: str, now: dt.datetime
) -> tuple[TrialPlan, list[ExamSession]]:
    """Place and save the trial calls of an exam day as its profile's ``[trial_call]``
    says (nothing when it is off)."""
    from proctorbot.config.profiles import load_profile
    from proctorbot.storage.localtime import zone

    settings = load_profile(profile_name).trial_call
    if not settings.enabled:
        return TrialPlan(), []
    planner = TrialCallPlanner(
        days_before=settings.days_before, minutes=settings.minutes, tz=zone(day.timezone)
    )
    plan = planner.plan(exams_to_prepare(db, day.id), now)
    return plan, save_trial_calls(db, day, plan, profile=profile_name)


def schedule_trial_jobs(
    scheduler: object,  # apscheduler AsyncIOScheduler
    trials: list[ExamSession],
    *,
    exam_day_id: str,
    first_exam_starts: dt.datetime,
    reminder_offsets_minutes: Iterable[int],
    bot_join_minutes_before: int,
    now: dt.datetime | None = None,
) -> list[str]:
    """Each trial's reminders and bot (no no-show alert: the summary says it), then the
    organizers' list after the last one."""
    from proctorbot.scheduling.scheduler import schedule_session_jobs, schedule_trial_summary

    offsets = tuple(reminder_offsets_minutes)
    job_ids: list[str] = []
    for trial in trials:
        job_ids += schedule_session_jobs(
            scheduler,  # type: ignore[arg-type]
            trial,
            reminder_offsets_minutes=offsets,
            bot_join_minutes_before=bot_join_minutes_before,
            now=now,
        )
    if trials:
        job_ids.append(
            schedule_trial_summary(
                scheduler,  # type: ignore[arg-type]
                exam_day_id,
                after=max(trial.ends_at for trial in trials) + SUMMARY_DELAY,
                exam_starts=first_exam_starts,
                now=now,
            )
        )
    return job_ids
