"""The examiner's decisions on findings: accept, or dismiss with a reason (kept forever)."""

from __future__ import annotations

from proctorbot.report.tables import FindingDecision
from proctorbot.rules.findings import Decision
from sqlalchemy import select
from sqlalchemy.orm import Session

DECISIONS = ("accepted", "dismissed")


class DecisionError(ValueError):
    """A decision that cannot be recorded (unknown kind, dismissal without a reason)."""


def record_decision(
    db: Session,
    *,
    session_id: str,
    finding_id: str,
    decision: str,
    reason: str = "",
    decided_by: str | None = None,
) -> FindingDecision:
    """Add a decision; earlier ones stay in the table as history."""
    if decision not in DECISIONS:
        raise DecisionError(f"unknown decision {decision!r}; use one of {DECISIONS}")
    reason = reason.strip()
    if decision == "dismissed" and not reason:
        raise DecisionError("a dismissal needs a reason")
    row = FindingDecision(
        session_id=session_id,
        finding_id=finding_id,
        decision=decision,
        reason=reason,
        decided_by=decided_by,
    )
    db.add(row)
    db.flush()
    return row


def current_decisions(db: Session, session_id: str) -> dict[str, Decision]:
    """The latest decision per finding."""
    rows = db.scalars(
        select(FindingDecision)
        .where(FindingDecision.session_id == session_id)
        .order_by(FindingDecision.decided_at, FindingDecision.id)
    )
    latest: dict[str, Decision] = {}
    for row in rows:
        latest[row.finding_id] = Decision(
            finding_id=row.finding_id,
            decision=row.decision,
            reason=row.reason,
            decided_by=row.decided_by or "",
            decided_at=row.decided_at.isoformat(),
        )
    return latest
