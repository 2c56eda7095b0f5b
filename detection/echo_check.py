"""Is speech on the student's track the examiner's voice coming out of the student's speakers?

Two independent cues, either suffices while the examiner is talking on their own track:
the energy envelopes line up at a small delay (acoustic echo), or the voice matches the
examiner's voiceprint better than the student's.
"""

from __future__ import annotations

import numpy as np
from proctorbot.storage.session_folder import ANALYSIS_SAMPLE_RATE as SAMPLE_RATE

HOP = 320  # 20-ms envelope frames


def envelope(samples: np.ndarray) -> np.ndarray:
    n = len(samples) // HOP
    if n == 0:
        return np.zeros(0)
    frames = samples[: n * HOP].reshape(n, HOP)
    return np.log(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-8)


def envelope_correlation(student: np.ndarray, examiner: np.ndarray, max_delay: float) -> float:
    """Best Pearson correlation of log-energy envelopes, examiner leading by 0…max_delay s.

    ``examiner`` must start ``max_delay`` seconds before ``student`` and be as long plus that.
    """
    s = envelope(student)
    e = envelope(examiner)
    lags = int(max_delay * SAMPLE_RATE / HOP)
    if len(s) < 10 or len(e) < len(s):
        return 0.0
    best = 0.0
    s = s - s.mean()
    s_norm = np.linalg.norm(s)
    if s_norm < 1e-6:
        return 0.0
    for lag in range(0, lags + 1):
        offset = lags - lag  # examiner index aligned with student start, minus the delay
        seg = e[offset : offset + len(s)]
        if len(seg) < len(s):
            break
        seg = seg - seg.mean()
        denom = s_norm * np.linalg.norm(seg)
        if denom > 1e-6:
            best = max(best, float(np.dot(s, seg) / denom))
    return best
