"""Room scan: how far the camera turned during the sweep, and who was seen.

Frame to frame, corner features are tracked with pyramidal Lucas-Kanade and a
RANSAC similarity transform gives the image shift; a shift of ``dx`` pixels is a
rotation of ``atan(dx / f)`` with ``f`` from the camera's horizontal field of view
(a webcam: ~60 degrees). The covered angle is the span of headings seen plus one
field of view; a pan back and forth does not count twice.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import cv2
import numpy as np
from proctorbot.detection.faces import FaceAnalyzer
from proctorbot.detection.image_input import as_bgr


@dataclass
class RoomScanResult:
    covered_deg: float
    coverage: float  # covered / 360
    heading_min_deg: float
    heading_max_deg: float
    frames: int
    lost_frames: int  # frame pairs where the motion could not be measured
    max_faces: int
    face_sightings: list[tuple[float, int]] = field(default_factory=list)  # (t, faces in frame)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("covered_deg", "coverage", "heading_min_deg", "heading_max_deg"):
            data[key] = round(data[key], 3 if key == "coverage" else 1)
        data["face_sightings"] = [[round(t, 2), n] for t, n in self.face_sightings]
        return data


class RoomScanTracker:
    """Fed (t, frame) during the sweep; ``result()`` at any time."""

    def __init__(
        self,
        horizontal_fov_deg: float = 60.0,
        analyzer: FaceAnalyzer | None = None,
        face_interval_s: float = 0.5,
        work_width: int = 320,
    ) -> None:
        self.fov = horizontal_fov_deg
        self.analyzer = analyzer or FaceAnalyzer()
        self.face_interval_s = face_interval_s
        self.work_width = work_width
        self.heading = 0.0
        self.heading_min = 0.0
        self.heading_max = 0.0
        self.frames = 0
        self.lost = 0
        self.max_faces = 0
        self.sightings: list[tuple[float, int]] = []
        self._previous: np.ndarray | None = None
        self._last_face_t = -1e9

    def feed(self, t: float, frame: np.ndarray) -> None:
        frame = as_bgr(frame)
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        scale = self.work_width / gray.shape[1]
        small = cv2.resize(
            gray,
            (self.work_width, max(8, int(gray.shape[0] * scale))),
            interpolation=cv2.INTER_AREA,
        )
        focal = (self.work_width / 2) / math.tan(math.radians(self.fov / 2))
        if self._previous is not None and self._previous.shape == small.shape:
            dx = horizontal_shift(self._previous, small)
            if dx is None:
                self.lost += 1
            else:
                # Content moving left (dx < 0) = the camera turning right (heading up).
                self.heading += math.degrees(math.atan(-dx / focal))
                self.heading_min = min(self.heading_min, self.heading)
                self.heading_max = max(self.heading_max, self.heading)
        self._previous = small
        self.frames += 1
        if t - self._last_face_t >= self.face_interval_s:
            self._last_face_t = t
            count = len(self.analyzer.detect(frame))
            self.max_faces = max(self.max_faces, count)
            if count:
                self.sightings.append((t, count))

    def result(self) -> RoomScanResult:
        span = self.heading_max - self.heading_min
        covered = min(360.0, span + self.fov) if self.frames else 0.0
        return RoomScanResult(
            covered_deg=covered,
            coverage=covered / 360.0,
            heading_min_deg=self.heading_min,
            heading_max_deg=self.heading_max,
            frames=self.frames,
            lost_frames=self.lost,
            max_faces=self.max_faces,
            face_sightings=list(self.sightings),
        )


def horizontal_shift(previous: np.ndarray, current: np.ndarray) -> float | None:
    """Horizontal image shift (pixels) from ``previous`` to ``current``, or None if unmeasurable."""
    points = cv2.goodFeaturesToTrack(previous, maxCorners=200, qualityLevel=0.01, minDistance=6)
    if points is not None and len(points) >= 8:
        moved, status, _ = cv2.calcOpticalFlowPyrLK(
            previous, current, points, None, winSize=(21, 21), maxLevel=3
        )
        good = status.ravel() == 1
        if good.sum() >= 8:
            matrix, inliers = cv2.estimateAffinePartial2D(
                points[good], moved[good], method=cv2.RANSAC, ransacReprojThreshold=2.0
            )
            if matrix is not None and inliers is not None and inliers.sum() >= 6:
                return float(matrix[0, 2])
    # Few corners (a plain wall): phase correlation of the whole image.
    (dx, _), response = cv2.phaseCorrelate(previous.astype(np.float64), current.astype(np.float64))
    return float(dx) if response > 0.05 else None
