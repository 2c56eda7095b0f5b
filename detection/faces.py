"""Faces in a frame: boxes, 68 landmarks, 128-d encodings (dlib, offline).

Why dlib HOG (measured on ../shared/evaldata/faces, see README "Video detection"):
it counts faces better than OpenCV's Haar cascade (34 vs 24 of 37 photos, no false
faces on dogs), needs no numpy<2 pin (mediapipe does), and its landmark and
encoder models come from the same package. The CNN (MMOD) detector finds more
rotated faces but takes seconds per photo on a CPU, too slow for live video.

Two modes: ``live`` (no upsampling, ~640x480 input) for the few-fps watcher,
and ``thorough`` for photos (upsampling plus a Haar profile-face pass that finds
heads turned sideways, which the frontal HOG misses, plus HOG passes on the image
rotated in 30-degree steps for faces tilted in-plane: a rotated find counts only
when two neighbouring rotations agree on it, which keeps chance patterns out).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from proctorbot.detection.vision_models import (
    FACE_ENCODER,
    LANDMARKS_68,
    face_model_path,
    import_dlib,
)

# A face encoding distance below this is the same person (dlib's documented 0.6).
SAME_PERSON_DISTANCE = 0.6

# Thorough mode's in-plane rotation passes: the frontal HOG tolerates ~15 degrees of
# tilt, so 30-degree steps cover every angle; a tilted face shows up in at least two
# neighbouring rotations, a chance pattern seldom does.
ROTATION_STEP_DEG = 30
ROTATION_MAX_SIDE = 480  # rotated passes run on the image scaled to this side (x2 upsampled)
ROTATION_MIN_PASSES = 2


def _rotate(image: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """The image rotated by ``angle`` degrees on a canvas that holds all of it, and the matrix."""
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_w, new_h = int(height * sin + width * cos), int(height * cos + width * sin)
    matrix[0, 2] += new_w / 2 - width / 2
    matrix[1, 2] += new_h / 2 - height / 2
    rotated = cv2.warpAffine(image, matrix, (new_w, new_h), borderMode=cv2.BORDER_REPLICATE)
    return rotated, matrix


@dataclass(frozen=True)
class Box:
    """Pixel box, left/top inclusive, right/bottom exclusive."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return max(0, self.right - self.left)

    @property
    def height(self) -> int:
        return max(0, self.bottom - self.top)

    @property
    def area(self) -> int:
        return self.width * self.height

    def clip(self, width: int, height: int) -> Box:
        return Box(
            max(0, self.left), max(0, self.top), min(width, self.right), min(height, self.bottom)
        )

    def scaled(self, factor: float) -> Box:
        return Box(*(round(v * factor) for v in (self.left, self.top, self.right, self.bottom)))

    def overlap_of_smaller(self, other: Box) -> float:
        inter = Box(
            max(self.left, other.left),
            max(self.top, other.top),
            min(self.right, other.right),
            min(self.bottom, other.bottom),
        ).area
        smaller = min(self.area, other.area)
        return inter / smaller if smaller else 0.0

    def as_list(self) -> list[int]:
        return [self.left, self.top, self.right, self.bottom]


@dataclass
class Face:
    box: Box
    score: float
    source: str = "hog"  # hog | profile | rotated | kept (live: the face HOG lost, tracked)
    landmarks: np.ndarray | None = field(default=None, repr=False)  # (68, 2) float
    encoding: np.ndarray | None = field(default=None, repr=False)  # (128,) float
    angle: float = 0.0  # degrees the image was turned for HOG to find it (rotated passes)


