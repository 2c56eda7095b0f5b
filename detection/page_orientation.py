"""A document page turned upright: the skew of its text lines, then the quarter turn.

The skew comes from the text itself: dark strokes (black-hat) are thresholded and the
page is turned until the rows' ink profile is sharpest (text lines fall on few rows,
the gaps between them on none). That finds the line direction up to a half turn; which
of the four quarter turns is upright is left to the reader (OCR confidence), since
only text can say which way is up.
"""

from __future__ import annotations

import cv2
import numpy as np

WORK_WIDTH = 500  # the skew search runs on a page this wide


def _text_mask(gray: np.ndarray) -> np.ndarray:
    """Dark strokes on a lighter ground, 0/1, at WORK_WIDTH."""
    scale = WORK_WIDTH / max(gray.shape[:2])
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (9, 9))
    blackhat = cv2.morphologyEx(small, cv2.MORPH_BLACKHAT, kernel)
    _, mask = cv2.threshold(blackhat, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return mask


def _profile_sharpness(mask: np.ndarray, angle: float) -> float:
    h, w = mask.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    turned = cv2.warpAffine(mask, matrix, (w, h), flags=cv2.INTER_NEAREST)
    rows = turned.sum(axis=1).astype(np.float64)
    return float(np.sum(np.diff(rows) ** 2))


def text_line_angle(image: np.ndarray) -> float:
    """Degrees to turn the page (counter-clockwise, OpenCV's sense) so its text lines run
    horizontally; in [-90, 90). 0 for a page without enough ink to tell."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    mask = _text_mask(gray)
    if mask.sum() < 200:
        return 0.0
    coarse = max(range(-90, 90, 2), key=lambda a: _profile_sharpness(mask, float(a)))
    fine = np.arange(coarse - 2.0, coarse + 2.01, 0.25)
    best = max(fine, key=lambda a: _profile_sharpness(mask, float(a)))
    return float((best + 90.0) % 180.0 - 90.0)


def rotate_whole(image: np.ndarray, angle: float) -> np.ndarray:
    """The image turned by ``angle`` degrees (counter-clockwise), canvas grown to keep every
    corner; the new margin is the image's median colour (no streaks for OCR to read)."""
    if abs(angle) < 0.1:
        return image
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_w, new_h = int(round(h * sin + w * cos)), int(round(h * cos + w * sin))
    matrix[0, 2] += new_w / 2 - w / 2
    matrix[1, 2] += new_h / 2 - h / 2
    fill = np.median(image.reshape(-1, image.shape[2] if image.ndim == 3 else 1), axis=0)
    return cv2.warpAffine(
        image,
        matrix,
        (new_w, new_h),
        flags=cv2.INTER_CUBIC,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=tuple(float(v) for v in fill),
    )


def quarter_turns(image: np.ndarray) -> list[np.ndarray]:
    """The page deskewed, then as it is, upside down and turned either way (four images)."""
    level = rotate_whole(image, text_line_angle(image))
    return [
        level,
        cv2.rotate(level, cv2.ROTATE_180),
        cv2.rotate(level, cv2.ROTATE_90_CLOCKWISE),
        cv2.rotate(level, cv2.ROTATE_90_COUNTERCLOCKWISE),
    ]
