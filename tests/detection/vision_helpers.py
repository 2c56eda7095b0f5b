"""Shared pieces of the video-detection tests: the sample face and small scenes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from proctorbot.detection.synthetic import load_sample_face, sample_face_path


def sample_face_or_skip() -> np.ndarray:
    if sample_face_path() is None:
        pytest.skip("matplotlib's sample portrait (grace_hopper.jpg) is not installed")
    return load_sample_face()


def fit_640x480(image: np.ndarray) -> np.ndarray:
    """An image letterboxed into a 640x480 webcam frame."""
    h, w = image.shape[:2]
    scale = min(640 / w, 480 / h)
    resized = cv2.resize(image, (int(w * scale), int(h * scale)))
    frame = np.full((480, 640, 3), 90, np.uint8)
    y0, x0 = (480 - resized.shape[0]) // 2, (640 - resized.shape[1]) // 2
    frame[y0 : y0 + resized.shape[0], x0 : x0 + resized.shape[1]] = resized
    return frame


def noisy(frame: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(frame + rng.normal(0, 2, frame.shape), 0, 255).astype(np.uint8)
