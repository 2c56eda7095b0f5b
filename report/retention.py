"""Retention: recordings and evidence are deleted after the profile's period.

Counted from the session's end (``finished_at``, else ``ends_at``). Evidence goes after
``retention.evidence_days``, recordings after ``retention.recordings_days``; the report,
the acts, the events and the checklist stay (they are the organization's documents).
A session under a legal hold (an appeal) keeps everything until the hold is released
[004 §4.17, §5.6]. Every deletion and every hold writes an audit line.

Where sessions are archived to an S3 store (``archive.keep_local_days`` > 0), the local
recordings and evidence go that many days after the session too, and only when
``archive.json`` says the store holds the folder verified (``storage/session_archive``).

The scheduler calls ``run_retention(ctx)`` once a day; ``now`` is for tests.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from proctorbot.report.audit import audit
from proctorbot.report.results import session_profile
from proctorbot.report.session_files import MEDIA_SUFFIXES
from proctorbot.report.tables import LegalHold, RetentionPurge
from proctorbot.storage.db import utcnow
from proctorbot.storage.models import ExamSession
from proctorbot.storage.session_archive import archive_verified
from proctorbot.storage.session_folder import EVIDENCE_DIR, REPORT_DIR
from sqlalchemy import select
from sqlalchemy.orm import Session

from proctorbot.context import AppContext

RETENTION_NOTE = "retention.json"


@dataclass
class SessionPurge:
    session_id: str
    deleted: list[str] = field(default_factory=list)
    bytes_deleted: int = 0
    held: bool = False


@dataclass
class RetentionResult:
    purged: list[SessionPurge] = field(default_factory=list)
    held: list[str] = field(default_factory=list)

    @property
    def files_deleted(self) -> int:
        return sum(len(p.deleted) for p in self.purged)


def active_hold(db: Session, session_id: str) -> LegalHold | None:
    return db.scalar(
        select(LegalHold)
        .where(LegalHold.session_id == session_id, LegalHold.released_at.is_(None))
        .order_by(LegalHold.placed_at.desc())
    )


def place_hold(
    db: Session, session_id: str, reason: str, *, person_id: str | None = None
) -> LegalHold:
    existing = active_hold(db, session_id)
    if existing is not None:
        return existing
    hold = LegalHold(session_id=session_id, reason=reason.strip() or "appeal", placed_by=person_id)
    db.add(hold)
    session = db.get(ExamSession, session_id)
    audit(
        db,
        "legal_hold",
        "placed",
        organization_id=session.organization_id if session else None,
        person_id=person_id,
        session_id=session_id,
        detail=hold.reason,
    )
    db.flush()
    return hold


def release_hold(
    db: Session, session_id: str, *, person_id: str | None = None, now: dt.datetime | None = None
) -> bool:
    hold = active_hold(db, session_id)
    if hold is None:
        return False
    hold.released_at = now or utcnow()
    session = db.get(ExamSession, session_id)
    audit(
        db,
        "legal_hold",
        "released",
        organization_id=session.organization_id if session else None,
        person_id=person_id,
        session_id=session_id,
        detail=hold.reason,
    )
    db.flush()
    return True


def _media_files(folder: Path) -> list[Path]:
    """Recordings: media in the folder and in its sub-folders, except the report's own."""
    found = []
    for path in folder.rglob("*"):
        if not path.is_file() or path.suffix.lower() not in MEDIA_SUFFIXES:
            continue
        relative = path.relative_to(folder)
        if relative.parts[0] in (REPORT_DIR, EVIDENCE_DIR):
            continue
        found.append(path)
    return sorted(found)


def _delete(paths: list[Path], folder: Path, purge: SessionPurge) -> None:
    for path in paths:
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            continue
        purge.deleted.append(str(path.relative_to(folder)))
        purge.bytes_deleted += size


def purge_session(folder: Path, *, recordings: bool, evidence: bool) -> SessionPurge:
    purge = SessionPurge(session_id=folder.name)
    if evidence and (folder / EVIDENCE_DIR).is_dir():
        files = sorted(p for p in (folder / EVIDENCE_DIR).rglob("*") if p.is_file())
        _delete(files, folder, purge)
        shutil.rmtree(folder / EVIDENCE_DIR, ignore_errors=True)
    if recordings:
        _delete(_media_files(folder), folder, purge)
    return purge


def run_retention(ctx: AppContext, *, now: dt.datetime | None = None) -> RetentionResult:
    """Delete what is past its period in every session; safe to run as often as wanted."""
    now = now or utcnow()
    result = RetentionResult()
    with ctx.db() as db:
        sessions = db.scalars(select(ExamSession).where(ExamSession.ends_at < now)).all()
        for session in sessions:
            folder = ctx.settings.recordings_dir / session.id
            if not folder.is_dir():
                continue
            profile = session_profile(session, ctx.settings.default_profile)
            ended = session.finished_at or session.ends_at
            age_days = (now - ended).total_seconds() / 86400
            recordings_due = age_days >= profile.retention.recordings_days
            evidence_due = age_days >= profile.retention.evidence_days
            keep_local = ctx.settings.archive.keep_local_days
            if keep_local > 0 and age_days >= keep_local and archive_verified(folder):
                recordings_due = evidence_due = True  # the store holds them, verified
            if not (recordings_due or evidence_due):
                continue
            if profile.retention.legal_hold_on_appeal and active_hold(db, session.id):
                if _media_files(folder) or (folder / EVIDENCE_DIR).is_dir():
                    result.held.append(session.id)
                    audit(
                        db,
                        "retention",
                        "held",
                        organization_id=session.organization_id,
                        session_id=session.id,
                        detail="legal hold: files kept",
                    )
                continue
            purge = purge_session(folder, recordings=recordings_due, evidence=evidence_due)
            if not purge.deleted:
                continue
            result.purged.append(purge)
            _record(db, session, purge, now)
            _write_note(folder, purge, now)
        db.commit()
    return result


def _record(db: Session, session: ExamSession, purge: SessionPurge, now: dt.datetime) -> None:
    row = db.get(RetentionPurge, session.id)
    if row is None:
        row = RetentionPurge(session_id=session.id, purged_at=now, files_deleted=0, bytes_deleted=0)
        db.add(row)
    row.purged_at = now
    row.files_deleted += len(purge.deleted)
    row.bytes_deleted += purge.bytes_deleted
    audit(
        db,
        "retention",
        "deleted",
        organization_id=session.organization_id,
        session_id=session.id,
        target=f"{len(purge.deleted)} files",
        detail=", ".join(purge.deleted)[:4000],
    )


def _write_note(folder: Path, purge: SessionPurge, now: dt.datetime) -> None:
    """Leave a note in the folder so a later report says why the recordings are gone."""
    note = folder / RETENTION_NOTE
    previous = []
    if note.is_file():
        try:
            previous = json.loads(note.read_text()).get("deleted", [])
        except ValueError:
            previous = []
    note.write_text(
        json.dumps({"purged_at": now.isoformat(), "deleted": previous + purge.deleted}, indent=2)
    )
