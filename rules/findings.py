"""The rule engine's output: findings with severity, evidence and the reason in words."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pyannote.core import Annotation, Segment

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
    def segment(self) -> Segment:
        return Segment(self.start, self.end)

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


def findings_annotation(findings: Iterable[Finding], uri: str | None = None) -> Annotation:
    """Findings as a pyannote ``Annotation`` labelled by rule (one track per finding), so a
    session's findings meet a hand-labelled reference in pyannote.metrics in one line.
    An instant finding (no duration) has no span there."""
    annotation = Annotation(uri=uri)
    for finding in findings:
        annotation[finding.segment, finding.id] = finding.rule
    return annotation


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
