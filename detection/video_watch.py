"""The live video watcher: fed ``(t, BGR frame)`` at a few fps, emits DetectorEvents.

Each rule is a condition per frame (two faces, no face, head turned, ...) kept by a
``ConditionSpan``: a span opens on the first frame the condition holds and closes on
the first frame it does not; spans shorter than the rule's minimum are dropped. The
numbers come from ``VideoThresholds``, which the rule profile fills.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from proctorbot.detection.events import DetectorEvent, EventKind
from proctorbot.detection.faces import FaceAnalyzer
from proctorbot.detection.frame_analysis import FrameAnalysis, analyze_frame
from proctorbot.detection.frame_conditions import (
    Conditions,
    EmptySeat,
    IdentityCheck,
    face_conditions,
    picture_conditions,
)
from proctorbot.detection.image_input import as_bgr
from proctorbot.detection.lighting import LightingThresholds
from proctorbot.detection.live_faces import LiveFaceFinder, LiveFaceSettings


@dataclass(frozen=True)
class VideoThresholds:
    """Numbers of the video rules; the rule profile sets them (defaults follow the seeds)."""

    max_faces: int = 1
    extra_person_min_s: float = 1.0
    absence_min_s: float = 2.0  # shorter gaps (a blink of the detector) are not counted
    absence_total_limit_s: float = 300.0  # 5 min in total [004 §4.8]
    min_face_height_share: float = 0.10  # face box height / frame height [001 §4.3: 10 %]
    face_small_min_s: float = 5.0
    look_away_limit_s: float = 5.0  # [002 §7]
    glance_min_s: float = 1.0  # shorter turns are not reported; between this and the limit = glance
    max_yaw_ratio: float = 0.22  # nose offset from the face midline / face width
    max_yaw_deg: float = 40.0
    max_pitch_up_deg: float = 25.0
    max_pitch_down_deg: float = 40.0
    covered_min_s: float = 3.0
    min_eye_visibility: float = 0.35
    lighting_min_s: float = 5.0
    black_min_s: float = 3.0
    frozen_min_s: float = 10.0
    frozen_max_difference: float = 0.25  # mean abs luma change (0-255) of a frozen picture
    replaced_distance: float = 0.6  # dlib encodings: same person < 0.6
    replaced_min_s: float = 3.0
    identity_interval_s: float = 5.0  # an encoding costs ~75 ms: not on every frame
    small_face_search_s: float = 3.0  # when no face: search again for small faces this often
    lighting: LightingThresholds = field(default_factory=LightingThresholds)
    faces: LiveFaceSettings = field(default_factory=LiveFaceSettings)

    @classmethod
    def from_profile(cls, thresholds: Any, **overrides: Any) -> VideoThresholds:
        """From a rule profile's ``Thresholds`` (config/profiles.py).

        Only the numbers that change what the detector reports are taken; how long an
        episode must last to count is the rule engine's decision, so detector minimums
        stay short. The profile's ``min_face_share`` is read as the face's *height*
        share: a dlib face box (brows to chin) covers only 5-10 % of a webcam frame's
        area even when the student sits normally.
        """
        values: dict[str, Any] = {}
        for ours, theirs in (
            ("absence_total_limit_s", "away_total_seconds"),
            ("min_face_height_share", "min_face_share"),
            ("look_away_limit_s", "look_away_seconds"),
        ):
            if getattr(thresholds, theirs, None) is not None:
                values[ours] = float(getattr(thresholds, theirs))
        values.update(overrides)
        return cls(**values)


@dataclass
class ConditionSpan:
    """An open span of one condition and what the frames inside it said.

    Its first frame is kept in memory and written as evidence only once the span lasts
    long enough to count (a 3-s freeze leaves no snapshot behind)."""

    start: float
    last: float
    frames: int = 1
    peak: float = 0.0
    evidence: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
    first_frame: np.ndarray | None = None
    reported_end: float | None = None  # the end last handed out by ``growing``


class VideoWatcher:
    """Watches one participant's camera; ``feed`` returns the events that just closed."""

    def __init__(
        self,
        thresholds: VideoThresholds | None = None,
        analyzer: FaceAnalyzer | None = None,
        track: str = "",
        evidence_dir: Path | None = None,
        evidence_prefix: str = "evidence",
    ) -> None:
        self.thresholds = thresholds or VideoThresholds()
        self.analyzer = analyzer or FaceAnalyzer()
        self.track = track
        self.evidence_dir = Path(evidence_dir) if evidence_dir else None
        self.evidence_prefix = evidence_prefix
        self.total_absent_s = 0.0
        self.glances = 0
        self.frames_seen = 0
        self.last_analysis: FrameAnalysis | None = None
        self._open: dict[EventKind, ConditionSpan] = {}
        self._previous: np.ndarray | None = None
        self._last_t: float | None = None
        self._last_deep_t = -1e9
        self._small_face_seen = False
        self._finder = LiveFaceFinder(self.analyzer, self.thresholds.faces)
        self._empty_seat = EmptySeat(self.analyzer)
        self._identity = IdentityCheck(self.analyzer, self.thresholds)

    # -- identity ------------------------------------------------------------
    @property
    def enrolled(self) -> np.ndarray | None:
        """The identified student's face encoding, once enrolled."""
        return self._identity.enrolled

    def enroll(self, encoding: np.ndarray) -> None:
        """The identified student's face encoding (from the ID step); enables PERSON_REPLACED."""
        self._identity.enrolled = np.asarray(encoding, dtype=np.float64)

    def enroll_from_frame(self, frame: np.ndarray) -> bool:
        encoding = self.analyzer.encode_largest(as_bgr(frame), thorough=False)
        if encoding is None:
            return False
        self.enroll(encoding)
        return True

    @property
    def active(self) -> dict[EventKind, float]:
        """Conditions holding right now and since when (for live prompts)."""
        return {kind: span.start for kind, span in self._open.items()}

    # -- frames --------------------------------------------------------------
    def feed(self, t: float, frame: np.ndarray) -> list[DetectorEvent]:
        frame = as_bgr(frame)
        th = self.thresholds
        faces = self._finder.find(frame, t)
        analysis = analyze_frame(
            self.analyzer, frame, thorough=False, lighting=th.lighting, faces=faces
        )
        if self._finder.last_fallback:
            analysis.extra["found_by"] = self._finder.last_fallback
        if analysis.face_count == 0 and t - self._last_deep_t >= th.small_face_search_s:
            # The live pass finds faces >= ~80 px; look for a small (far) face now and then.
            self._last_deep_t = t
            analysis = analyze_frame(
                self.analyzer, frame, thorough=False, lighting=th.lighting, upsample=1
            )
            self._small_face_seen = analysis.face_count > 0
        elif analysis.face_count == 0 and self._small_face_seen:
            analysis.extra["small_face_assumed"] = True
        elif analysis.face_count > 0:
            self._small_face_seen = False
        self.last_analysis = analysis
        self.frames_seen += 1
        conditions = self._conditions(t, frame, analysis)
        self._previous = frame

        events: list[DetectorEvent] = []
        for kind in list(self._open):
            if kind not in conditions:
                events.extend(self._close(kind, t))
        for kind, (score, details) in conditions.items():
            span = self._open.get(kind)
            if span is None:
                span = ConditionSpan(
                    start=t, last=t, peak=score, details=dict(details), first_frame=frame
                )
                self._open[kind] = span
            else:
                span.last = t
                span.frames += 1
                span.peak = max(span.peak, score)
                span.details.update(details)
        self._last_t = t
        return events

    def _conditions(self, t: float, frame: np.ndarray, analysis: FrameAnalysis) -> Conditions:
        """Every condition the frame shows, in a fixed order (spans open in this order)."""
        conditions = picture_conditions(analysis, frame, self._previous, self.thresholds)
        if EventKind.BLACK_VIDEO in conditions:
            return conditions
        if analysis.face_count == 0 and analysis.extra.get("small_face_assumed"):
            # Between two deep searches: the far face is still taken to be there.
            conditions[EventKind.FACE_TOO_SMALL] = (1.0, {"small_face_assumed": True})
        elif analysis.face_count == 0:
            conditions.update(self._empty_seat.conditions(t, frame))
        else:
            conditions.update(face_conditions(analysis, self.thresholds))
            conditions.update(self._identity.conditions(t, frame, analysis))
        return conditions

    # -- spans → events --------------------------------------------------------
    def _min_duration(self, kind: EventKind) -> float:
        th = self.thresholds
        return {
            EventKind.EXTRA_PERSON: th.extra_person_min_s,
            EventKind.FACE_ABSENT: th.absence_min_s,
            EventKind.FACE_TOO_SMALL: th.face_small_min_s,
            EventKind.LOOKING_AWAY: th.glance_min_s,
            EventKind.FACE_COVERED: th.covered_min_s,
            EventKind.TOO_DARK: th.lighting_min_s,
            EventKind.BACKLIT: th.lighting_min_s,
            EventKind.BLACK_VIDEO: th.black_min_s,
            EventKind.FROZEN_VIDEO: th.frozen_min_s,
            EventKind.PERSON_REPLACED: th.replaced_min_s,
        }.get(kind, 0.0)

    def growing(self, t: float, every_s: float = 5.0) -> list[DetectorEvent]:
        """Conditions still holding that already count: an event (ending at ``t``,
        ``details.open`` = True) the first time a span reaches its minimum length — so
        it is alerted while it lasts, not when it ends — then each time it has grown by
        ``every_s`` (a crash loses at most that much of it). The span's closing event
        has the same start: the rule engine merges them into one finding."""
        events = []
        for kind, span in self._open.items():
            if t - span.start < self._min_duration(kind):
                continue
            if span.reported_end is not None and t - span.reported_end < every_s:
                continue
            span.reported_end = t
            self._keep_evidence(kind, span)
            details = {**span.details, "frames": span.frames, "open": True}
            events.append(
                DetectorEvent(
                    kind=kind,
                    start=round(span.start, 3),
                    end=round(t, 3),
                    score=round(float(span.peak), 3),
                    track=self.track,
                    evidence=span.evidence,
                    details=details,
                )
            )
        return events

    def _keep_evidence(self, kind: EventKind, span: ConditionSpan) -> None:
        if not span.evidence and span.first_frame is not None:
            span.evidence = self._save_evidence(kind, span.start, span.first_frame)
        span.first_frame = None

    def _close(self, kind: EventKind, end: float) -> list[DetectorEvent]:
        span = self._open.pop(kind)
        duration = end - span.start
        if duration < self._min_duration(kind):
            return []
        self._keep_evidence(kind, span)
        details = dict(span.details)
        details["frames"] = span.frames
        score = span.peak
        th = self.thresholds
        if kind is EventKind.FACE_ABSENT:
            self.total_absent_s += duration
            details.update(
                total_absent_s=round(self.total_absent_s, 2),
                limit_s=th.absence_total_limit_s,
                over_limit=self.total_absent_s > th.absence_total_limit_s,
            )
            # A zero allowance (examus-like: leaving the camera is never allowed) scores 1.
            score = _share_of_limit(self.total_absent_s, th.absence_total_limit_s)
        elif kind is EventKind.LOOKING_AWAY:
            glance = duration < th.look_away_limit_s
            self.glances += int(glance)
            details.update(glance=glance, limit_s=th.look_away_limit_s, glances=self.glances)
            score = _share_of_limit(duration, th.look_away_limit_s)
        return [
            DetectorEvent(
                kind=kind,
                start=round(span.start, 3),
                end=round(end, 3),
                score=round(float(score), 3),
                track=self.track,
                evidence=span.evidence,
                details=details,
            )
        ]

    def finish(self, t: float | None = None) -> list[DetectorEvent]:
        """Close every open span (end of the session or of the track)."""
        end = t if t is not None else (self._last_t or 0.0)
        events: list[DetectorEvent] = []
        for kind in list(self._open):
            events.extend(self._close(kind, end))
        return events

    def _save_evidence(self, kind: EventKind, t: float, frame: np.ndarray) -> tuple[str, ...]:
        if self.evidence_dir is None:
            return ()
        self.evidence_dir.mkdir(parents=True, exist_ok=True)
        name = f"{self.track or 'video'}_{kind}_{t:09.2f}.jpg"
        cv2.imwrite(str(self.evidence_dir / name), frame, [cv2.IMWRITE_JPEG_QUALITY, 85])
        return (f"{self.evidence_prefix}/{name}",)


