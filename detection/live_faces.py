"""Faces for the live watcher: the upright HOG pass, and two rare fall-backs.

The upright HOG pass (~23 ms at 640x480) loses more and more heads tilted in-plane
beyond ~30 degrees (dlib's detector has filters for some roll; measured on the evaldata
one-face photos: 22/24 found at +-30, 17/24 at +-40, 12/24 at +-50) and most faces
behind a mask. Only when it finds no face at all:

* tilted faces: HOG on the frame rotated by +-30 degrees, on a crop round the face
  last seen (twice its size, its face scaled to 100 px: ~7 ms a pass), or, without a
  recent face, on the whole frame at 3/4 size at most once a second;
* covered faces: HOG loses most faces behind a mask or a hand (their score falls
  to -1..0, where background patterns score too). The brows-and-eyes band of the last
  face HOG found is kept as a template; when it is still there (normalised
  correlation >= 0.6 within half a face of its place, ~1 ms) the student is there
  with the lower face covered, and the face box follows the match.

Landmarks of a tilted face are found in the rotated image and mapped back, so pose,
eyes and lower-face checks work on it as on an upright one.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from proctorbot.detection.faces import Box, Face, FaceAnalyzer, _rotate


@dataclass(frozen=True)
class LiveFaceSettings:
    template_min_match: float = 0.6  # brows-and-eyes band still there: same face, covered
    keep_s: float = 10.0  # a tilted face is looked for round its last place this long
    tilt_angles: tuple[int, ...] = (30, -30)
    tilt_face_px: int = 100  # the crop is scaled so that the last face is this tall
    tilt_crop_factor: float = 2.0  # crop side / last face side
    full_tilt_search_s: float = 1.0  # without a recent face: whole-frame rotated passes
    full_tilt_scale: float = 0.75
    full_tilt_min_score: float = 0.3  # whole-frame finds have no context: stricter


@dataclass
class LiveFaceMemory:
    """Where the main face was last seen (one per watched camera)."""

    box: Box | None = None
    t: float = -1e9
    angle: int = 0  # the rotation that found it last (0 = upright)
    full_search_t: float = -1e9
    template: np.ndarray | None = None  # gray brows-and-eyes band of the last upright face
    template_box: Box | None = None  # the face box the template was cut from


class LiveFaceFinder:
    """Finds the faces of one camera's frames; keeps its own memory of the last face."""

    def __init__(self, analyzer: FaceAnalyzer, settings: LiveFaceSettings | None = None) -> None:
        self.analyzer = analyzer
        self.settings = settings or LiveFaceSettings()
        self.memory = LiveFaceMemory()
        self.last_fallback: str | None = None  # "tilted" / "kept" when a fall-back found it

    def find(self, frame: np.ndarray, t: float) -> list[Face]:
        st = self.settings
        self.last_fallback = None
        faces = self.analyzer.detect(frame, upsample=0, rotated=False)
        if faces:
            main = max(faces, key=lambda f: f.box.area)
            self._remember(main, t, 0)
            self._keep_template(frame, main.box)
            return faces
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        kept = self._template_face(gray)
        if kept is not None:
            self.last_fallback = "kept"
            self.memory.box, self.memory.t = kept.box, t
            return [kept]
        recent = self.memory.box is not None and t - self.memory.t <= st.keep_s
        tilted: list[Face] = []
        if recent:
            tilted = self._tilted(frame, self.memory.box, 0.0, t)
        elif t - self.memory.full_search_t >= st.full_tilt_search_s:
            self.memory.full_search_t = t
            tilted = self._tilted(frame, None, st.full_tilt_min_score, t)
        if tilted:
            self.last_fallback = "tilted"
        return tilted

    def _remember(self, face: Face, t: float, angle: int) -> None:
        self.memory.box, self.memory.t, self.memory.angle = face.box, t, angle

    @staticmethod
    def _band(box: Box) -> Box:
        """Brows and eyes: from a little above the dlib box top to ~40 % down it."""
        return Box(
            box.left + box.width // 10,
            box.top - box.height // 8,
            box.right - box.width // 10,
            box.top + int(box.height * 0.42),
        )

    def _keep_template(self, frame: np.ndarray, box: Box) -> None:
        height, width = frame.shape[:2]
        band = self._band(box)
        if band.clip(width, height) != band or band.width < 16 or band.height < 8:
            return  # cut by the frame edge: keep the previous template
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        self.memory.template = gray[band.top : band.bottom, band.left : band.right].copy()
        self.memory.template_box = box

    def _template_face(self, gray: np.ndarray) -> Face | None:
        template, box = self.memory.template, self.memory.template_box
        if template is None or box is None:
            return None
        height, width = gray.shape[:2]
        band = self._band(box)
        reach_x, reach_y = box.width // 2, box.height // 2
        window = Box(
            band.left - reach_x, band.top - reach_y, band.right + reach_x, band.bottom + reach_y
        ).clip(width, height)
        if window.width < template.shape[1] or window.height < template.shape[0]:
            return None
        area = gray[window.top : window.bottom, window.left : window.right]
        scores = cv2.matchTemplate(area, template, cv2.TM_CCOEFF_NORMED)
        _, best, _, (x, y) = cv2.minMaxLoc(scores)
        if best < self.settings.template_min_match:
            return None
        dx, dy = window.left + x - band.left, window.top + y - band.top
        moved = Box(box.left + dx, box.top + dy, box.right + dx, box.bottom + dy).clip(
            width, height
        )
        return Face(moved, float(best) - 1.0, source="kept")

    def _tilted(
        self, frame: np.ndarray, around: Box | None, min_score: float, t: float
    ) -> list[Face]:
        st = self.settings
        height, width = frame.shape[:2]
        if around is not None:
            side = max(around.width, around.height) * st.tilt_crop_factor
            cx, cy = (around.left + around.right) / 2, (around.top + around.bottom) / 2
            region = Box(
                int(cx - side / 2), int(cy - side / 2), int(cx + side / 2), int(cy + side / 2)
            ).clip(width, height)
            scale = st.tilt_face_px / max(1, around.height)
        else:
            region = Box(0, 0, width, height)
            scale = st.full_tilt_scale
        if min(region.width, region.height) < 16:
            return []  # the face sat at the very edge (or the frame is tiny): nothing to turn
        crop = frame[region.top : region.bottom, region.left : region.right]
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        small = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=interp)
        rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
        angles = sorted(st.tilt_angles, key=lambda a: a != self.memory.angle)
        for angle in angles:
            image, matrix = _rotate(rgb, angle)
            inverse = cv2.invertAffineTransform(matrix)
            hits = [h for h in self.analyzer.run_hog(image, 0, 0.0) if h[1] >= min_score]
            if not hits:
                continue
            faces = []
            for box, score in hits:
                points = self.analyzer.landmarks_in(image, box)
                back = (points @ inverse[:, :2].T + inverse[:, 2]) / scale + [
                    region.left,
                    region.top,
                ]
                cx, cy = inverse @ np.array(
                    [(box.left + box.right) / 2, (box.top + box.bottom) / 2, 1]
                )
                half = box.width / 2
                face_box = Box(
                    round((cx - half) / scale + region.left),
                    round((cy - half) / scale + region.top),
                    round((cx + half) / scale + region.left),
                    round((cy + half) / scale + region.top),
                ).clip(width, height)
                faces.append(
                    Face(face_box, score, source="rotated", landmarks=back, angle=float(angle))
                )
            faces = [f for f in faces if f.box.area > 0]
            if faces:
                self._remember(max(faces, key=lambda f: f.box.area), t, angle)
                return faces
        return []
