"""Opus → 16 kHz mono PCM for the analysis WAV and the live detectors (worker thread)."""

from __future__ import annotations

import logging

import av
import numpy as np
from proctorbot.recording.frames import EncodedFrame
from proctorbot.storage.session_folder import ANALYSIS_SAMPLE_RATE

logger = logging.getLogger(__name__)


class OpusToPcm:
    """Decodes one connection's Opus packets; returns (wall-clock time, int16 mono)."""

    def __init__(self, sample_rate: int = ANALYSIS_SAMPLE_RATE) -> None:
        self._decoder = av.CodecContext.create("opus", "r")
        self._decoder.sample_rate = 48000
        self._decoder.layout = "stereo"
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=sample_rate)

    def decode(self, frame: EncodedFrame) -> tuple[float, np.ndarray] | None:
        try:
            decoded = self._decoder.decode(av.Packet(frame.data))
        except av.FFmpegError as exc:
            logger.debug("opus packet not decodable: %s", exc)
            return None
        chunks = [
            out.to_ndarray().reshape(-1)
            for audio in decoded
            for out in self._resampler.resample(audio)
        ]
        if not chunks:
            return None
        return frame.wall or frame.arrival, np.concatenate(chunks).astype(np.int16, copy=False)
