"""Is the lower face (mouth, nose) covered by a mask, a scarf or a hand?

dlib places all 68 landmarks even on a mask, so the landmarks say *where* the mouth
should be, not that it is there. The face is first turned upright and scaled from its
eye centres (so tilted and small faces read the same), then the mouth region is tested
for what an uncovered mouth shows and a cover does not.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

ALIGNED_SIZE = 128  # the face is warped to this square, eyes 0.4 of it apart
_LEFT_EYE = np.array([0.30, 0.36]) * ALIGNED_SIZE
_RIGHT_EYE = np.array([0.70, 0.36]) * ALIGNED_SIZE
# Where "mouth there" turns into "covered" (measured, see assess_lower_face).
LIP_REDNESS_MOUTH = 3.3  # Lab a*; uncovered faces 3.6-50, masks/hands -0.2-3.1
MOUTH_LINE_MOUTH = 0.55
TEXTURE_RATIO_MOUTH = 0.6
LIP_REDNESS_SOME = 1.5  # below this a mouth line is taken for finger gaps or pleats
COLOUR_DISTANCE_SKIN = 12.0  # Lab a*b*; uncovered lower faces 1-9, coloured masks 9-67
COLOUR_DISTANCE_CLOTH = 24.0
MIN_FACE_GRAY = 35.0  # below this median grey the colours are noise: not assessed


@dataclass(frozen=True)
class LowerFaceCues:
    """Measurements on the upright face; each is 0 or less on a covered lower face."""

    lip_redness: float  # lips' Lab a* minus the skin right round them
    lip_vs_skin: float  # lips' a* minus the upper face's skin a*
    colour_distance: float  # Lab a*b* distance of the lower face from the upper face skin
    mouth_line: float  # darkness of the mouth line against the lips, / face contrast
    nostrils: float  # darkness under the nose tip against the nose, / face contrast
    texture_ratio: float  # Laplacian energy of the lower face over the upper face

    def to_json(self) -> dict[str, float]:
        return {k: round(float(v), 3) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class LowerFaceCover:
    covered: bool
    score: float  # 0..1, above 0.5 = covered
    cues: LowerFaceCues

    def to_json(self) -> dict[str, Any]:
        return {"covered": self.covered, "score": round(self.score, 3), "cues": self.cues.to_json()}


def align_face(image: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The face warped upright to ALIGNED_SIZE (eye centres fixed), and its landmarks."""
    left = landmarks[36:42].mean(axis=0)
    right = landmarks[42:48].mean(axis=0)
    src = np.array([left, right], np.float64)
    dst = np.array([_LEFT_EYE, _RIGHT_EYE], np.float64)
    # Similarity from two points: rotation + uniform scale + shift.
    sv, dv = src[1] - src[0], dst[1] - dst[0]
    scale = np.linalg.norm(dv) / (np.linalg.norm(sv) or 1.0)
    angle = np.arctan2(dv[1], dv[0]) - np.arctan2(sv[1], sv[0])
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    shift = dst[0] - rot @ src[0]
    matrix = np.hstack([rot, shift[:, None]])
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    aligned = cv2.warpAffine(
        image, matrix, (ALIGNED_SIZE, ALIGNED_SIZE), flags=interp, borderMode=cv2.BORDER_REPLICATE
    )
    points = landmarks @ rot.T + shift
    return aligned, points


def _polygon_mask(points: np.ndarray, size: int = ALIGNED_SIZE) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 255)
    return mask > 0


def _rect_mask(x0: float, y0: float, x1: float, y1: float, size: int = ALIGNED_SIZE) -> np.ndarray:
    mask = np.zeros((size, size), bool)
    x0, x1 = int(max(0, min(x0, x1))), int(min(size, max(x0, x1)))
    y0, y1 = int(max(0, min(y0, y1))), int(min(size, max(y0, y1)))
    mask[y0:y1, x0:x1] = True
    return mask


