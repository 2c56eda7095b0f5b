"""Stretches of third-party or overlapped speech as the voice detector finds them: windows
that merge into one finding, confirmed (emitted once) when enough of them agree."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from proctorbot.detection.events import EventKind


@dataclass
class Finding:
    """A stretch of third-party or overlapped speech, times in seconds from the track start."""

    kind: EventKind
    start: float
    end: float
    scores: list[float] = field(default_factory=list)
    emitted: bool = False
    firm: int = 0  # windows free of the examiner's voice; a finding needs one to be emitted

    @property
    def score(self) -> float:
        return float(np.mean(self.scores)) if self.scores else 0.0

    def to_json(self) -> dict[str, float]:
        return {
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "score": round(self.score, 3),
        }


def extend_findings(
    findings: list[Finding],
    kind: EventKind,
    start: float,
    end: float,
    score: float,
    *,
    merge_gap: float,
    confirm: int,
    firm: bool = True,
) -> Finding | None:
    """Add a window [start, end) to the newest finding (within ``merge_gap``) or open a new
    one; the finding when this window confirms it (``confirm`` windows, one of them firm),
    once, else None."""
    last = findings[-1] if findings else None
    if last is not None and start <= last.end + merge_gap and last.end >= start - merge_gap:
        last.end = max(last.end, end)
        last.scores.append(score)
    else:
        last = Finding(kind, start, end, [score])
        findings.append(last)
    last.firm += firm
    if not last.emitted and len(last.scores) >= confirm and last.firm:
        last.emitted = True
        return last
    return None


def findings_in_session(items: list[Finding], offset: float) -> list[dict[str, float]]:
    """``items`` as JSON with times moved by ``offset`` (track start → session start)."""
    return [
        {
            "start": round(f.start + offset, 3),
            "end": round(f.end + offset, 3),
            "score": round(f.score, 3),
        }
        for f in items
    ]
