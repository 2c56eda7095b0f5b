"""Overlapped speech from pyannote segmentation-3.0 (powerset output, up to 2 voices per frame)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from proctorbot.storage.session_folder import ANALYSIS_SAMPLE_RATE as SAMPLE_RATE

CHUNK_SECONDS = 10.0


def load_segmentation_model(checkpoint: Path) -> torch.nn.Module:
    """pyannote ``Model`` from a local checkpoint file (never the hub)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyannote warns about torchcodec's video part
        from pyannote.audio import Model

        model = Model.from_pretrained(str(checkpoint))
    if model is None:
        raise RuntimeError(f"cannot load the segmentation model from {checkpoint}")
    model.eval()
    return model


@dataclass
class FrameScores:
    """Per frame of a chunk: P(≥ 2 voices) and the features of ``second_voice.py`` (the
    last hidden layer and the 7 log-probabilities; None for a model without them)."""

    overlap: np.ndarray
    features: np.ndarray | None
    step: float


class OverlapScorer:
    """Frame-level probability that two or more voices speak at once in a ≤ 10-s chunk."""

    def __init__(self, model: torch.nn.Module) -> None:
        from proctorbot.detection.second_voice import has_hidden_layer

        self.model = model
        self._powerset = self._build_powerset(model)
        self._hidden = has_hidden_layer(model)

    @staticmethod
    def _build_powerset(model: torch.nn.Module) -> torch.Tensor:
        # classes: {}, {1}, {2}, {3}, {1,2}, {1,3}, {2,3} for 3 speakers, max 2 per frame
        from itertools import combinations

        specs = model.specifications
        n = len(specs.classes)
        rows = [[0.0] * n]
        for size in range(1, specs.powerset_max_classes + 1):
            for combo in combinations(range(n), size):
                rows.append([1.0 if i in combo else 0.0 for i in range(n)])
        return torch.tensor(rows)

    def overlap_probability(self, samples: np.ndarray) -> tuple[np.ndarray, float]:
        """P(≥ 2 voices) per frame: 1 − P(none) − P(exactly one)."""
        scores = self.frame_scores(samples)
        return scores.overlap, scores.step

    def frame_scores(self, samples: np.ndarray) -> FrameScores:
        """``overlap_probability`` and the second-voice features from one forward pass."""
        from proctorbot.detection.second_voice import segmentation_frames

        n = len(samples)
        chunk = int(CHUNK_SECONDS * SAMPLE_RATE)
        # a short input fills the chunk by repetition: zero padding made the model see a
        # second voice (P up to 0.8 on one reverberant voice in the first 2.5 s of a track)
        padded = (
            np.resize(samples[:chunk].astype(np.float32), chunk)
            if n
            else np.zeros(chunk, np.float32)
        )
        hidden = None
        with torch.inference_mode():
            x = torch.from_numpy(padded)[None, None]
            if self._hidden:
                log_probs, hidden = segmentation_frames(self.model, x)
                log_probs, hidden = log_probs[0], hidden[0]
            else:
                log_probs = self.model(x)[0]
        probs = log_probs.exp()
        single = 1 + len(self.model.specifications.classes)
        overlap = probs[:, single:].sum(dim=-1).numpy()
        step = CHUNK_SECONDS / probs.shape[0]
        keep = int(np.ceil(n / SAMPLE_RATE / step))
        features = (
            None
            if hidden is None
            else torch.cat([hidden, log_probs], dim=-1).numpy()[:keep].astype(np.float32)
        )
        return FrameScores(overlap[:keep], features, step)
