"""What the checklist needs to know about a session from the database."""

from __future__ import annotations

from dataclasses import dataclass

from proctorbot.storage.models import ExamSession, Person, Role, SessionMember
from sqlalchemy import select

from proctorbot.context import AppContext


@dataclass(frozen=True)
class SessionFacts:
    session_id: str
    organization_id: str
    title: str
    profile: str
    language: str
    student_name: str | None  # None: nobody to check (a session without a student)
    student_person_id: str | None
    organizer_ids: tuple[str, ...]  # who hears about refusals and non-admissions
    kind: str = "exam"  # storage.models.SessionKind: exam | trial (a test call before it)


def load_session_facts(ctx: AppContext, session_id: str) -> SessionFacts | None:
    with ctx.db() as db:
        session = db.get(ExamSession, session_id)
        if session is None:
            return None
        members = db.execute(
            select(SessionMember.role, Person)
            .join(Person, Person.id == SessionMember.person_id)
            .where(SessionMember.session_id == session_id)
        ).all()
        students = [person for role, person in members if role == Role.STUDENT]
        organizers = [person.id for role, person in members if role == Role.ORGANIZER]
        if not organizers:
            organizers = list(
                db.scalars(
                    select(Person.id).where(
                        Person.organization_id == session.organization_id,
                        Person.role == Role.ORGANIZER,
                    )
                )
            )
        return SessionFacts(
            session_id=session.id,
            organization_id=session.organization_id,
            title=session.title,
            profile=session.profile,
            language=session.language,
            student_name=students[0].full_name if students else None,
            student_person_id=students[0].id if students else None,
            organizer_ids=tuple(organizers),
            kind=session.kind,
        )
