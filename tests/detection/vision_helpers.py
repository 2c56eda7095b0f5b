"""Shared pieces of the video-detection tests: the sample face and small scenes."""

from __future__ import annotations

import numpy as np
import pytest

from tests.fixtures.synthetic import fit_640x480, load_sample_face, sample_face_path

__all__ = ["fit_640x480", "noisy", "sample_face_or_skip"]


def sample_face_or_skip() -> np.ndarray:
    if sample_face_path() is None:
        pytest.skip("matplotlib's sample portrait (grace_hopper.jpg) is not installed")
    return load_sample_face()


def noisy(frame: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(frame + rng.normal(0, 2, frame.shape), 0, 255).astype(np.uint8)
