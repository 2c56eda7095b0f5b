"""Head pose (yaw/pitch/roll) and covered eyes from dlib's 68 landmarks.

Pose: solvePnP of six landmarks against a generic 3-D face, camera focal length
assumed equal to the frame width (a laptop webcam, ~60 degrees field of view).
Covered eyes: landmarks are always placed, even on a hand, so we check that each
eye region has the dark pupil/lashes and the texture of an eye instead of the
flat patch of a hand or sunglasses.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Generic 3-D model points (mm): nose tip, chin, eye corners, mouth corners.
_MODEL_POINTS = np.array(
    [
        (0.0, 0.0, 0.0),
        (0.0, -330.0, -65.0),
        (-225.0, 170.0, -135.0),
        (225.0, 170.0, -135.0),
        (-150.0, -150.0, -125.0),
        (150.0, -150.0, -125.0),
    ],
    dtype=np.float64,
)
_LANDMARK_IDS = [30, 8, 36, 45, 48, 54]


@dataclass(frozen=True)
class HeadPose:
    yaw: float  # degrees, + = turned to the image's right
    pitch: float  # degrees, + = looking down
    roll: float

    def turned_away(self, max_yaw: float = 30.0, max_pitch: float = 25.0) -> bool:
        return abs(self.yaw) > max_yaw or abs(self.pitch) > max_pitch


def estimate_head_pose(landmarks: np.ndarray, frame_size: tuple[int, int]) -> HeadPose | None:
    """Head pose from 68 landmarks; ``frame_size`` is (width, height)."""
    if landmarks is None or len(landmarks) < 68:
        return None
    width, height = frame_size
    image_points = landmarks[_LANDMARK_IDS].astype(np.float64)
    camera = np.array([[width, 0, width / 2], [0, width, height / 2], [0, 0, 1]], dtype=np.float64)
    ok, rvec, _ = cv2.solvePnP(
        _MODEL_POINTS, image_points, camera, np.zeros(4), flags=cv2.SOLVEPNP_ITERATIVE
    )
    if not ok:
        return None
    rotation, _ = cv2.Rodrigues(rvec)
    # Euler angles (x = pitch, y = yaw, z = roll) from the rotation matrix.
    sy = float(np.hypot(rotation[0, 0], rotation[1, 0]))
    pitch = float(np.degrees(np.arctan2(rotation[2, 1], rotation[2, 2])))
    yaw = float(np.degrees(np.arctan2(-rotation[2, 0], sy)))
    roll = float(np.degrees(np.arctan2(rotation[1, 0], rotation[0, 0])))
    # The model's y axis points up, the image's down: fold pitch into (-90, 90].
    pitch = (pitch + 360.0) % 360.0 - 180.0
    pitch = -pitch
    return HeadPose(yaw=yaw, pitch=pitch, roll=roll)


def landmark_yaw_ratio(landmarks: np.ndarray) -> float:
    """Nose offset from the face midline over the face width: -0.5..0.5, 0 = frontal.

    A pose-free check that does not depend on camera intrinsics; robust when
    solvePnP flips on a strongly turned head.
    """
    left = landmarks[0]
    right = landmarks[16]
    nose = landmarks[30]
    width = float(np.linalg.norm(right - left)) or 1.0
    mid = (left + right) / 2.0
    return float((nose[0] - mid[0]) / width)


def eye_visibility(gray: np.ndarray, landmarks: np.ndarray) -> float:
    """0..1: how much the eye regions look like eyes (dark centre, texture) vs a flat cover."""
    scores = []
    for ids in (range(36, 42), range(42, 48)):
        pts = landmarks[list(ids)].astype(np.int32)
        x, y, w, h = cv2.boundingRect(pts)
        pad_x, pad_y = max(2, w // 3), max(3, h)
        x0, y0 = max(0, x - pad_x), max(0, y - pad_y)
        x1, y1 = min(gray.shape[1], x + w + pad_x), min(gray.shape[0], y + h + pad_y)
        patch = gray[y0:y1, x0:x1]
        if patch.size < 16:
            scores.append(0.0)
            continue
        patch = patch.astype(np.float64)
        texture = float(np.abs(cv2.Laplacian(patch, cv2.CV_64F)).mean())
        dark = float(patch.mean() - np.percentile(patch, 5))
        scores.append(min(1.0, texture / 12.0) * 0.5 + min(1.0, dark / 40.0) * 0.5)
    return float(min(scores))
