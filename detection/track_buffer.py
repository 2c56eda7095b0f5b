"""A bounded audio buffer addressed by absolute sample index (long sessions stay in memory)."""

from __future__ import annotations

import numpy as np
from proctorbot.storage.session_folder import ANALYSIS_SAMPLE_RATE


class TrackBuffer:
    """Keeps the last ``keep_seconds`` of a 16 kHz track; older samples are dropped."""

    def __init__(self, keep_seconds: float = 20.0, sample_rate: int = ANALYSIS_SAMPLE_RATE) -> None:
        self.sample_rate = sample_rate
        self.keep = int(keep_seconds * sample_rate)
        self.data = np.zeros(0, np.float32)
        self.base = 0  # absolute index of data[0]

    @property
    def end(self) -> int:
        """Absolute index one past the newest sample."""
        return self.base + len(self.data)

    @property
    def seconds(self) -> float:
        return self.end / self.sample_rate

    def append(self, samples: np.ndarray) -> None:
        self.data = np.concatenate([self.data, samples.astype(np.float32, copy=False)])
        extra = len(self.data) - 2 * self.keep
        if extra > 0:  # trim in big steps so appends stay cheap
            drop = len(self.data) - self.keep
            self.data = self.data[drop:].copy()
            self.base += drop

    def slice(self, start_s: float, end_s: float) -> np.ndarray:
        """Samples in [start_s, end_s), zero-padded where dropped or not yet received."""
        a, b = int(round(start_s * self.sample_rate)), int(round(end_s * self.sample_rate))
        out = np.zeros(max(0, b - a), np.float32)
        lo, hi = max(a, self.base), min(b, self.end)
        if hi > lo:
            out[lo - a : hi - a] = self.data[lo - self.base : hi - self.base]
        return out