def _upper_skin_mask() -> np.ndarray:
    """Upper face skin of the aligned face: just under each eye, and between the brows."""
    size = ALIGNED_SIZE
    eye_y = _LEFT_EYE[1]
    eye_gap = _RIGHT_EYE[0] - _LEFT_EYE[0]
    under_eyes = _rect_mask(
        _LEFT_EYE[0] - eye_gap * 0.2,
        eye_y + eye_gap * 0.18,
        _LEFT_EYE[0] + eye_gap * 0.2,
        eye_y + eye_gap * 0.38,
    ) | _rect_mask(
        _RIGHT_EYE[0] - eye_gap * 0.2,
        eye_y + eye_gap * 0.18,
        _RIGHT_EYE[0] + eye_gap * 0.2,
        eye_y + eye_gap * 0.38,
    )
    brows = _rect_mask(
        size / 2 - eye_gap * 0.15,
        eye_y - eye_gap * 0.45,
        size / 2 + eye_gap * 0.15,
        eye_y - eye_gap * 0.05,
    )
    upper = under_eyes | brows
    return upper


def _upper_gray(aligned: np.ndarray) -> float:
    return float(np.median(cv2.cvtColor(aligned, cv2.COLOR_BGR2GRAY)[_upper_skin_mask()]))


def _median(values: np.ndarray, where: np.ndarray, default: float = 0.0) -> float:
    picked = values[where]
    return float(np.median(picked)) if picked.size else default


def assess_lower_face(image: np.ndarray, landmarks: np.ndarray) -> LowerFaceCover | None:
    """Covered or not, from the cues; None when the face is too dark to tell colours apart.

    The rule (chosen on real photos with drawn masks and hands, see benchmarks/vision.py):
    a mouth is there when the lips are redder than the skin round them, or when a dark
    mouth line that stops at the mouth corners sits in textured skin of the face's own
    colour. Masks have no lips and are smooth or off-colour; a hand has the skin's colour
    but no lips, and its finger gaps run on past the mouth corners.
    """
    aligned, points = align_face(image, landmarks)
    upper_gray = _upper_gray(aligned)
    if upper_gray < MIN_FACE_GRAY:
        return None
    cues = _cues(aligned, points, upper_gray)
    lips = _ramp(cues.lip_redness, LIP_REDNESS_MOUTH, 4.0)
    line = min(
        _ramp(cues.mouth_line, MOUTH_LINE_MOUTH, 0.6),
        _ramp(cues.texture_ratio, TEXTURE_RATIO_MOUTH, 0.6),
        _ramp(-cues.colour_distance, -COLOUR_DISTANCE_SKIN, 8.0),
        _ramp(cues.lip_redness, LIP_REDNESS_SOME, 1.0),  # finger gaps have no red at all
    )
    # A lower face far from the skin's colour is cloth, whatever its stripes look like.
    skin_like = 1.0 - _ramp(cues.colour_distance, COLOUR_DISTANCE_CLOTH, 8.0)
    score = 1.0 - max(lips, line) * skin_like
    return LowerFaceCover(covered=score > 0.5, score=score, cues=cues)


def _ramp(value: float, middle: float, width: float) -> float:
    """0 at middle - width/2, 0.5 at middle, 1 at middle + width/2."""
    return float(np.clip((value - middle) / width + 0.5, 0.0, 1.0))


def measure_lower_face(image: np.ndarray, landmarks: np.ndarray) -> LowerFaceCues:
    """The cues of one face (BGR image, its 68 landmarks in the image's pixels)."""
    aligned, points = align_face(image, landmarks)
    return _cues(aligned, points, _upper_gray(aligned))


