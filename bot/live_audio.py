"""The student's microphone (and the examiner's, for echo) into the third-party voice detector.

``ThirdPartyVoiceDetector`` counts time in samples from its first one; the bot hands
chunks stamped with wall-clock seconds. ``PcmAligner`` keeps the two in step: silence
fills a gap (a dropped packet run, a slow consumer that lost chunks), an overlap from
clock jitter is cut, so a sample's place in the detector is its time in the session.
A gap longer than ``max_gap_s`` (the student reconnecting) starts a new stretch with a
fresh detector at the new time, keeping the voiceprint learnt so far.

All detector calls run in one worker thread per session, in order: the event loop
(and the recording it drives) never waits for a model. A call under way when the watch
is cancelled is waited for and its events handed on (``off_loop.to_the_end``); samples
not yet fed are fed by ``finish``, which also closes what is still open.

The detector emits a third-party voice once it is confirmed, with the end known then;
the finding may go on growing. Each time it has grown by ``extent_every_s`` one more event
with the same start and the new end is written (so a crash loses at most that much of
its extent), and ``finish`` writes the final extent; the report merges them into one
finding.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from proctorbot.bot.off_loop import to_the_end
from proctorbot.detection.audio_models import AudioModels
from proctorbot.detection.events import DetectorEvent
from proctorbot.detection.third_party_voice import ThirdPartyVoiceDetector
from proctorbot.detection.voiceprint import Voiceprint
from proctorbot.storage.session_folder import ANALYSIS_SAMPLE_RATE as SAMPLE_RATE

log = logging.getLogger(__name__)


class PcmAligner:
    """Places timestamped int16 chunks on one sample clock that starts at ``origin``."""

    def __init__(self, origin: float, tolerance_s: float = 0.1) -> None:
        self.origin = origin
        self.samples = 0
        self.tolerance = int(tolerance_s * SAMPLE_RATE)

    def gap_before(self, t: float) -> float:
        """Seconds between what was placed so far and a chunk starting at ``t``."""
        return (t - self.origin) - self.samples / SAMPLE_RATE

    def place(self, t: float, pcm: np.ndarray) -> np.ndarray:
        """The samples to append for a chunk that starts ``t`` seconds into the session."""
        pcm = np.asarray(pcm, dtype=np.int16).reshape(-1)
        position = int(round((t - self.origin) * SAMPLE_RATE))
        if position + len(pcm) <= self.samples:
            return pcm[:0]  # entirely before what we have (or before the origin)
        if position - self.samples > self.tolerance:
            pcm = np.concatenate([np.zeros(position - self.samples, np.int16), pcm])
        elif self.samples - position > self.tolerance:
            pcm = pcm[self.samples - position :]
        self.samples += len(pcm)
        return pcm


@dataclass
class AudioStretch:
    """One continuous stretch of the student's track and its detector."""

    detector: ThirdPartyVoiceDetector
    student: PcmAligner
    examiner: PcmAligner
    student_pending: list[np.ndarray] = field(default_factory=list)
    examiner_pending: list[np.ndarray] = field(default_factory=list)
    examiner_fed: int = 0  # samples of the examiner's track already in the detector


