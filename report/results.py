"""What the database and the session folder say about sessions: info, summaries, CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from pathlib import Path

from proctorbot.config.profiles import ProfileError, RuleProfile, load_profile
from proctorbot.report.build import SessionInfo
from proctorbot.report.decisions import current_decisions
from proctorbot.report.session_files import checklist_failures, read_session_folder
from proctorbot.rules.engine import evaluate
from proctorbot.rules.score import trust_score
from proctorbot.storage.models import ExamDay, ExamSession, Organization
from proctorbot.storage.session_folder import REPORT_DIR
from proctorbot.storage.session_time import DEFAULT_ZONE, session_zone
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload


@dataclass(frozen=True)
class SessionSummary:
    session_id: str
    title: str
    student: str
    group: str
    starts_at: str
    status: str
    score: int | None
    violations: int
    gross: int
    dismissed: int
    checklist_outcome: str
    verdict: str
    has_report: bool


def load_session(db: Session, session_id: str) -> ExamSession | None:
    return db.scalar(
        select(ExamSession)
        .where(ExamSession.id == session_id)
        .options(selectinload(ExamSession.members))
    )


def session_info(
    db: Session, session: ExamSession, default_zone: str = DEFAULT_ZONE
) -> SessionInfo:
    """``default_zone``: the settings' time zone, for a session without an exam day."""
    students = [m.person for m in session.members if m.role == "student"]
    examiners = tuple(m.person.full_name for m in session.members if m.role == "examiner")
    day = db.get(ExamDay, session.exam_day_id) if session.exam_day_id else None
    organization = db.get(Organization, session.organization_id)
    return SessionInfo(
        title=session.title,
        student_name=", ".join(p.full_name for p in students),
        student_group=", ".join(p.group_name for p in students if p.group_name),
        examiners=examiners,
        organization=organization.name if organization else "",
        starts_at=session.starts_at,
        exam_day=day.title if day else "",
        timezone=session_zone(db, session, default_zone),
    )


def session_profile(session: ExamSession, fallback: str) -> RuleProfile:
    try:
        return load_profile(session.profile)
    except ProfileError:
        return load_profile(fallback)


def summarize(
    db: Session, session: ExamSession, session_dir: Path, fallback_profile: str
) -> SessionSummary:
    """Score and counts without decoding media (fast enough for a whole exam day)."""
    info = session_info(db, session)
    score = None
    violations = gross = dismissed = 0
    outcome = verdict = ""
    if session_dir.is_dir():
        profile = session_profile(session, fallback_profile)
        folder = read_session_folder(session_dir, probe=False)
        findings = evaluate(folder.events, profile)
        decisions = current_decisions(db, session.id)
        required = {s.kind for s in profile.checklist.steps if s.required}
        result = trust_score(
            findings, profile, decisions, checklist_failures(folder.checklist, required)
        )
        score = result.value
        verdict = result.verdict or ""
        for finding in findings:
            if not finding.counts:
                continue
            if finding.id in decisions and decisions[finding.id].dismissed:
                dismissed += 1
            elif finding.severity == "gross":
                gross += 1
            elif finding.severity == "violation":
                violations += 1
        outcome = str((folder.checklist or {}).get("outcome", ""))
    return SessionSummary(
        session_id=session.id,
        title=session.title,
        student=info.student_name,
        group=info.student_group,
        starts_at=session.starts_at.isoformat(),
        status=session.status,
        score=score,
        violations=violations,
        gross=gross,
        dismissed=dismissed,
        checklist_outcome=outcome,
        verdict=verdict,
        has_report=(session_dir / REPORT_DIR / "report.html").is_file(),
    )


CSV_COLUMNS = (
    "session_id",
    "title",
    "student",
    "group",
    "starts_at",
    "status",
    "score",
    "violations",
    "gross",
    "dismissed",
    "checklist_outcome",
    "verdict",
)


def results_csv(summaries: list[SessionSummary]) -> str:
    """UTF-8 with a BOM so spreadsheet programs open Cyrillic names correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for summary in summaries:
        writer.writerow(
            ["" if getattr(summary, c) is None else getattr(summary, c) for c in CSV_COLUMNS]
        )
    return "\ufeff" + buffer.getvalue()


def summary_json(summary: SessionSummary) -> dict:
    return asdict(summary)
