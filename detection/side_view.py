"""The phone's side view (the student's second camera): another person beside the student,
and whether the phone shows anything at all.

The side view shows the student from the side, the desk and the hands; the student's own
face may or may not be in it. Two faces or more mean someone else is there: an
``extra_person`` condition on the phone's own track (``<role>-<id>-phone``), judged by the
same rule as on the laptop's camera (``third_party_min_seconds``). The frame where it
began is kept as evidence.

A phone that stays in the call but shows nothing (put face down, covered: black; its
camera stuck: frozen) is no side view either. Those are ``black_video`` /
``frozen_video`` on the phone's track, judged by the same picture test as the laptop's
camera (``frame_conditions.picture_conditions``); the rule engine counts them against
the phone's own allowance (``phone_away``), never as the student's video interruption.
A person beside the student whose face the phone does not see is beyond this watcher.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from proctorbot.detection.events import DetectorEvent, EventKind
from proctorbot.detection.frame_analysis import FrameAnalysis
from proctorbot.detection.frame_conditions import picture_conditions
from proctorbot.detection.frame_detectors import ConditionSpans
from proctorbot.detection.lighting import assess_lighting
from proctorbot.detection.video_watch import VideoThresholds

# What of the picture test counts on the phone: nothing to see. Too dark or backlit is
# the laptop camera's concern (the face), not the side view's.
NO_PICTURE_KINDS = (EventKind.BLACK_VIDEO, EventKind.FROZEN_VIDEO)


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
        picture: VideoThresholds | None = None,
    ) -> None:
        self.analyzer = analyzer
        self.track = track
        self.spans = ConditionSpans(
            EventKind.EXTRA_PERSON, track, min_seconds, extent_every_s=extent_every_s
        )
        self.picture = picture or VideoThresholds()
        minimum = {
            EventKind.BLACK_VIDEO: self.picture.black_min_s,
            EventKind.FROZEN_VIDEO: self.picture.frozen_min_s,
        }
        self.picture_spans = {
            kind: ConditionSpans(kind, track, minimum[kind], extent_every_s=extent_every_s)
            for kind in NO_PICTURE_KINDS
        }
        self.evidence_dir = evidence_dir
        self.evidence_prefix = evidence_prefix
        self.evidence: tuple[str, ...] = ()
        self._previous: np.ndarray | None = None

    def feed(self, t: float, frame: np.ndarray) -> list[DetectorEvent]:
        conditions = self._picture(frame)
        events: list[DetectorEvent] = []
        for kind, spans in self.picture_spans.items():
            score_details = conditions.get(kind)
            events += spans.update(t, score_details is not None, (score_details or (0, {}))[1])
        if EventKind.BLACK_VIDEO in conditions:  # nothing to look for faces in
            return events + self._with_evidence(self.spans.update(t, False))
        faces = self.analyzer.detect(frame)
        holds = len(faces) >= 2
        if holds and self.spans.start is None:
            self.evidence = (self._save(t, frame),)
        details = {"faces": len(faces), "view": "side"} if holds else None
        return events + self._with_evidence(self.spans.update(t, holds, details))

    def growing(self, t: float, every_s: float) -> list[DetectorEvent]:
        return []  # ConditionSpans reports a growing condition by itself

    def finish(self, t: float | None) -> list[DetectorEvent]:
        if t is None:
            return []
        events = [event for spans in self.picture_spans.values() for event in spans.finish(t)]
        return events + self._with_evidence(self.spans.finish(t))

    def _picture(self, frame: np.ndarray) -> dict[EventKind, tuple[float, dict[str, Any]]]:
        height, width = frame.shape[:2]
        lighting = assess_lighting(frame, thresholds=self.picture.lighting)
        analysis = FrameAnalysis(width=width, height=height, faces=[], lighting=lighting)
        conditions = picture_conditions(analysis, frame, self._previous, self.picture)
        self._previous = frame
        return {kind: value for kind, value in conditions.items() if kind in NO_PICTURE_KINDS}

    def _with_evidence(self, events: list[DetectorEvent]) -> list[DetectorEvent]:
        return [replace(event, evidence=self.evidence) for event in events]

    def _save(self, t: float, frame: np.ndarray) -> str:
        self.evidence_dir.mkdir(parents=True, exist_ok=True)
        name = f"{self.track}-extra-person-{t:08.1f}.jpg"
        cv2.imwrite(str(self.evidence_dir / name), frame, [cv2.IMWRITE_JPEG_QUALITY, 85])
        return f"{self.evidence_prefix}/{name}"