def _cues(aligned: np.ndarray, pts: np.ndarray, upper_gray: float) -> LowerFaceCues:
    # A dark face has proportionally weaker colour: bring its skin up to mid-grey first
    # (from the upper face only: a black mask must not raise the gain).
    gain = float(np.clip(150.0 / (upper_gray + 1.0), 1.0, 4.0))
    scaled = np.clip(aligned.astype(np.float32) * gain / 255.0, 0, 1)
    lab = cv2.cvtColor(scaled, cv2.COLOR_BGR2LAB).astype(np.float64)
    lum, a_star, b_star = lab[:, :, 0] * 2.55, lab[:, :, 1], lab[:, :, 2]

    upper = _upper_skin_mask()
    skin_a, skin_b = _median(a_star, upper), _median(b_star, upper)

    outer = _polygon_mask(pts[48:60])
    inner = _polygon_mask(pts[60:68])
    lips = outer & ~inner
    if lips.sum() < 8:
        lips = outer
    ring = cv2.dilate(outer.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool) & ~outer
    lip_a = float(np.percentile(a_star[lips], 75)) if lips.any() else skin_a
    lip_redness = lip_a - _median(a_star, ring, skin_a)
    lip_vs_skin = lip_a - skin_a

    # Lower face: nose tip down to the chin, between the mouth corners widened a little.
    mouth_w = pts[54][0] - pts[48][0]
    lower = _rect_mask(
        pts[48][0] - mouth_w * 0.3, pts[33][1], pts[54][0] + mouth_w * 0.3, pts[8][1] - 2
    )
    colour_distance = float(
        np.hypot(_median(a_star, lower) - skin_a, _median(b_star, lower) - skin_b)
    )

    gray = lum
    contrast = float(np.std(gray[upper | lower])) + 8.0
    # Mouth line: the darkest row between the lips against the lips' own rows.
    mx0, mx1 = pts[48][0] + mouth_w * 0.2, pts[54][0] - mouth_w * 0.2
    my0, my1 = pts[50:53, 1].mean(), pts[56:59, 1].mean()
    mouth_box = gray[
        int(max(0, min(my0, my1))) : int(max(my0, my1)) + 1, int(max(0, mx0)) : int(mx1) + 1
    ]
    y_lo, y_hi = int(max(0, min(my0, my1))), int(max(my0, my1)) + 1
    # The same rows beyond the mouth corners (cheeks): a finger gap runs on across them,
    # a mouth line stops at the corners.
    cheeks = np.hstack(
        [
            gray[
                y_lo:y_hi,
                int(max(0, pts[48][0] - mouth_w * 0.45)) : int(max(1, pts[48][0] - mouth_w * 0.1)),
            ],
            gray[y_lo:y_hi, int(pts[54][0] + mouth_w * 0.1) : int(pts[54][0] + mouth_w * 0.45) + 1],
        ]
    )
    if mouth_box.shape[0] >= 3 and mouth_box.shape[1] >= 2:
        rows = mouth_box.mean(axis=1)
        darkest = int(np.argmin(rows))
        inside = float(np.median(rows) - rows[darkest])
        if cheeks.shape[1] >= 2 and cheeks.shape[0] == len(rows):
            side = cheeks.mean(axis=1)
            inside -= max(0.0, float(np.median(side) - side[darkest]))
        mouth_line = inside / contrast
    else:
        mouth_line = 0.0
    # Nostrils: darkest spot under the nose tip against the nose.
    nose_w = pts[35][0] - pts[31][0]
    under_nose = gray[
        int(max(0, pts[30][1])) : int(pts[33][1] + nose_w * 0.15) + 1,
        int(max(0, pts[31][0])) : int(pts[35][0]) + 1,
    ]
    if under_nose.size >= 6:
        nostrils = float((np.median(under_nose) - np.percentile(under_nose, 5)) / contrast)
    else:
        nostrils = 0.0
    lap = np.abs(cv2.Laplacian(cv2.GaussianBlur(gray, (3, 3), 0), cv2.CV_64F))
    texture_ratio = float(lap[lower].mean() / (lap[upper].mean() + 1.0)) if lower.any() else 1.0
    return LowerFaceCues(
        lip_redness=lip_redness,
        lip_vs_skin=lip_vs_skin,
        colour_distance=colour_distance,
        mouth_line=mouth_line,
        nostrils=nostrils,
        texture_ratio=texture_ratio,
    )
