"""The rule engine's output: findings with severity, evidence and the reason in words."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

SEVERITY_ORDER = {"note": 0, "minor": 1, "violation": 2, "gross": 3}


@dataclass(frozen=True)
class Finding:
    """One thing the examiner should look at: a span of the session, why, and the proof.

    ``id`` is stable across re-runs of the engine on the same events, so an examiner's
    decision stays attached to its finding when the report is rebuilt.
    """

    id: str
    rule: str  # a SeverityMap field name: away, looking_away, third_party_voice ...
    severity: str  # note | minor | violation | gross
    start: float
    end: float
    track: str
    reason: str  # catalogue key under report.reason
    values: dict[str, Any] = field(default_factory=dict)  # filled into the reason text
    evidence: tuple[str, ...] = ()  # paths relative to the session folder
    event_kinds: tuple[str, ...] = ()
    occurrence: int = 1  # the n-th finding of this rule above the note level

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)

    @property
    def counts(self) -> bool:
        """Notes are context only; they never lower the score or trigger escalation."""
        return self.severity != "note"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rule": self.rule,
            "severity": self.severity,
            "start": self.start,
            "end": self.end,
            "track": self.track,
            "reason": self.reason,
            "values": self.values,
            "evidence": list(self.evidence),
            "event_kinds": list(self.event_kinds),
            "occurrence": self.occurrence,
            "counts": self.counts,
        }


def finding_id(rule: str, track: str, start: float) -> str:
    digest = hashlib.sha1(f"{rule}|{track}|{start:.3f}".encode()).hexdigest()[:10]
    return f"{rule}-{digest}"


@dataclass(frozen=True)
class Decision:
    """The examiner's word on a finding; a dismissal always carries its reason."""

    finding_id: str
    decision: str  # accepted | dismissed
    reason: str = ""
    decided_by: str = ""
    decided_at: str = ""

    @property
    def dismissed(self) -> bool:
        return self.decision == "dismissed"
