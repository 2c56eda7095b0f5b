"""The phone's side view (the student's second camera): another person beside the student.

The side view shows the student from the side, the desk and the hands; the student's own
face may or may not be in it. Two faces or more mean someone else is there: an
``extra_person`` condition on the phone's own track (``<role>-<id>-phone``), judged by the
same rule as on the laptop's camera (``third_party_min_seconds``). The frame where it
began is kept as evidence.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from proctorbot.detection.events import DetectorEvent, EventKind
from proctorbot.detection.frame_detectors import ConditionSpans


class SideViewWatcher:
    """``feed(t, frame)`` / ``growing`` / ``finish`` as ``bot.live_video.StudentVideoWatch``
    expects of a watcher."""

    def __init__(
        self,
        analyzer: Any,  # detection.faces.FaceAnalyzer
        *,
        track: str,
        min_seconds: float,
        evidence_dir: Path,
        evidence_prefix: str = "evidence",
        extent_every_s: float = 5.0,
    ) -> None:
        self.analyzer = analyzer
        self.track = track
        self.spans = ConditionSpans(
            EventKind.EXTRA_PERSON, track, min_seconds, extent_every_s=extent_every_s
        )
        self.evidence_dir = evidence_dir
        self.evidence_prefix = evidence_prefix
        self.evidence: tuple[str, ...] = ()

    def feed(self, t: float, frame: np.ndarray) -> list[DetectorEvent]:
        faces = self.analyzer.detect(frame)
        holds = len(faces) >= 2
        if holds and self.spans.start is None:
            self.evidence = (self._save(t, frame),)
        details = {"faces": len(faces), "view": "side"} if holds else None
        return self._with_evidence(self.spans.update(t, holds, details))

    def growing(self, t: float, every_s: float) -> list[DetectorEvent]:
        return []  # ConditionSpans reports a growing condition by itself

    def finish(self, t: float | None) -> list[DetectorEvent]:
        return [] if t is None else self._with_evidence(self.spans.finish(t))

    def _with_evidence(self, events: list[DetectorEvent]) -> list[DetectorEvent]:
        return [replace(event, evidence=self.evidence) for event in events]

    def _save(self, t: float, frame: np.ndarray) -> str:
        self.evidence_dir.mkdir(parents=True, exist_ok=True)
        name = f"{self.track}-extra-person-{t:08.1f}.jpg"
        cv2.imwrite(str(self.evidence_dir / name), frame, [cv2.IMWRITE_JPEG_QUALITY, 85])
        return f"{self.evidence_prefix}/{name}"