class StudentAudioWatch:
    """Feeds one session's student (and examiner) audio to the detector, off the loop."""

    def __init__(
        self,
        models: AudioModels,
        *,
        voiceprint: Voiceprint | None = None,
        session_dir: Path,
        emit: Callable[[DetectorEvent], None],
        executor: ThreadPoolExecutor,
        batch_s: float = 0.5,
        max_gap_s: float = 30.0,
        extent_every_s: float = 5.0,
    ) -> None:
        self.models = models
        self.session_dir = Path(session_dir)
        self.emit = emit
        self.executor = executor
        self.batch = int(batch_s * SAMPLE_RATE)
        self.max_gap_s = max_gap_s
        self.extent_every_s = extent_every_s
        # the checklist's (from the session bus); None: the detector clusters the track
        self.voiceprint: Voiceprint | None = voiceprint
        self.stretch: AudioStretch | None = None
        self.track = "student"
        # The two tracks arrive (and are consumed) with their own jitter. The detector
        # judges echo best when the examiner's audio is already in it (it learns their
        # voiceprint from it), so the student's feed waits until the examiner's is
        # ``examiner_lead_s`` ahead — but never for an examiner who has gone quiet
        # (left, muted, stalled: nothing for ``examiner_wait_s``).
        self.examiner_lead_s = 0.5
        self.examiner_wait_s = 2.0
        self._examiner_moved = asyncio.Event()
        self._examiner_seen = -1e9
        self._examiner_busy = False
        self._emitted: list[DetectorEvent] = []  # by the current stretch's detector

    async def prepare(self) -> None:
        """Load the models now, so a missing one is reported before the exam goes on."""
        await self._run(self._load)
        if self.voiceprint is None:
            log.info(
                "%s: no enrolled voiceprint; the detector clusters the track", self.session_dir
            )

    def _load(self) -> None:
        _ = self.models.embedder, self.models.overlap
        self.models.new_vad()

    async def student_chunk(self, t: float, pcm: np.ndarray, track: str) -> None:
        stretch = self.stretch
        if stretch is not None and (
            track != self.track or stretch.student.gap_before(t) > self.max_gap_s
        ):
            await self.finish()
            stretch = None
        if stretch is None:
            stretch = self._new_stretch(t, track)
        stretch.student_pending.append(stretch.student.place(t, pcm))
        if sum(len(p) for p in stretch.student_pending) >= self.batch:
            # a cancel while waiting leaves the samples pending: finish() feeds them
            await self._let_examiner_catch_up(stretch)
            samples = np.concatenate(stretch.student_pending)
            stretch.student_pending.clear()
            detector = stretch.detector

            def feed() -> tuple[list[DetectorEvent], dict[str, list[dict[str, float]]]]:
                return detector.feed(samples), detector.growing_findings_json()

            events, findings = await self._run(feed)
            self._emit_all(events)
            self._emit_all(self._extended(findings, self.extent_every_s))

    async def _let_examiner_catch_up(self, stretch: AudioStretch) -> None:
        loop = asyncio.get_running_loop()
        lead = int(self.examiner_lead_s * SAMPLE_RATE)
        while (
            stretch.examiner.samples > 0
            and stretch.examiner_fed < stretch.student.samples + lead
            and (self._examiner_busy or loop.time() - self._examiner_seen < self.examiner_wait_s)
        ):
            self._examiner_moved.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._examiner_moved.wait(), self.examiner_wait_s)

    async def examiner_chunk(self, t: float, pcm: np.ndarray) -> None:
        stretch = self.stretch
        if stretch is None:
            return  # no student audio yet: nothing to suppress
        stretch.examiner_pending.append(stretch.examiner.place(t, pcm))
        self._examiner_seen = asyncio.get_running_loop().time()
        self._examiner_moved.set()
        if sum(len(p) for p in stretch.examiner_pending) >= self.batch:
            samples = np.concatenate(stretch.examiner_pending)
            stretch.examiner_pending.clear()
            self._examiner_busy = True  # its job may analyse the student windows waiting for it
            try:
                self._emit_all(await self._run(stretch.detector.feed_examiner, samples))
                stretch.examiner_fed += len(samples)
            finally:
                self._examiner_busy = False
                self._examiner_seen = asyncio.get_running_loop().time()
                self._examiner_moved.set()

    async def finish(self) -> None:
        """Close the current stretch: analyse what is left, keep the voiceprint."""
        stretch, self.stretch = self.stretch, None
        if stretch is None:
            return
        detector = stretch.detector

        def close() -> tuple[list[DetectorEvent], dict[str, list[dict[str, float]]]]:
            events: list[DetectorEvent] = []
            if stretch.student_pending:
                events += detector.feed(np.concatenate(stretch.student_pending))
            events += detector.finish()
            return events, detector.findings_json()

        events, findings = await self._run(close)
        self._emit_all(events)
        self._emit_all(self._extended(findings))
        self._emitted.clear()
        self.voiceprint = detector.voiceprint or self.voiceprint

    def _extended(
        self, findings: dict[str, list[dict[str, float]]], min_growth: float = 0.05
    ) -> list[DetectorEvent]:
        """Events for emitted findings whose end moved on by ``min_growth`` since last written."""
        extended = []
        for kind, key in (("third_party_voice", "third_party"), ("overlapped_speech", "overlap")):
            for found in findings.get(key, []):
                start, end = float(found["start"]), float(found["end"])
                emitted = next(
                    (
                        e
                        for e in reversed(self._emitted)
                        if str(e.kind) == kind and abs(e.start - start) < 0.01
                    ),
                    None,
                )
                if emitted is not None and end >= emitted.end + min_growth:
                    details = {**emitted.details, "extended_from": round(emitted.end, 3)}
                    extended.append(
                        replace(
                            emitted,
                            end=end,
                            score=max(emitted.score, float(found.get("score", 0.0))),
                            details=details,
                        )
                    )
        return extended

    def _new_stretch(self, t: float, track: str) -> AudioStretch:
        self.track = track
        detector = ThirdPartyVoiceDetector(
            self.models,
            self.voiceprint,
            track=track,
            session_offset=t,
            session_dir=self.session_dir,
        )
        self.stretch = AudioStretch(detector, PcmAligner(t), PcmAligner(t))
        return self.stretch

    def _emit_all(self, events: list[DetectorEvent]) -> None:
        for event in events:
            self._emitted.append(event)
            self.emit(event)

    async def _run(self, func, *args):  # noqa: ANN001, ANN202 - any detector call
        return await to_the_end(func, *args, executor=self.executor)
