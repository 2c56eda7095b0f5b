"""Scheduling's own tables: examiners' availability, what each student sits, the job store."""

from __future__ import annotations

import datetime as dt

from proctorbot.storage.db import Base, UtcDateTime
from sqlalchemy import Float, ForeignKey, LargeBinary, String, Unicode, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

# APScheduler's SQLAlchemyJobStore creates this table on its own when missing; it is
# declared here too so that migrations create it and the schema check knows it.
JOBS_TABLE = "scheduling_jobs"


class Availability(Base):
    """A window in which an examiner can hold exams (UTC)."""

    __tablename__ = "scheduling_availability"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    # Exams this examiner takes in the window, comma-separated; empty = any.
    exams: Mapped[str] = mapped_column(String(500), default="")
    # Examiners with the same panel name examine together (a commission), when all are free.
    panel: Mapped[str] = mapped_column(String(100), default="", server_default="")


class Enrolment(Base):
    """Which exam a student sits, and the student's own time zone for reminders."""

    __tablename__ = "scheduling_enrolments"
    __table_args__ = (UniqueConstraint("person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    exam: Mapped[str] = mapped_column(String(300), default="")
    timezone: Mapped[str | None] = mapped_column(String(64), default=None)


class StoredJob(Base):
    """APScheduler 3's job table (id, next_run_time as a UNIX time, pickled state)."""

    __tablename__ = JOBS_TABLE

    id: Mapped[str] = mapped_column(Unicode(191), primary_key=True)
    next_run_time: Mapped[float | None] = mapped_column(Float(25), index=True)
    job_state: Mapped[bytes] = mapped_column(LargeBinary)
