"""A 16 kHz mono 16-bit WAV that grows while the session runs.

The RIFF sizes are rewritten about once a second, so after a crash the header
covers everything but the last second; ``write_at`` pads holes with silence so a
sample's position is always its wall-clock time since the file's start.
"""

from __future__ import annotations

import os
import struct
import time
from pathlib import Path

import numpy as np
from proctorbot.recording.whole_writes import append_whole
from proctorbot.storage.session_folder import ANALYSIS_SAMPLE_RATE


class AnalysisWavWriter:
    def __init__(self, path: Path, sample_rate: int = ANALYSIS_SAMPLE_RATE) -> None:
        self.path = path
        self.sample_rate = sample_rate
        self.samples = 0
        self._file = open(path, "wb", buffering=0)  # noqa: SIM115 - closed in close()
        try:
            self._size = append_whole(self._file, self._header(0), 0)
        except OSError:
            self._file.close()
            raise
        self._last_header = time.monotonic()

    def _header(self, samples: int) -> bytes:
        data = samples * 2
        return (
            b"RIFF"
            + struct.pack("<I", 36 + data)
            + b"WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 1, 1, self.sample_rate, self.sample_rate * 2, 2, 16)
            + b"data"
            + struct.pack("<I", data)
        )

    def write_at(self, position: int, pcm: np.ndarray, tolerance: int = 480) -> None:
        """Write int16 mono samples whose first one belongs at ``position``.

        Within ``tolerance`` samples (30 ms at 16 kHz) of the end the samples are
        appended as they are, so arrival jitter never chops speech.
        """
        if position - self.samples > tolerance:
            hole = min(position - self.samples, self.sample_rate * 3600)
            self._size = append_whole(self._file, np.zeros(hole, dtype="<i2").tobytes(), self._size)
            self.samples += hole
        elif self.samples - position > tolerance:
            pcm = pcm[self.samples - position :]  # overlap from clock drift: keep what is new
        if len(pcm):
            data = np.asarray(pcm, dtype="<i2").tobytes()
            self._size = append_whole(self._file, data, self._size)
            self.samples += len(pcm)
        if time.monotonic() - self._last_header > 1.0:
            self._update_header()

    def _update_header(self) -> None:
        os.pwrite(self._file.fileno(), self._header(self.samples), 0)
        self._last_header = time.monotonic()

    def close(self) -> None:
        if self._file.closed:
            return
        try:
            self._update_header()
            os.fsync(self._file.fileno())
        finally:
            self._file.close()
