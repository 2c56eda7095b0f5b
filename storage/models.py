"""Core records shared by every area: organizations, people, exam days, sessions."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from proctorbot.storage.db import Base, UtcDateTime, utcnow
from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship


def new_id() -> str:
    return uuid.uuid4().hex[:16]


class Role(enum.StrEnum):
    STUDENT = "student"
    EXAMINER = "examiner"
    EXPERT = "expert"
    ORGANIZER = "organizer"
    BOT = "bot"


class SessionStatus(enum.StrEnum):
    PLANNED = "planned"
    OPEN = "open"  # the room accepts people; the bot is in
    LIVE = "live"  # the exam itself is running
    FINISHED = "finished"
    CANCELLED = "cancelled"


class SessionKind(enum.StrEnum):
    EXAM = "exam"
    # A test call with recording before the exam [003 §3]: equipment only, no exam.
    TRIAL = "trial"


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class Person(Base):
    """A student, examiner, expert or organizer of one organization."""

    __tablename__ = "people"
    __table_args__ = (UniqueConstraint("organization_id", "role", "external_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    role: Mapped[str] = mapped_column(String(16))
    # An id from the institution's roster (student number, e-mail) for re-imports.
    external_id: Mapped[str | None] = mapped_column(String(200), default=None)
    full_name: Mapped[str] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(300), default=None)
    telegram_username: Mapped[str | None] = mapped_column(String(100), default=None)
    telegram_chat_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    group_name: Mapped[str | None] = mapped_column(String(100), default=None)
    language: Mapped[str] = mapped_column(String(8), default="ru")
    # Organizers sign in to the dashboard; hash made by conference/passwords.py.
    password_hash: Mapped[str | None] = mapped_column(String(300), default=None)


class ExamDay(Base):
    __tablename__ = "exam_days"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    title: Mapped[str] = mapped_column(String(300))
    date: Mapped[dt.date]
    profile: Mapped[str] = mapped_column(String(64))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Moscow")


class ExamSession(Base):
    """One student's slot: a room, its bot, its recordings and its report."""

    __tablename__ = "exam_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    exam_day_id: Mapped[str | None] = mapped_column(ForeignKey("exam_days.id"), default=None)
    title: Mapped[str] = mapped_column(String(300))
    profile: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8), default="ru")
    starts_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(16), default=SessionStatus.PLANNED)
    kind: Mapped[str] = mapped_column(
        String(16), default=SessionKind.EXAM, server_default=SessionKind.EXAM
    )
    opened_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)
    notes: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)

    members: Mapped[list[SessionMember]] = relationship(
        back_populates="session", cascade="all, delete-orphan"
    )


class SessionMember(Base):
    """Who takes part in a session and in which role (several examiners allowed)."""

    __tablename__ = "session_members"
    __table_args__ = (UniqueConstraint("session_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("exam_sessions.id", ondelete="CASCADE"))
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"))
    role: Mapped[str] = mapped_column(String(16))

    session: Mapped[ExamSession] = relationship(back_populates="members")
    person: Mapped[Person] = relationship()
