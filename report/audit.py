"""One line per access to exam materials, allowed or refused [000 §9.2, 001 §1.9]."""

from __future__ import annotations

from proctorbot.report.tables import AuditEntry
from sqlalchemy.orm import Session


def audit(
    db: Session,
    action: str,
    outcome: str,
    *,
    organization_id: str | None = None,
    person_id: str | None = None,
    session_id: str | None = None,
    target: str = "",
    detail: str = "",
    remote: str = "",
) -> AuditEntry:
    """Add an audit line to the caller's transaction (the caller commits)."""
    entry = AuditEntry(
        action=action,
        outcome=outcome,
        organization_id=organization_id,
        person_id=person_id,
        session_id=session_id,
        target=target[:500],
        detail=detail,
        remote=remote[:100],
    )
    db.add(entry)
    return entry
