"""The examiner's own track beside the student's: where the examiner's voice, and its echo
through the student's loudspeaker and microphone, can reach a window of the student track.

Used by the third-party voice detector (``detection/third_party_voice.py``) so that the
examiner heard on the student's microphone is never taken for a prompter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from proctorbot.detection.audio_models import AudioModels
from proctorbot.detection.echo_check import envelope_correlation
from proctorbot.detection.speech_activity import FRAME_SECONDS, StreamingVad
from proctorbot.detection.track_buffer import TrackBuffer
from proctorbot.detection.voiceprint import Voiceprint
from proctorbot.storage.session_folder import ANALYSIS_SAMPLE_RATE as SAMPLE_RATE

if TYPE_CHECKING:
    from proctorbot.detection.third_party_voice import ThirdPartyConfig, WindowScore


class ExaminerEcho:
    """The examiner's track (16 kHz float), its speech activity and, once learnt, its voice."""

    def __init__(
        self, models: AudioModels, config: ThirdPartyConfig, keep_seconds: float, present: bool
    ) -> None:
        self.models = models
        self.config = config
        self.buffer = TrackBuffer(keep_seconds)
        self.present = present  # an examiner track is fed (or will be)
        self.vad: StreamingVad | None = models.new_vad() if present else None
        self.voiceprint: Voiceprint | None = None
        self._next_print_end = config.window_seconds

    def feed(self, samples: np.ndarray) -> None:
        """The next samples of the examiner track (a gap already filled with silence)."""
        if self.vad is None:
            self.vad = self.models.new_vad()
            self.present = True
        self.buffer.append(samples)
        self.vad.feed(samples)
        self._learn_voice()

    def ready(self, student_seconds: float, until: float, final: bool) -> bool:
        """Whether the examiner track has come far enough to judge the student up to
        ``until`` (or lags so far that waiting longer is pointless)."""
        if not self.present or final:
            return True
        lag = student_seconds - self.buffer.seconds
        return self.buffer.seconds >= until or lag > self.config.examiner_wait

    def near(self, start: float, end: float) -> bool:
        """Any examiner speech whose echo (delay plus the room's tail) can reach [start, end),
        or that starts within the tail after it (the overlap model smears across onsets)."""
        if self.vad is None:
            return False
        cfg = self.config
        reach = cfg.echo_max_delay + cfg.echo_tail
        fa = int((start - reach) / FRAME_SECONDS)
        fb = int(np.ceil((end + cfg.echo_tail) / FRAME_SECONDS))
        return bool(self.vad.active(fa, fb).any())

    def speaking(self, start: float, end: float) -> float:
        """The share of [start - echo delay, end) in which the examiner speaks."""
        if self.vad is None:
            return 0.0
        return self.vad.fraction(start - self.config.echo_max_delay, end)

    def judge(self, window: WindowScore, audio: np.ndarray, emb: np.ndarray) -> None:
        """Mark on ``window`` how much the examiner speaks in it and whether the student's
        audio follows the examiner's envelope (an echo)."""
        cfg = self.config
        window.examiner_share = self.speaking(window.start, window.end)
        if window.examiner_share < cfg.echo_min_examiner_speech:
            return
        ref = self.buffer.slice(window.start - cfg.echo_max_delay, window.end)
        corr = envelope_correlation(audio, ref, cfg.echo_max_delay)
        if self.voiceprint is not None:
            window.examiner_similarity = self.voiceprint.similarity(emb)
        window.echo = corr >= cfg.echo_envelope_correlation

    def echo_free_speech(
        self, student: TrackBuffer, student_vad: StreamingVad, start: float, end: float
    ) -> np.ndarray | None:
        """The window's speech frames that no examiner speech (delayed up to echo_max_delay,
        plus the room's tail) can reach; None when under ``min_echo_free_seconds`` or gone."""
        cfg = self.config
        if self.vad is None or start * SAMPLE_RATE < student.base:
            return None
        frame = FRAME_SECONDS
        fa, fb = int(start / frame), int(np.ceil(end / frame))
        speech = student_vad.active(fa, fb)
        reach = int(np.ceil((cfg.echo_max_delay + cfg.echo_tail) / frame))
        examiner = self.vad.active(fa - reach, fb)
        # window frame i (examiner frame i + reach) is reachable when the examiner spoke in
        # any of examiner frames i … i + reach
        total = np.concatenate([[0], np.cumsum(examiner)])
        n = len(speech)
        i = np.arange(n)
        reached = total[i + reach + 1] - total[i] > 0
        keep = speech & ~reached
        if keep.sum() * frame < cfg.min_echo_free_seconds:
            return None
        audio = student.slice(fa * frame, fb * frame)
        step = int(round(frame * SAMPLE_RATE))
        parts = [audio[i * step : (i + 1) * step] for i in np.flatnonzero(keep)]
        return np.concatenate(parts)

    def _learn_voice(self) -> None:
        cfg = self.config
        assert self.vad is not None
        while self._next_print_end <= self.vad.seconds:
            end = self._next_print_end
            self._next_print_end += cfg.hop_seconds
            if self.voiceprint is not None and self.voiceprint.weight >= cfg.examiner_print_windows:
                continue
            if self.vad.fraction(end - cfg.window_seconds, end) < 0.8:
                continue
            emb = self.models.embedder.embed(self.buffer.slice(end - cfg.window_seconds, end))
            if self.voiceprint is None:
                self.voiceprint = Voiceprint(emb, cfg.window_seconds, 1.0, "examiner track")
            else:
                self.voiceprint.refine(emb, cfg.window_seconds)
