"""Streaming voice activity (silero-vad) on 32-ms frames of 16 kHz audio."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from proctorbot.storage.session_folder import ANALYSIS_SAMPLE_RATE as SAMPLE_RATE

FRAME = 512  # silero's frame at 16 kHz
FRAME_SECONDS = FRAME / SAMPLE_RATE


@dataclass(frozen=True)
class SpeechSegment:
    start: float
    end: float

    def to_json(self) -> dict[str, float]:
        return {"start": round(self.start, 3), "end": round(self.end, 3)}


class StreamingVad:
    """Feeds arbitrary-length chunks; keeps one speech probability per 32-ms frame."""

    def __init__(self, model: Any) -> None:  # silero-vad (ONNX wrapper or TorchScript)
        self.model = model
        self.model.reset_states()
        self._pending = np.zeros(0, np.float32)
        self.probs: list[float] = []

    def feed(self, samples: np.ndarray) -> None:
        data = np.concatenate([self._pending, samples]) if self._pending.size else samples
        whole = len(data) // FRAME * FRAME
        with torch.inference_mode():
            for i in range(0, whole, FRAME):
                frame = torch.from_numpy(np.ascontiguousarray(data[i : i + FRAME], np.float32))
                self.probs.append(float(self.model(frame, SAMPLE_RATE).reshape(-1)[0]))
        self._pending = data[whole:].copy()

    @property
    def seconds(self) -> float:
        return len(self.probs) * FRAME_SECONDS

    def fraction(self, start: float, end: float, threshold: float = 0.5) -> float:
        """Share of frames in [start, end) that are speech (0 when none analysed)."""
        a = max(0, int(start / FRAME_SECONDS))
        b = min(len(self.probs), int(np.ceil(end / FRAME_SECONDS)))
        if b <= a:
            return 0.0
        return float(np.mean(np.asarray(self.probs[a:b]) >= threshold))

    def active(self, a: int, b: int, threshold: float = 0.5) -> np.ndarray:
        """Speech or not for frames ``a`` to ``b`` (32-ms frame indices); False where unknown."""
        out = np.zeros(max(0, b - a), bool)
        lo, hi = max(a, 0), min(b, len(self.probs))
        if hi > lo:
            out[lo - a : hi - a] = np.asarray(self.probs[lo:hi]) >= threshold
        return out

    def segments(
        self, threshold: float = 0.5, min_speech: float = 0.25, min_silence: float = 0.3
    ) -> list[SpeechSegment]:
        return probs_to_segments(np.asarray(self.probs), threshold, min_speech, min_silence)


def probs_to_segments(
    probs: np.ndarray, threshold: float, min_speech: float, min_silence: float
) -> list[SpeechSegment]:
    """Hysteresis-free thresholding, then short gaps filled and short bursts dropped."""
    active = probs >= threshold
    raw: list[list[float]] = []
    start = None
    for i, on in enumerate(active):
        if on and start is None:
            start = i
        elif not on and start is not None:
            raw.append([start * FRAME_SECONDS, i * FRAME_SECONDS])
            start = None
    if start is not None:
        raw.append([start * FRAME_SECONDS, len(active) * FRAME_SECONDS])
    merged: list[list[float]] = []
    for seg in raw:
        if merged and seg[0] - merged[-1][1] < min_silence:
            merged[-1][1] = seg[1]
        else:
            merged.append(seg)
    return [SpeechSegment(s, e) for s, e in merged if e - s >= min_speech]
