"""The checklist's database tables (Alembic branch "checklist").

``checklist_runs`` holds the latest state of each session's run (one row, replaced at
every transition, the full JSON included); ``checklist_transitions`` is the append-only
audit trail. Both are written in one transaction, so they never disagree.
"""

from __future__ import annotations

import datetime as dt

from proctorbot.storage.db import Base, UtcDateTime, utcnow
from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column


class ChecklistRunRow(Base):
    __tablename__ = "checklist_runs"

    session_id: Mapped[str] = mapped_column(
        ForeignKey("exam_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    profile: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(24))
    current_step: Mapped[str | None] = mapped_column(String(24), default=None)
    revision: Mapped[int] = mapped_column(Integer)
    consent_given: Mapped[bool | None] = mapped_column(Boolean, default=None)
    consent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)
    consent_text_version: Mapped[str | None] = mapped_column(String(32), default=None)
    state_json: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class ChecklistTransitionRow(Base):
    __tablename__ = "checklist_transitions"
    __table_args__ = (UniqueConstraint("session_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("exam_sessions.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    step: Mapped[str | None] = mapped_column(String(24), default=None)
    action: Mapped[str] = mapped_column(String(32))
    actor_role: Mapped[str] = mapped_column(String(16))
    actor_name: Mapped[str] = mapped_column(String(300))
    from_status: Mapped[str | None] = mapped_column(String(16), default=None)
    to_status: Mapped[str | None] = mapped_column(String(16), default=None)
    detail_json: Mapped[str] = mapped_column(Text)