class FaceAnalyzer:
    """Owns the dlib models (loaded on first use) and finds faces in BGR frames."""

    def __init__(
        self,
        models_dir: Path | None = None,
        thorough_max_side: int = 1000,
        live_max_side: int = 640,
    ) -> None:
        self._models_dir = models_dir
        self.thorough_max_side = thorough_max_side
        self.live_max_side = live_max_side
        self._detector = None
        self._predictor = None
        self._encoder = None
        self._profile = None

    # -- models, loaded lazily so that importing never fails -----------------
    def _dlib_detector(self):  # noqa: ANN202
        if self._detector is None:
            self._detector = import_dlib().get_frontal_face_detector()
        return self._detector

    def _shape_predictor(self):  # noqa: ANN202
        if self._predictor is None:
            dlib = import_dlib()
            self._predictor = dlib.shape_predictor(
                str(face_model_path(LANDMARKS_68, self._models_dir))
            )
        return self._predictor

    def _face_encoder(self):  # noqa: ANN202
        if self._encoder is None:
            dlib = import_dlib()
            self._encoder = dlib.face_recognition_model_v1(
                str(face_model_path(FACE_ENCODER, self._models_dir))
            )
        return self._encoder

    def _profile_cascade(self) -> cv2.CascadeClassifier | None:
        if self._profile is None:
            path = Path(cv2.data.haarcascades) / "haarcascade_profileface.xml"
            cascade = cv2.CascadeClassifier(str(path))
            self._profile = cascade if not cascade.empty() else False
        return self._profile or None

    def load(self) -> None:
        """Load every model now (fails early with VisionModelMissing if one is absent)."""
        self._dlib_detector()
        self._shape_predictor()
        self._face_encoder()

    # -- detection -----------------------------------------------------------
    def detect(
        self,
        frame: np.ndarray,
        thorough: bool = False,
        upsample: int | None = None,
        rotated: bool | None = None,
    ) -> list[Face]:
        """Faces in a BGR frame, boxes in the frame's own pixels.

        ``upsample`` 1 finds faces down to ~40 px (4x the time); live mode uses 0 (~80 px).
        ``rotated`` (default: ``thorough``) adds faces tilted in-plane (source "rotated");
        it costs ~11 more HOG passes at 480 px, so callers that keep only frontal faces
        pass False.
        """
        max_side = self.thorough_max_side if thorough else self.live_max_side
        height, width = frame.shape[:2]
        scale = min(1.0, max_side / max(height, width))
        small = (
            cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            if scale < 1
            else frame
        )
        rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
        if upsample is None:
            upsample = 1 if thorough else 0
        rects, scores, _ = self._dlib_detector().run(rgb, upsample, 0.0)
        faces = [
            Face(
                Box(r.left(), r.top(), r.right(), r.bottom()).scaled(1 / scale).clip(width, height),
                float(s),
            )
            for r, s in zip(rects, scores, strict=True)
        ]
        if thorough:
            for box in self._profile_boxes(small):
                box = box.scaled(1 / scale).clip(width, height)
                if all(box.overlap_of_smaller(f.box) < 0.3 for f in faces):
                    faces.append(Face(box, 0.0, source="profile"))
        if thorough if rotated is None else rotated:
            for face in self._rotated_faces(frame):
                if all(face.box.overlap_of_smaller(f.box) < 0.3 for f in faces):
                    faces.append(face)
        return [f for f in faces if f.box.area > 0]

    def _rotated_faces(self, frame: np.ndarray) -> list[Face]:
        """Faces found by HOG on the frame rotated in ROTATION_STEP_DEG steps (not 0)."""
        height, width = frame.shape[:2]
        scale = ROTATION_MAX_SIDE / max(height, width)
        small = cv2.resize(
            frame,
            None,
            fx=scale,
            fy=scale,
            interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
        )
        rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
        detector = self._dlib_detector()
        found: list[tuple[float, Box, int]] = []
        for angle in range(ROTATION_STEP_DEG, 360, ROTATION_STEP_DEG):
            image, matrix = _rotate(rgb, angle)
            inverse = cv2.invertAffineTransform(matrix)
            rects, scores, _ = detector.run(image, 1, 0.0)
            for r, s in zip(rects, scores, strict=True):
                cx, cy = inverse @ np.array(
                    [(r.left() + r.right()) / 2, (r.top() + r.bottom()) / 2, 1]
                )
                half = (r.right() - r.left()) / 2
                box = Box(
                    round((cx - half) / scale),
                    round((cy - half) / scale),
                    round((cx + half) / scale),
                    round((cy + half) / scale),
                ).clip(width, height)
                found.append((float(s), box, angle))
        found.sort(key=lambda item: item[0], reverse=True)
        clusters: list[tuple[Face, set[int]]] = []
        for score, box, angle in found:
            for face, angles in clusters:
                if box.overlap_of_smaller(face.box) >= 0.3:
                    angles.add(angle)
                    break
            else:
                clusters.append((Face(box, score, source="rotated"), {angle}))
        return [face for face, angles in clusters if len(angles) >= ROTATION_MIN_PASSES]

    def detect_profiles(self, frame: np.ndarray, max_side: int = 480) -> list[Face]:
        """Heads seen from the side (Haar profile cascade, both directions); cheap at 480 px."""
        height, width = frame.shape[:2]
        scale = min(1.0, max_side / max(height, width))
        small = (
            cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            if scale < 1
            else frame
        )
        return [
            Face(box.scaled(1 / scale).clip(width, height), 0.0, source="profile")
            for box in self._profile_boxes(small)
        ]

    def _profile_boxes(self, bgr: np.ndarray) -> list[Box]:
        cascade = self._profile_cascade()
        if cascade is None:
            return []
        gray = cv2.equalizeHist(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
        width = gray.shape[1]
        boxes: list[Box] = []
        for flipped in (False, True):
            image = cv2.flip(gray, 1) if flipped else gray
            found = cascade.detectMultiScale(image, 1.1, 8, minSize=(40, 40))
            for x, y, w, h in found:
                left = width - x - w if flipped else x
                box = Box(int(left), int(y), int(left + w), int(y + h))
                if all(box.overlap_of_smaller(b) < 0.3 for b in boxes):
                    boxes.append(box)
        return boxes

    def run_hog(
        self, rgb: np.ndarray, upsample: int = 0, min_score: float = 0.0
    ) -> list[tuple[Box, float]]:
        """The frontal HOG detector on an RGB image as it is (no resizing)."""
        rects, scores, _ = self._dlib_detector().run(rgb, upsample, min_score)
        return [
            (Box(r.left(), r.top(), r.right(), r.bottom()), float(sc))
            for r, sc in zip(rects, scores, strict=True)
        ]

    def landmarks_in(self, rgb: np.ndarray, box: Box) -> np.ndarray:
        """68 (x, y) landmarks of the face in ``box`` of an RGB image."""
        dlib = import_dlib()
        shape = self._shape_predictor()(
            rgb, dlib.rectangle(box.left, box.top, box.right, box.bottom)
        )
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)

    def add_landmarks(self, frame: np.ndarray, face: Face) -> np.ndarray:
        """68 (x, y) landmarks of a face (computed once, kept on the Face)."""
        if face.landmarks is None:
            dlib = import_dlib()
            rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            b = face.box
            shape = self._shape_predictor()(rgb, dlib.rectangle(b.left, b.top, b.right, b.bottom))
            face.landmarks = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
        return face.landmarks

    def add_encoding(self, frame: np.ndarray, face: Face) -> np.ndarray:
        """The 128-d identity encoding of a face (same person < 0.6 apart)."""
        if face.encoding is None:
            dlib = import_dlib()
            rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            b = face.box
            shape = self._shape_predictor()(rgb, dlib.rectangle(b.left, b.top, b.right, b.bottom))
            face.encoding = np.array(self._face_encoder().compute_face_descriptor(rgb, shape))
            if face.landmarks is None:
                face.landmarks = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
        return face.encoding

    def encode_largest(self, frame: np.ndarray, thorough: bool = True) -> np.ndarray | None:
        """Encoding of the largest face in a frame (enrolment, a photo on an ID), or None."""
        faces = [
            f for f in self.detect(frame, thorough=thorough, rotated=False) if f.source == "hog"
        ]
        if not faces:
            return None
        return self.add_encoding(frame, max(faces, key=lambda f: f.box.area))


def face_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)))


def largest_face(faces: list[Face]) -> Face | None:
    return max(faces, key=lambda f: f.box.area) if faces else None
