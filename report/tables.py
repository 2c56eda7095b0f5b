"""The report area's own tables: examiners' decisions, the audit log, legal holds, purges."""

from __future__ import annotations

import datetime as dt

from proctorbot.storage.db import Base, UtcDateTime, utcnow
from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column


class FindingDecision(Base):
    """An examiner accepted or dismissed a finding; every decision is kept (latest wins)."""

    __tablename__ = "report_finding_decisions"
    __table_args__ = (Index("ix_report_finding_decisions_session", "session_id", "finding_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("exam_sessions.id", ondelete="CASCADE"))
    finding_id: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(16))  # accepted | dismissed
    reason: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str | None] = mapped_column(ForeignKey("people.id"), default=None)
    decided_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class AuditEntry(Base):
    """Every access to a report, a recording or a download link, allowed or refused."""

    __tablename__ = "report_audit_log"
    __table_args__ = (Index("ix_report_audit_log_session", "session_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(64))  # sign_in | view_report | download ...
    outcome: Mapped[str] = mapped_column(String(16))  # allowed | refused | done
    organization_id: Mapped[str | None] = mapped_column(String(32), default=None)
    person_id: Mapped[str | None] = mapped_column(String(32), default=None)
    session_id: Mapped[str | None] = mapped_column(String(32), default=None)
    target: Mapped[str] = mapped_column(String(500), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    remote: Mapped[str] = mapped_column(String(100), default="")


class LegalHold(Base):
    """A session under appeal: retention must not delete its files while active."""

    __tablename__ = "report_legal_holds"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("exam_sessions.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text)
    placed_by: Mapped[str | None] = mapped_column(ForeignKey("people.id"), default=None)
    placed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    released_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)


class RetentionPurge(Base):
    """What retention deleted from a session folder, and when."""

    __tablename__ = "report_retention_purges"

    session_id: Mapped[str] = mapped_column(
        ForeignKey("exam_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    purged_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    files_deleted: Mapped[int] = mapped_column(default=0)
    bytes_deleted: Mapped[int] = mapped_column(default=0)


class SignInCounter(Base):
    """Sign-in attempts of one account or one address in the current window
    (report/sign_in_guard.py): counted in the database, one statement per attempt."""

    __tablename__ = "report_sign_in_counters"

    scope: Mapped[str] = mapped_column(String(16), primary_key=True)  # account | address ...
    key: Mapped[str] = mapped_column(String(320), primary_key=True)  # e-mail or IP address
    window_start: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    count: Mapped[int] = mapped_column(default=0)


class SignInLink(Base):
    """A one-time sign-in link sent to a person (report/sign_in_links.py); only the
    SHA-256 of its secret is kept."""

    __tablename__ = "report_sign_in_links"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)
