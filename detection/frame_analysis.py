"""One frame, everything the watcher and ``analyze-image`` need to know about it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from proctorbot.detection.face_cover import LowerFaceCover, assess_lower_face
from proctorbot.detection.faces import Face, FaceAnalyzer, largest_face
from proctorbot.detection.head_pose import (
    HeadPose,
    estimate_head_pose,
    eye_visibility,
    landmark_yaw_ratio,
)
from proctorbot.detection.lighting import LightingReport, LightingThresholds, assess_lighting

# The lower face is judged only on a roughly frontal head (strongly turned heads,
# |ratio| ~0.55, get landmarks beside the mouth; the watcher's looking-away limit is 0.22).
LOWER_FACE_MAX_YAW_RATIO = 0.3


@dataclass
class FrameAnalysis:
    width: int
    height: int
    faces: list[Face]
    lighting: LightingReport
    main_face: Face | None = None
    pose: HeadPose | None = None
    yaw_ratio: float | None = None
    eye_visibility: float | None = None
    lower_face: LowerFaceCover | None = None  # None: not assessed (no face, turned, too dark)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def lower_face_covered(self) -> bool:
        return self.lower_face is not None and self.lower_face.covered

    @property
    def face_count(self) -> int:
        return len(self.faces)

    @property
    def face_share(self) -> float:
        """Area of the main face box over the frame area."""
        if self.main_face is None:
            return 0.0
        return self.main_face.box.area / float(self.width * self.height)

    @property
    def face_height_share(self) -> float:
        """Height of the main face box (brows to chin) over the frame height."""
        if self.main_face is None:
            return 0.0
        return self.main_face.box.height / float(self.height)

    def to_json(self) -> dict[str, Any]:
        light = self.lighting
        return {
            "faces": self.face_count,
            "face_boxes": [f.box.as_list() for f in self.faces],
            "face_scores": [round(f.score, 3) for f in self.faces],
            "face_sources": [f.source for f in self.faces],
            "width": self.width,
            "height": self.height,
            "face_share": round(self.face_share, 4),
            "face_height_share": round(self.face_height_share, 4),
            "brightness": round(light.brightness, 2),
            "contrast": round(light.contrast, 2),
            "too_dark": light.too_dark,
            "backlit": light.backlit,
            "light_into_camera": light.light_into_camera,
            "black": light.black,
            "head_pose": None
            if self.pose is None
            else {k: round(getattr(self.pose, k), 1) for k in ("yaw", "pitch", "roll")},
            "yaw_ratio": None if self.yaw_ratio is None else round(self.yaw_ratio, 3),
            "eye_visibility": None
            if self.eye_visibility is None
            else round(self.eye_visibility, 3),
            "lower_face_covered": self.lower_face_covered,
            "lower_face_cover_score": None
            if self.lower_face is None
            else round(self.lower_face.score, 3),
        }


def analyze_frame(
    analyzer: FaceAnalyzer,
    frame: np.ndarray,
    thorough: bool = False,
    lighting: LightingThresholds | None = None,
    upsample: int | None = None,
    faces: list[Face] | None = None,
) -> FrameAnalysis:
    """Faces, main-face pose, eyes and lower face, and lighting of one BGR frame.

    ``faces`` already found (the live watcher's own search) skip the detection.
    """
    height, width = frame.shape[:2]
    if faces is None:
        faces = analyzer.detect(frame, thorough=thorough, upsample=upsample)
    frontal = [f for f in faces if f.source == "hog"]
    main = largest_face(frontal) or largest_face(faces)
    result = FrameAnalysis(
        width=width,
        height=height,
        faces=faces,
        lighting=assess_lighting(frame, main.box if main else None, lighting),
        main_face=main,
    )
    if main is not None and (main.source in ("hog", "kept") or main.landmarks is not None):
        landmarks = analyzer.add_landmarks(frame, main)
        result.pose = estimate_head_pose(landmarks, (width, height))
        # A face found in a rotated pass is judged as HOG saw it: turned upright.
        result.yaw_ratio = landmark_yaw_ratio(_turned(landmarks, main.angle))
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        result.eye_visibility = eye_visibility(gray, landmarks)
        if abs(result.yaw_ratio) <= LOWER_FACE_MAX_YAW_RATIO:
            # A turned head's landmarks miss the mouth: not assessed (looking away wins).
            result.lower_face = assess_lower_face(frame, landmarks)
    return result


def _turned(points: np.ndarray, angle: float) -> np.ndarray:
    """Points turned by ``angle`` degrees the way cv2.getRotationMatrix2D turns an image."""
    if not angle:
        return points
    rotation = cv2.getRotationMatrix2D((0.0, 0.0), angle, 1.0)[:, :2]
    return points @ rotation.T
