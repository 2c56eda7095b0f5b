"""A second voice under the student's own speech, from segmentation-3.0's last hidden layer.

segmentation-3.0 (the overlap scorer's model) says "two voices" only when both are of
similar loudness: a prompter 15 dB under the student leaves P(overlap) < 0.3. Its last
hidden layer (128 values per 17-ms frame, before the powerset classifier) still carries
the weaker voice. ``SecondVoiceHead`` is a logistic regression on those values and the
classifier's 7 log-probabilities, trained here on CPU (``benchmarks/train_second_voice.py``)
on mixtures of the tuning speakers only (``benchmarks/voice_sets.py``); its weights ship
beside this file (``second_voice_head.json``). It costs no extra model run: the overlap
scorer's forward pass gives the features.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

HEAD_FILE = Path(__file__).with_name("second_voice_head.json")


def segmentation_frames(model: Any, waveform: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """PyanNet's forward pass that also returns the last hidden layer:
    (batch, channel, samples) → log-probabilities (batch, frames, 7), hidden (batch, frames, 128)."""
    out = model.sincnet(waveform)
    out = out.permute(0, 2, 1)
    if model.hparams.lstm["monolithic"]:
        out, _ = model.lstm(out)
    else:
        for lstm in model.lstm:
            out, _ = lstm(out)
    for linear in model.linear:
        out = F.leaky_relu(linear(out))
    return model.activation(model.classifier(out)), out


def has_hidden_layer(model: Any) -> bool:
    return all(hasattr(model, name) for name in ("sincnet", "lstm", "linear", "classifier"))


@dataclass(frozen=True)
class SecondVoiceHead:
    """P(a second voice) per frame from [hidden (128), log-probabilities (7)]."""

    weights: np.ndarray
    bias: float
    mean: np.ndarray
    scale: np.ndarray
    trained_on: str = ""

    def probability(self, features: np.ndarray) -> np.ndarray:
        z = ((features - self.mean) / self.scale) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-z))

    def to_json(self) -> dict[str, Any]:
        return {
            "weights": [float(v) for v in self.weights],
            "bias": float(self.bias),
            "mean": [float(v) for v in self.mean],
            "scale": [float(v) for v in self.scale],
            "trained_on": self.trained_on,
        }

    @classmethod
    def load(cls, path: Path = HEAD_FILE) -> SecondVoiceHead | None:
        """The shipped head, or None when the file is absent."""
        if not path.exists():
            return None
        data = json.loads(path.read_text("utf-8"))
        return cls(
            np.asarray(data["weights"], np.float32),
            float(data["bias"]),
            np.asarray(data["mean"], np.float32),
            np.asarray(data["scale"], np.float32),
            str(data.get("trained_on", "")),
        )
