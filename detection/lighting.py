"""Lighting of a frame: too dark, backlit (light behind the person), a light into the
camera, black or frozen video. Cheap statistics on a small gray copy."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np
from proctorbot.detection.faces import Box


@dataclass(frozen=True)
class LightingThresholds:
    dark_mean: float = 50.0  # mean luma (0-255) below this = too dark
    black_mean: float = 12.0  # black video: very dark and flat
    black_std: float = 6.0
    backlit_ratio: float = 0.55  # face luma / background luma below this = backlit
    backlit_background: float = 150.0  # and the background must be bright
    glare_fraction: float = 0.04  # share of saturated pixels = a light into the camera
    glare_level: int = 250


@dataclass(frozen=True)
class LightingReport:
    brightness: float
    contrast: float
    face_brightness: float | None
    background_brightness: float
    saturated_fraction: float
    too_dark: bool
    backlit: bool
    light_into_camera: bool
    black: bool

    def to_json(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def _small_gray(frame: np.ndarray, width: int = 160) -> tuple[np.ndarray, float]:
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    scale = min(1.0, width / gray.shape[1])
    if scale < 1.0:
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return gray, scale


def assess_lighting(
    frame: np.ndarray, face: Box | None = None, thresholds: LightingThresholds | None = None
) -> LightingReport:
    """Lighting of a BGR frame; with a face box, also whether the face is backlit."""
    th = thresholds or LightingThresholds()
    gray, scale = _small_gray(frame)
    mean = float(gray.mean())
    std = float(gray.std())
    saturated = float((gray >= th.glare_level).mean())
    face_mean: float | None = None
    background = mean
    backlit = False
    if face is not None and face.area > 0:
        b = face.scaled(scale).clip(gray.shape[1], gray.shape[0])
        if b.area > 0:
            face_mean = float(gray[b.top : b.bottom, b.left : b.right].mean())
            mask = np.ones(gray.shape, dtype=bool)
            mask[b.top : b.bottom, b.left : b.right] = False
            if mask.any():
                background = float(gray[mask].mean())
            backlit = (
                background >= th.backlit_background and face_mean < th.backlit_ratio * background
            )
    else:
        # No face: a bright frame border around a dark centre also means light behind.
        h, w = gray.shape
        centre = gray[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4]
        border = np.concatenate([gray[: h // 4].ravel(), gray[3 * h // 4 :].ravel()])
        background = float(border.mean())
        backlit = (
            background >= th.backlit_background
            and float(centre.mean()) < th.backlit_ratio * background
        )
    black = mean < th.black_mean and std < th.black_std
    return LightingReport(
        brightness=mean,
        contrast=std,
        face_brightness=face_mean,
        background_brightness=background,
        saturated_fraction=saturated,
        too_dark=mean < th.dark_mean and not black,
        backlit=backlit,
        light_into_camera=saturated >= th.glare_fraction and not backlit,
        black=black,
    )


def frame_difference(previous: np.ndarray, current: np.ndarray) -> float:
    """Mean absolute luma difference (0-255) of two frames on small gray copies."""
    a, _ = _small_gray(previous)
    b, _ = _small_gray(current)
    if a.shape != b.shape:
        return 255.0
    return float(cv2.absdiff(a, b).mean())


def sharpness(gray: np.ndarray) -> float:
    """Variance of the Laplacian: higher = sharper (to pick the best frame of a burst)."""
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())