def watch_frames(
    frames: Iterable[tuple[float, np.ndarray]], watcher: VideoWatcher | None = None
) -> list[DetectorEvent]:
    """Run a watcher over (t, frame) pairs (a file, a test) and return every event."""
    watcher = watcher or VideoWatcher()
    events: list[DetectorEvent] = []
    last_t = 0.0
    for t, frame in frames:
        events.extend(watcher.feed(t, frame))
        last_t = t
    events.extend(watcher.finish(last_t))
    return sorted(events, key=lambda e: (e.start, str(e.kind)))


async def watch_live(
    frames: AsyncIterable[tuple[float, np.ndarray]],
    watcher: VideoWatcher,
    emit: Callable[[DetectorEvent], object],
) -> None:
    """The bot's loop: ``async for`` over ``bot.video_frames(peer, fps)``, analysis off the
    event loop, each closed event passed to ``emit`` (e.g. ``bot.emit``) as it happens."""
    last_t = 0.0
    try:
        async for t, frame in frames:
            for event in await asyncio.to_thread(watcher.feed, t, frame):
                emit(event)
            last_t = t
    finally:
        for event in watcher.finish(last_t):
            emit(event)


def _share_of_limit(value: float, limit: float) -> float:
    """How much of a limit is used, capped at 1; any amount over a zero limit is 1."""
    if limit <= 0:
        return 1.0 if value > 0 else 0.0
    return min(1.0, value / limit)
