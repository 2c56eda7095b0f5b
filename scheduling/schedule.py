"""Turn a plan into exam sessions and call links, and load what to plan from the database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from proctorbot.conference.links import sign_call_token
from proctorbot.conference.tokens import TokenSigner, call_link
from proctorbot.scheduling.planner import (
    ExaminerToPlan,
    Interval,
    Plan,
    StudentToPlan,
    intersect_windows,
    merge_windows,
)
from proctorbot.scheduling.tables import Availability, Enrolment
from proctorbot.storage.localtime import day_bounds_utc, zone
from proctorbot.storage.models import (
    ExamDay,
    ExamSession,
    Organization,
    Person,
    Role,
    SessionKind,
    SessionMember,
    SessionStatus,
)
from sqlalchemy import select
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class SlotLink:
    person_id: str
    full_name: str
    role: str
    url: str


@dataclass(frozen=True)
class ScheduledSlot:
    """One saved slot as exports show it."""

    session_id: str
    title: str
    timezone: str
    start: dt.datetime
    exam_start: dt.datetime
    end: dt.datetime
    student: SlotLink
    examiners: tuple[SlotLink, ...]


class ScheduleError(ValueError):
    """What to plan cannot be found (no such organization, nobody to plan)."""


def organization_by_name(db: Session, name: str) -> Organization:
    org = db.scalar(select(Organization).where(Organization.name == name))
    if org is None:
        raise ScheduleError(f"no organization named {name!r}; import a roster first")
    return org


def students_to_plan(
    db: Session, organization_id: str, day: dt.date, tz_name: str, exam: str | None = None
) -> list[StudentToPlan]:
    """Students of the organization without a session that day, in roster order by name."""
    start, end = day_bounds_utc(day, zone(tz_name))
    already = set(
        db.scalars(
            select(SessionMember.person_id)
            .join(ExamSession)
            .where(
                ExamSession.organization_id == organization_id,
                ExamSession.starts_at >= start,
                ExamSession.starts_at < end,
                ExamSession.status != SessionStatus.CANCELLED,
                ExamSession.kind == SessionKind.EXAM,  # a trial call that day is no exam
                SessionMember.role == Role.STUDENT,
            )
        )
    )
    rows = db.execute(
        select(Person, Enrolment.exam)
        .outerjoin(Enrolment, Enrolment.person_id == Person.id)
        .where(Person.organization_id == organization_id, Person.role == Role.STUDENT)
        .order_by(Person.group_name, Person.full_name)
    ).all()
    return [
        StudentToPlan(person.id, person.full_name, exam_name or "")
        for person, exam_name in rows
        if person.id not in already and (exam is None or (exam_name or "") == exam)
    ]


def examiners_to_plan(
    db: Session, organization_id: str, day: dt.date, tz_name: str
) -> list[ExaminerToPlan]:
    """Examiners with availability overlapping the local day, clipped to it."""
    start, end = day_bounds_utc(day, zone(tz_name))
    rows = db.execute(
        select(Person, Availability)
        .join(Availability, Availability.person_id == Person.id)
        .where(
            Person.organization_id == organization_id,
            Person.role == Role.EXAMINER,
            Availability.ends_at > start,
            Availability.starts_at < end,
        )
        .order_by(Person.full_name, Availability.starts_at)
    ).all()
    by_person: dict[str, tuple[Person, list[Interval], set[str], str]] = {}
    for person, window in rows:
        _, windows, exams, _panel = by_person.setdefault(
            person.id, (person, [], set(), window.panel)
        )
        windows.append(Interval(max(window.starts_at, start), min(window.ends_at, end)))
        exams.update(e for e in window.exams.split(";") if e)
    singles: list[ExaminerToPlan] = []
    panels: dict[str, list[ExaminerToPlan]] = {}
    for person, windows, exams, panel in by_person.values():
        unit = ExaminerToPlan(person.id, person.full_name, tuple(windows), frozenset(exams))
        if panel:
            panels.setdefault(panel, []).append(unit)
        else:
            singles.append(unit)
    for members in panels.values():
        lead, others = members[0], members[1:]
        common = merge_windows(list(lead.windows))
        exams_union: set[str] = set(lead.exams)
        for other in others:
            common = intersect_windows(common, other.windows)
            exams_union |= other.exams
        singles.append(
            ExaminerToPlan(
                lead.person_id,
                lead.full_name,
                common,
                frozenset(exams_union),
                tuple((o.person_id, o.full_name) for o in others),
            )
        )
    return singles


def save_plan(
    db: Session,
    organization_id: str,
    day: dt.date,
    plan: Plan,
    *,
    title: str,
    profile: str,
    timezone: str,
    language: str = "ru",
) -> list[ExamSession]:
    """One ExamDay, and per slot an ExamSession with its student and examiner as members."""
    exam_day = db.scalar(
        select(ExamDay).where(
            ExamDay.organization_id == organization_id, ExamDay.date == day, ExamDay.title == title
        )
    )
    if exam_day is None:
        exam_day = ExamDay(
            organization_id=organization_id,
            title=title,
            date=day,
            profile=profile,
            timezone=timezone,
        )
        db.add(exam_day)
        db.flush()
    sessions: list[ExamSession] = []
    for slot in plan.slots:
        student = db.get(Person, slot.student.person_id)
        session = ExamSession(
            organization_id=organization_id,
            exam_day_id=exam_day.id,
            title=f"{title}: {slot.student.full_name}",
            profile=profile,
            language=student.language if student else language,
            starts_at=slot.start,
            ends_at=slot.end,
        )
        session.members = [
            SessionMember(person_id=slot.student.person_id, role=Role.STUDENT),
            *(
                SessionMember(person_id=person_id, role=Role.EXAMINER)
                for person_id, _ in slot.examiner.people
            ),
        ]
        db.add(session)
        sessions.append(session)
    db.flush()
    return sessions


def link_for(
    signer: TokenSigner,
    public_url: str,
    session: ExamSession,
    person_id: str,
    role: str,
    *,
    min_ttl_hours: float,
    now: dt.datetime | None = None,
) -> str:
    """A call link valid until the session ends, and at least ``min_ttl_hours``; the token
    is the conference's (``conference.links.sign_call_token``)."""
    token = sign_call_token(
        signer,
        session.id,
        role,
        person_id,
        min_ttl_hours=min_ttl_hours,
        ends_at=session.ends_at,
        now=now,
    )
    return call_link(public_url, token)


def scheduled_slots(
    db: Session,
    sessions: list[ExamSession],
    signer: TokenSigner,
    public_url: str,
    *,
    timezone: str,
    min_ttl_hours: float,
    lengths_instruction_technical: dt.timedelta,
) -> list[ScheduledSlot]:
    """Saved sessions with fresh links for every member, ready for CSV or ICS."""
    result: list[ScheduledSlot] = []
    for session in sorted(sessions, key=lambda s: s.starts_at):
        links = []
        for member in session.members:
            person = db.get(Person, member.person_id)
            url = link_for(
                signer,
                public_url,
                session,
                member.person_id,
                member.role,
                min_ttl_hours=min_ttl_hours,
            )
            links.append(SlotLink(member.person_id, person.full_name, member.role, url))
        student = next(link for link in links if link.role == Role.STUDENT)
        result.append(
            ScheduledSlot(
                session_id=session.id,
                title=session.title,
                timezone=timezone,
                start=session.starts_at,
                exam_start=session.starts_at + lengths_instruction_technical,
                end=session.ends_at,
                student=student,
                examiners=tuple(link for link in links if link.role == Role.EXAMINER),
            )
        )
    return result
