"""A demo exam day to try the product at once (`proctorbot serve --demo`).

Idempotent: the organization, people, day and sessions are found by stable external
ids and reused; each run moves the sessions so that the first one starts now.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from proctorbot.storage.db import utcnow
from proctorbot.storage.models import (
    ExamDay,
    ExamSession,
    Organization,
    Person,
    Role,
    SessionMember,
    SessionStatus,
)
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

DEMO_ORGANIZATION = "Demo University / Демонстрационный университет"
DEMO_STUDENTS = ("Анна Смирнова", "Иван Петров", "Мария Кузнецова")
DEMO_STAFF = {
    Role.EXAMINER: "Ольга Николаевна Соколова",
    Role.EXPERT: "Сергей Павлович Волков",
    Role.ORGANIZER: "Елена Викторовна Морозова",
}
SESSION_MINUTES = 30
SESSION_SPACING_MINUTES = 45


@dataclass(frozen=True)
class DemoDay:
    organization_id: str
    exam_day_id: str
    session_ids: list[str]  # in time order; the first starts now


def seed_demo(
    db_factory: sessionmaker, *, profile: str, language: str = "ru", now: dt.datetime | None = None
) -> DemoDay:
    """Create (or refresh) the demo organization, its people and today's sessions."""
    start = (now or utcnow()).replace(second=0, microsecond=0)
    with db_factory() as db, db.begin():
        org = db.scalar(select(Organization).where(Organization.name == DEMO_ORGANIZATION))
        if org is None:
            org = Organization(name=DEMO_ORGANIZATION)
            db.add(org)
            db.flush()
        staff = {
            role: _person(db, org, role, f"demo-{role}", name) for role, name in DEMO_STAFF.items()
        }
        students = [
            _person(db, org, Role.STUDENT, f"demo-student-{n}", name)
            for n, name in enumerate(DEMO_STUDENTS, start=1)
        ]
        day = db.scalar(
            select(ExamDay).where(ExamDay.organization_id == org.id, ExamDay.date == start.date())
        )
        if day is None:
            day = ExamDay(
                organization_id=org.id,
                title="Демо-экзамен / Demo exam",
                date=start.date(),
                profile=profile,
            )
            db.add(day)
            db.flush()
        session_ids = []
        for n, student in enumerate(students):
            begins = start + dt.timedelta(minutes=n * SESSION_SPACING_MINUTES)
            session = _session(db, org, day, student, profile, language)
            session.starts_at = begins
            session.ends_at = begins + dt.timedelta(minutes=SESSION_MINUTES)
            if session.status in (SessionStatus.FINISHED, SessionStatus.CANCELLED):
                session.status = SessionStatus.PLANNED
                session.finished_at = None
            for person in [student, *staff.values()]:
                _member(db, session, person)
            session_ids.append(session.id)
        return DemoDay(organization_id=org.id, exam_day_id=day.id, session_ids=session_ids)


def _person(db: Session, org: Organization, role: str, external_id: str, name: str) -> Person:
    person = db.scalar(
        select(Person).where(
            Person.organization_id == org.id, Person.role == role, Person.external_id == external_id
        )
    )
    if person is None:
        person = Person(organization_id=org.id, role=role, external_id=external_id, full_name=name)
        db.add(person)
        db.flush()
    return person


def _session(
    db: Session, org: Organization, day: ExamDay, student: Person, profile: str, language: str
) -> ExamSession:
    title = f"Демо-экзамен: {student.full_name}"
    session = db.scalar(
        select(ExamSession).where(ExamSession.exam_day_id == day.id, ExamSession.title == title)
    )
    if session is None:
        session = ExamSession(
            organization_id=org.id,
            exam_day_id=day.id,
            title=title,
            profile=profile,
            language=language,
            starts_at=utcnow(),
            ends_at=utcnow(),
        )
        db.add(session)
        db.flush()
    return session


def _member(db: Session, session: ExamSession, person: Person) -> None:
    exists = db.scalar(
        select(SessionMember).where(
            SessionMember.session_id == session.id, SessionMember.person_id == person.id
        )
    )
    if exists is None:
        db.add(SessionMember(session_id=session.id, person_id=person.id, role=person.role))
