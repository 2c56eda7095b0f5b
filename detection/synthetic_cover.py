"""Synthetic coverings of the lower face for tests and the benchmark: masks and hands.

Drawn from a face's own 68 landmarks, so any real photo becomes a covered-face sample.
A mask is a polygon from the nose bridge down round the jaw, with shading, pleats and
straps; a hand is a palm and four fingers in the face's *own* skin colour (the hard
case: colour alone cannot tell it from the cheeks), with shaded finger edges.
"""

from __future__ import annotations

import cv2
import numpy as np

# BGR colours of common masks; "skin" takes the face's own cheek colour (a beige mask).
MASK_STYLES: dict[str, tuple[int, int, int] | None] = {
    "medical_blue": (215, 190, 150),
    "white": (238, 238, 236),
    "black": (38, 36, 36),
    "skin": None,
    "pink": (185, 165, 235),
    "patterned": (120, 70, 40),
}


def skin_colour(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Median BGR of the two cheeks (between the eye line and the nose tip, beside the nose)."""
    samples = []
    for jaw, nose in ((2, 31), (14, 35)):
        x0, x1 = sorted((landmarks[jaw][0], landmarks[nose][0]))
        cx = (x0 + x1) / 2
        cy = (landmarks[29][1] + landmarks[jaw][1]) / 2
        r = max(2, int((x1 - x0) / 5))
        patch = image[max(0, int(cy) - r) : int(cy) + r, max(0, int(cx) - r) : int(cx) + r].reshape(
            -1, 3
        )
        if len(patch):
            samples.append(patch)
    if not samples:
        return np.array([150, 170, 200], np.float64)
    return np.median(np.concatenate(samples), axis=0).astype(np.float64)


def _face_width(landmarks: np.ndarray) -> float:
    return float(np.linalg.norm(landmarks[16] - landmarks[0])) or 1.0


def draw_mask(
    image: np.ndarray, landmarks: np.ndarray, style: str = "medical_blue", seed: int = 0
) -> np.ndarray:
    """A face mask over nose, mouth and chin; returns a new image."""
    rng = np.random.default_rng(seed)
    out = image.copy()
    lm = landmarks.astype(np.float64)
    width = _face_width(lm)
    centre = lm[[0, 16, 8]].mean(axis=0)
    jaw = lm[2:15]
    jaw = centre + (jaw - centre) * 1.04  # a little past the jaw line
    # Top edge: across the nose bridge, between landmark 28 (bridge) and 29.
    bridge = lm[28] * 0.6 + lm[29] * 0.4
    up = (lm[27] - lm[30]) / (np.linalg.norm(lm[27] - lm[30]) or 1.0)
    top_left = lm[1] + (lm[2] - lm[1]) * 0.2
    top_right = lm[15] + (lm[14] - lm[15]) * 0.2
    polygon = np.vstack([top_left[None], jaw, top_right[None], (bridge + up * width * 0.03)[None]])
    mask = np.zeros(out.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 255)
    colour = MASK_STYLES.get(style, MASK_STYLES["medical_blue"])
    base = skin_colour(image, lm) * rng.uniform(0.92, 1.05) if colour is None else np.array(colour)
    base = np.clip(base * rng.uniform(0.85, 1.08), 0, 255)
    h, w = out.shape[:2]
    # Shading: brighter near the centre, darker towards the edges of the mask.
    dist = cv2.distanceTransform(mask, cv2.DIST_L2, 5)
    shade = 0.78 + 0.22 * np.clip(dist / max(1.0, width * 0.15), 0, 1)
    fabric = np.empty((h, w, 3), np.float64)
    fabric[:] = base
    if style == "patterned":
        yy, xx = np.mgrid[0:h, 0:w]
        period = max(4, int(width / 9))
        stripes = ((xx + yy) // period) % 2 == 0
        fabric[stripes] = np.clip(base * 1.9, 0, 255)
    fabric *= shade[:, :, None]
    if style == "medical_blue":  # three pleats across the mask
        for k in (0.35, 0.55, 0.75):
            y = int(bridge[1] + (lm[8][1] - bridge[1]) * k)
            cv2.line(
                fabric, (0, y), (w, y), tuple(float(c) * 0.7 for c in base), max(1, int(width / 60))
            )
    fabric += rng.normal(0, 3, fabric.shape)
    soft = cv2.GaussianBlur(mask.astype(np.float32) / 255, (0, 0), max(1.0, width / 120))[
        :, :, None
    ]
    out = (fabric * soft + out.astype(np.float64) * (1 - soft)).clip(0, 255).astype(np.uint8)
    strap = tuple(int(c * 0.8) for c in base)
    thick = max(1, int(width / 50))
    for a, b in (
        (top_left, lm[0] - (lm[16] - lm[0]) * 0.05),
        (top_right, lm[16] + (lm[16] - lm[0]) * 0.05),
    ):
        cv2.line(out, tuple(np.round(a).astype(int)), tuple(np.round(b).astype(int)), strap, thick)
    return out


def draw_hand(
    image: np.ndarray, landmarks: np.ndarray, seed: int = 0, over_nose: bool = True
) -> np.ndarray:
    """A hand over the mouth (and nose): palm and four fingers in the face's skin colour."""
    rng = np.random.default_rng(seed)
    out = image.astype(np.float64)
    lm = landmarks.astype(np.float64)
    width = _face_width(lm)
    skin = skin_colour(image, lm) * rng.uniform(0.9, 1.08) * np.array([0.97, 0.98, 1.03])
    skin = np.clip(skin, 0, 255)
    top = (lm[29] if over_nose else lm[33])[1]
    bottom = lm[8][1] + width * 0.05
    side = 1 if rng.random() < 0.5 else -1  # the hand comes in from the left or the right
    tilt = rng.uniform(-12, 12)
    h, w = out.shape[:2]
    fingers = 4
    band = (bottom - top) / fingers
    left, right = lm[1][0] - width * 0.1, lm[15][0] + width * 0.1
    layer = np.zeros((h, w), np.float32)
    shading = np.zeros((h, w), np.float32)
    for i in range(fingers):
        cy = top + band * (i + 0.5)
        length = (right - left) * rng.uniform(0.85, 1.0) * (1.0 - 0.08 * abs(i - 1.5))
        x_start = right if side > 0 else left
        x_end = x_start - side * length
        cx = (x_start + x_end) / 2
        finger = np.zeros((h, w), np.uint8)
        box = ((float(cx), float(cy)), (float(length), float(band * 0.98)), float(tilt))
        pts = cv2.boxPoints(box)
        cv2.fillPoly(finger, [np.round(pts).astype(np.int32)], 255)
        tip = (x_end, cy)
        cv2.circle(finger, (int(tip[0]), int(tip[1])), max(1, int(band * 0.49)), 255, -1)
        # Each finger is rounded: darker along its upper and lower edges.
        dist = cv2.distanceTransform(finger, cv2.DIST_L2, 5)
        shade = 0.72 + 0.28 * np.clip(dist / max(1.0, band * 0.45), 0, 1)
        inside = finger > 0
        layer[inside] = 1.0
        shading[inside] = shade[inside]
    # The palm at the hand's side of the face.
    palm_x = right + width * 0.12 if side > 0 else left - width * 0.12
    palm = np.zeros((h, w), np.uint8)
    cv2.ellipse(
        palm,
        (int(palm_x), int((top + bottom) / 2)),
        (int(width * 0.3), int((bottom - top) * 0.6)),
        0,
        0,
        360,
        255,
        -1,
    )
    layer[palm > 0] = 1.0
    shading[palm > 0] = np.maximum(shading[palm > 0], 0.95)
    colour = skin[None, None, :] * shading[:, :, None] + rng.normal(0, 2.5, (h, w, 3))
    soft = cv2.GaussianBlur(layer, (0, 0), max(0.8, width / 200))[:, :, None]
    out = colour * soft + out * (1 - soft)
    return out.clip(0, 255).astype(np.uint8)
