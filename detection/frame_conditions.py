"""What one analysed camera frame says, rule by rule: each function turns a
``FrameAnalysis`` into the conditions that hold on it (``EventKind`` → score, details).
``VideoWatcher`` (``detection/video_watch.py``) keeps them as spans over time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from proctorbot.detection.events import EventKind
from proctorbot.detection.faces import FaceAnalyzer, face_distance
from proctorbot.detection.frame_analysis import FrameAnalysis
from proctorbot.detection.lighting import frame_difference

if TYPE_CHECKING:
    from proctorbot.detection.video_watch import VideoThresholds

Conditions = dict[EventKind, tuple[float, dict[str, Any]]]
PROFILE_EVERY_S = 1.0  # how often a frame without a face looks for a head seen side-on


def picture_conditions(
    analysis: FrameAnalysis,
    frame: np.ndarray,
    previous: np.ndarray | None,
    th: VideoThresholds,
) -> Conditions:
    """Black, frozen (the same as ``previous``), too dark, backlit."""
    conditions: Conditions = {}
    light = analysis.lighting
    if light.black:
        conditions[EventKind.BLACK_VIDEO] = (1.0, {"brightness": round(light.brightness, 1)})
        return conditions
    if previous is not None:
        diff = frame_difference(previous, frame)
        if diff <= th.frozen_max_difference:
            conditions[EventKind.FROZEN_VIDEO] = (1.0, {"difference": round(diff, 3)})
    if light.too_dark:
        conditions[EventKind.TOO_DARK] = (
            1.0 - light.brightness / 255.0,
            {"brightness": round(light.brightness, 1)},
        )
    elif light.backlit or light.light_into_camera:
        cause = "backlit" if light.backlit else "light_into_camera"
        conditions[EventKind.BACKLIT] = (1.0, {"cause": cause})
    return conditions


def face_conditions(analysis: FrameAnalysis, th: VideoThresholds) -> Conditions:
    """With at least one face: extra person, face too small, looking away, face covered."""
    conditions: Conditions = {}
    count = analysis.face_count
    if count > th.max_faces:
        conditions[EventKind.EXTRA_PERSON] = (
            1.0,
            {"faces": count, "boxes": [f.box.as_list() for f in analysis.faces]},
        )
    share = analysis.face_height_share
    if share < th.min_face_height_share:
        conditions[EventKind.FACE_TOO_SMALL] = (
            1.0 - share / th.min_face_height_share,
            {"face_height_share": round(share, 3)},
        )
    pose = analysis.pose
    turned = analysis.yaw_ratio is not None and abs(analysis.yaw_ratio) > th.max_yaw_ratio
    if pose is not None and (
        abs(pose.yaw) > th.max_yaw_deg
        or pose.pitch > th.max_pitch_down_deg
        or pose.pitch < -th.max_pitch_up_deg - 15.0  # generic model reads ~-12 when frontal
    ):
        turned = True
    if turned:
        conditions[EventKind.LOOKING_AWAY] = (
            1.0,
            {
                "yaw_ratio": None if analysis.yaw_ratio is None else round(analysis.yaw_ratio, 3),
                "yaw": None if pose is None else round(pose.yaw, 1),
                "pitch": None if pose is None else round(pose.pitch, 1),
            },
        )
    else:
        conditions.update(covered_condition(analysis, th))
    return conditions


def covered_condition(analysis: FrameAnalysis, th: VideoThresholds) -> Conditions:
    """Eyes or lower face covered; ``details.part`` says which (eyes, lower_face, both)."""
    eyes = analysis.eye_visibility is not None and analysis.eye_visibility < th.min_eye_visibility
    lower = analysis.lower_face_covered
    if not (eyes or lower):
        return {}
    details: dict[str, Any] = {
        "part": "both" if eyes and lower else "eyes" if eyes else "lower_face"
    }
    score = 0.0
    if analysis.eye_visibility is not None:
        details["eye_visibility"] = round(analysis.eye_visibility, 3)
        if eyes:
            score = 1.0 - analysis.eye_visibility
    if analysis.lower_face is not None:
        details["lower_face_score"] = round(analysis.lower_face.score, 3)
        if lower:
            score = max(score, analysis.lower_face.score)
    return {EventKind.FACE_COVERED: (score, details)}


class EmptySeat:
    """No face found: a head seen side-on (looking away) or nobody (face absent). The
    side-on search is the costliest pass (~110 ms at 480 px): an empty seat keeps its
    answer for ``PROFILE_EVERY_S`` instead of paying it every frame."""

    def __init__(self, analyzer: FaceAnalyzer) -> None:
        self.analyzer = analyzer
        self._looked_at = -1e9
        self._profile_seen = False

    def conditions(self, t: float, frame: np.ndarray) -> Conditions:
        if t - self._looked_at >= PROFILE_EVERY_S:
            self._looked_at = t
            self._profile_seen = bool(self.analyzer.detect_profiles(frame))
        if self._profile_seen:
            return {EventKind.LOOKING_AWAY: (1.0, {"profile": True})}
        return {EventKind.FACE_ABSENT: (1.0, {})}


class IdentityCheck:
    """The main face against the enrolled student's every ``identity_interval_s``; the
    verdict holds between checks (``PERSON_REPLACED`` while it does not match)."""

    def __init__(self, analyzer: FaceAnalyzer, th: VideoThresholds) -> None:
        self.analyzer = analyzer
        self.thresholds = th
        self.enrolled: np.ndarray | None = None
        self._checked_at = -1e9
        self._mismatch = False
        self._distance: float | None = None

    def conditions(self, t: float, frame: np.ndarray, analysis: FrameAnalysis) -> Conditions:
        th = self.thresholds
        main = analysis.main_face
        if self.enrolled is None or main is None or main.source != "hog":
            return {}
        if analysis.lower_face_covered:
            return {}  # a mask or a hand hides what the encoding needs: no verdict either way
        if t - self._checked_at >= th.identity_interval_s:
            self._checked_at = t
            encoding = self.analyzer.add_encoding(frame, main)
            self._distance = face_distance(encoding, self.enrolled)
            self._mismatch = self._distance > th.replaced_distance
        if self._mismatch and self._distance is not None:
            return {
                EventKind.PERSON_REPLACED: (
                    min(1.0, self._distance),
                    {"distance": round(self._distance, 3), "threshold": th.replaced_distance},
                )
            }
        return {}
