"""Live detector of voices other than the student's on the student's own microphone track.

Fed with 16 kHz int16 chunks (the bot's ``audio_chunks``, or a WAV file cut into chunks by
the offline CLI — the same object either way). Every ``hop`` seconds a window of the student
track that holds speech is embedded with CAM++ and compared with the student's voiceprint;
a mismatch that is not the examiner's echo opens a third-party finding. Every few seconds
segmentation-3.0 scores overlapped speech (two voices at once, e.g. a whispering prompter).
An event is emitted as soon as a finding is confirmed, so the delay from onset stays ≤ 5 s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from proctorbot.detection.audio_input import int16_to_float, write_wav
from proctorbot.detection.audio_models import AudioModels
from proctorbot.detection.echo_check import envelope_correlation
from proctorbot.detection.events import DetectorEvent, EventKind
from proctorbot.detection.own_voice_level import OwnVoiceLevel
from proctorbot.detection.speech_activity import FRAME_SECONDS, SpeechSegment
from proctorbot.detection.track_buffer import TrackBuffer
from proctorbot.detection.voiceprint import Voiceprint
from proctorbot.storage.session_folder import ANALYSIS_SAMPLE_RATE as SAMPLE_RATE

EMBED_BATCH = 8  # windows embedded in one CAM++ call when several are ready at once


@dataclass(frozen=True)
class ThirdPartyConfig:
    window_seconds: float = 2.0
    hop_seconds: float = 1.0
    min_speech_fraction: float = 0.5
    similarity_threshold: float = 0.35
    confirm_windows: int = 1
    merge_gap: float = 1.0
    # a voice close to the student's (passes similarity_threshold) but far below this
    # student's own level (see OwnVoiceLevel) for dip_windows windows in a row (~4 s)
    dip_drop: float = 0.3
    dip_cap: float = 0.5
    dip_windows: int = 3
    refine_similarity: float = 0.6  # windows this close to the student refine the voiceprint
    refine_until: float = 300.0  # seconds of session: "the first minutes of the exam"
    overlap_threshold: float = 0.3
    overlap_every: float = 2.5
    overlap_min_seconds: float = 0.3
    echo_max_delay: float = 0.5
    echo_min_examiner_speech: float = 0.2
    echo_tail: float = 0.2  # room decay: the echo outlasts the examiner's speech by this much
    min_echo_free_seconds: float = 0.5  # speech left after cutting the echo, to re-check
    echo_envelope_correlation: float = 0.6
    examiner_print_windows: int = 8
    cluster_after_windows: int = 8
    cluster_distance: float = 0.55
    clip_seconds: float = 5.0
    examiner_wait: float = 2.0  # how far the examiner track may lag before we stop waiting


@dataclass
class WindowScore:
    """One analysed window of the student track."""

    start: float
    end: float
    similarity: float
    examiner_similarity: float | None = None
    echo: bool = False
    third_party: bool = False
    examiner_share: float = 0.0
    echo_free_similarity: float | None = None  # the window re-scored without its echo frames


@dataclass
class Finding:
    """A stretch of third-party or overlapped speech, times in seconds from the session start."""

    kind: EventKind
    start: float
    end: float
    scores: list[float] = field(default_factory=list)
    emitted: bool = False
    firm: int = 0  # windows free of the examiner's voice; a finding needs one to be emitted

    @property
    def score(self) -> float:
        return float(np.mean(self.scores)) if self.scores else 0.0

    def to_json(self) -> dict[str, float]:
        return {
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "score": round(self.score, 3),
        }


class ThirdPartyVoiceDetector:
    """Incremental detector for one student track (plus, optionally, the examiner's track)."""

    def __init__(
        self,
        models: AudioModels,
        voiceprint: Voiceprint | None,
        config: ThirdPartyConfig | None = None,
        *,
        track: str = "student",
        with_examiner: bool = False,
        session_offset: float = 0.0,
        session_dir: Path | None = None,
        on_event: Callable[[DetectorEvent], None] | None = None,
    ) -> None:
        self.models = models
        self.config = config or ThirdPartyConfig(
            similarity_threshold=models.settings.voice_similarity_threshold,
            overlap_threshold=models.settings.overlap_threshold,
        )
        self.voiceprint = voiceprint
        self.track = track
        self.with_examiner = with_examiner
        self.offset = session_offset
        self.session_dir = session_dir
        self.on_event = on_event
        keep = max(20.0, self.config.window_seconds + 12.0)
        self.student = TrackBuffer(keep)
        self.examiner = TrackBuffer(keep)
        self.student_vad = models.new_vad()
        self.examiner_vad = models.new_vad() if with_examiner else None
        self.examiner_print: Voiceprint | None = None
        self._examiner_next = self.config.window_seconds
        self._next_window_end = self.config.window_seconds
        self._next_overlap_end = self.config.overlap_every
        self._overlap_done = 0.0  # the track is scored for overlap up to here
        self.windows: list[WindowScore] = []
        self._unassigned: list[tuple[WindowScore, np.ndarray]] = []  # waiting for a voiceprint
        self.own_level = OwnVoiceLevel(drop=self.config.dip_drop, cap=self.config.dip_cap)
        self._dip_run: list[WindowScore] = []  # windows in a row far below the own level
        self.third_party: list[Finding] = []
        self.overlap: list[Finding] = []
        self._overlap_frames: list[tuple[float, float, float]] = []
        self.messages: list[str] = []

    # ----------------------------------------------------------------- feeding
    def feed_examiner(self, chunk: np.ndarray, at: float | None = None) -> list[DetectorEvent]:
        """Examiner's own track, int16 mono 16 kHz; used only to recognise their echo.

        ``at`` is the chunk's time in seconds from the session start (the bot's timestamp);
        a gap since the previous chunk is filled with silence so both tracks stay aligned.
        """
        if self.examiner_vad is None:
            self.examiner_vad = self.models.new_vad()
            self.with_examiner = True
        samples = self._fill_gap(self.examiner, int16_to_float(chunk), at)
        self.examiner.append(samples)
        self.examiner_vad.feed(samples)
        self._learn_examiner_voice()
        return self._process()

    def feed(self, chunk: np.ndarray, at: float | None = None) -> list[DetectorEvent]:
        """Student's track, int16 mono 16 kHz; returns the events confirmed by this chunk."""
        samples = self._fill_gap(self.student, int16_to_float(chunk), at)
        self.student.append(samples)
        self.student_vad.feed(samples)
        return self._process()

    def finish(self) -> list[DetectorEvent]:
        """End of the track: analyse what is left and close open findings."""
        return self._process(final=True)

    def _fill_gap(self, buffer: TrackBuffer, samples: np.ndarray, at: float | None) -> np.ndarray:
        if at is None:
            return samples
        gap = int(round((at - self.offset - buffer.seconds) * SAMPLE_RATE))
        if gap > SAMPLE_RATE // 20:  # > 50 ms missing (packet loss, muted track)
            return np.concatenate([np.zeros(gap, np.float32), samples])
        return samples

    # ----------------------------------------------------------------- results
    def speech(self) -> list[SpeechSegment]:
        return [
            SpeechSegment(s.start + self.offset, s.end + self.offset)
            for s in self.student_vad.segments()
        ]

    # ----------------------------------------------------------------- internals
    def _examiner_ready(self, until: float, final: bool) -> bool:
        if not self.with_examiner or final:
            return True
        lag = self.student.seconds - self.examiner.seconds
        return self.examiner.seconds >= until or lag > self.config.examiner_wait

    def _process(self, final: bool = False) -> list[DetectorEvent]:
        events: list[DetectorEvent] = []
        cfg = self.config
        available = min(self.student.seconds, self.student_vad.seconds)
        spans: list[tuple[float, float]] = []
        while self._next_window_end <= available and self._examiner_ready(
            self._next_window_end, final
        ):
            end = self._next_window_end
            spans.append((end - cfg.window_seconds, end))
            self._next_window_end += cfg.hop_seconds
        if final and available > 0 and self._next_window_end - cfg.hop_seconds < available - 0.5:
            spans.append((max(0.0, available - cfg.window_seconds), available))
            self._next_window_end = available + cfg.hop_seconds
        for (start, end), emb in self._embed_speech_windows(spans):
            events += self._analyse_window(start, end, emb)
        while self._next_overlap_end <= available and self._examiner_ready(
            self._next_overlap_end, final
        ):
            events += self._analyse_overlap(self._next_overlap_end)
            self._next_overlap_end += cfg.overlap_every
        if final and self._overlap_done < available:
            events += self._analyse_overlap(available)
            self._next_overlap_end = available + cfg.overlap_every
        return events

    def _learn_examiner_voice(self) -> None:
        cfg = self.config
        assert self.examiner_vad is not None
        while self._examiner_next <= self.examiner_vad.seconds:
            end = self._examiner_next
            self._examiner_next += cfg.hop_seconds
            if (
                self.examiner_print is not None
                and self.examiner_print.weight >= cfg.examiner_print_windows
            ):
                continue
            if self.examiner_vad.fraction(end - cfg.window_seconds, end) < 0.8:
                continue
            emb = self.models.embedder.embed(self.examiner.slice(end - cfg.window_seconds, end))
            if self.examiner_print is None:
                self.examiner_print = Voiceprint(emb, cfg.window_seconds, 1.0, "examiner track")
            else:
                self.examiner_print.refine(emb, cfg.window_seconds)

    def _examiner_near(self, start: float, end: float) -> bool:
        """Any examiner speech whose echo (delay plus the room's tail) can reach [start, end),
        or that starts within the tail after it (the overlap model smears across onsets)."""
        if self.examiner_vad is None:
            return False
        cfg = self.config
        reach = cfg.echo_max_delay + cfg.echo_tail
        fa = int((start - reach) / FRAME_SECONDS)
        fb = int(np.ceil((end + cfg.echo_tail) / FRAME_SECONDS))
        return bool(self.examiner_vad.active(fa, fb).any())

    def _examiner_speaking(self, start: float, end: float) -> float:
        if self.examiner_vad is None:
            return 0.0
        return self.examiner_vad.fraction(start - self.config.echo_max_delay, end)

    def _embed_speech_windows(
        self, spans: list[tuple[float, float]]
    ) -> list[tuple[tuple[float, float], np.ndarray]]:
        """CAM++ embeddings of the spans that hold enough speech, equal lengths in one batch.

        A live chunk brings one window at a time; a file fed in longer chunks brings several,
        and a batch of 4 costs ~30 % less CPU per window than 4 single calls.
        """
        cfg = self.config
        speech = [
            span for span in spans if self.student_vad.fraction(*span) >= cfg.min_speech_fraction
        ]
        out: list[tuple[tuple[float, float], np.ndarray]] = []
        for i in range(0, len(speech), EMBED_BATCH):
            group = speech[i : i + EMBED_BATCH]
            audio = [self.student.slice(a, b) for a, b in group]
            if (
                len({len(x) for x in audio}) == 1
                and len(audio[0]) >= self.models.embedder.min_samples
            ):
                batch = torch.from_numpy(np.stack(audio).astype(np.float32, copy=False))
                out += zip(group, self.models.embedder.embed_batch(batch).numpy(), strict=True)
            else:
                out += [
                    (span, self.models.embedder.embed(x))
                    for span, x in zip(group, audio, strict=True)
                ]
        return out

    def _echo_free_speech(self, start: float, end: float) -> np.ndarray | None:
        """The window's speech frames that no examiner speech (delayed up to echo_max_delay,
        plus the room's tail) can reach; None when under ``min_echo_free_seconds`` or gone."""
        cfg = self.config
        if self.examiner_vad is None or start * SAMPLE_RATE < self.student.base:
            return None
        frame = FRAME_SECONDS
        fa, fb = int(start / frame), int(np.ceil(end / frame))
        speech = self.student_vad.active(fa, fb)
        reach = int(np.ceil((cfg.echo_max_delay + cfg.echo_tail) / frame))
        examiner = self.examiner_vad.active(fa - reach, fb)
        # window frame i (examiner frame i + reach) is reachable when the examiner spoke in
        # any of examiner frames i … i + reach
        total = np.concatenate([[0], np.cumsum(examiner)])
        n = len(speech)
        i = np.arange(n)
        reached = total[i + reach + 1] - total[i] > 0
        keep = speech & ~reached
        if keep.sum() * frame < cfg.min_echo_free_seconds:
            return None
        audio = self.student.slice(fa * frame, fb * frame)
        step = int(round(frame * SAMPLE_RATE))
        parts = [audio[i * step : (i + 1) * step] for i in np.flatnonzero(keep)]
        return np.concatenate(parts)

    def _analyse_window(self, start: float, end: float, emb: np.ndarray) -> list[DetectorEvent]:
        cfg = self.config
        audio = self.student.slice(start, end)
        window = WindowScore(start, end, similarity=float("nan"))
        examiner_share = self._examiner_speaking(start, end)
        window.examiner_share = examiner_share
        if examiner_share >= cfg.echo_min_examiner_speech:
            ref = self.examiner.slice(start - cfg.echo_max_delay, end)
            corr = envelope_correlation(audio, ref, cfg.echo_max_delay)
            if self.examiner_print is not None:
                window.examiner_similarity = self.examiner_print.similarity(emb)
            window.echo = corr >= cfg.echo_envelope_correlation
        if self.voiceprint is None:
            self._unassigned.append((window, emb))
            self.windows.append(window)
            return self._try_clustering()
        return self._score_window(window, emb)

    def _score_window(self, window: WindowScore, emb: np.ndarray) -> list[DetectorEvent]:
        cfg = self.config
        assert self.voiceprint is not None
        window.similarity = self.voiceprint.similarity(emb)
        if window.examiner_similarity is not None and window.examiner_similarity > max(
            window.similarity, cfg.similarity_threshold
        ):
            window.echo = True
        if window not in self.windows:
            self.windows.append(window)
        if window.echo:
            self._dip_run.clear()
            return []
        if (
            window.similarity < cfg.similarity_threshold
            and window.examiner_share >= cfg.echo_min_examiner_speech
        ):
            # part echo, part the student (the examiner stops, the student answers): judge
            # the frames the examiner's voice cannot reach
            free = self._echo_free_speech(window.start, window.end)
            if free is not None:
                window.echo_free_similarity = self.voiceprint.similarity(
                    self.models.embedder.embed(free)
                )
                if window.echo_free_similarity >= cfg.similarity_threshold:
                    window.echo = True
                    self._dip_run.clear()
                    return []
        if window.similarity < cfg.similarity_threshold:
            self._dip_run.clear()
            window.third_party = True
            score = float(np.clip(1.0 - window.similarity, 0.0, 1.0))
            # a window the examiner's echo may reach (too little of it left to re-check)
            # extends a finding but cannot open one: the next echo-free window confirms it
            firm = window.examiner_share < cfg.echo_min_examiner_speech
            return self._extend(
                self.third_party,
                EventKind.THIRD_PARTY_VOICE,
                window.start,
                window.end,
                score,
                firm,
            )
        events = self._judge_own_level(window)
        if window.similarity >= cfg.refine_similarity and window.end <= cfg.refine_until:
            self.voiceprint.refine(emb, window.end - window.start)
        return events

    def _judge_own_level(self, window: WindowScore) -> list[DetectorEvent]:
        """A window above the fixed threshold may still be far below how close this student's
        own windows come; ``dip_windows`` such windows in a row are another voice."""
        cfg = self.config
        if window.examiner_share >= cfg.echo_min_examiner_speech:
            # the examiner's voice may pull the window down: no verdict, but the student's
            self.own_level.add(window.similarity)
            self._dip_run.clear()
            return []
        if not self.own_level.below(window.similarity):
            self._dip_run.clear()
            return []
        self._dip_run.append(window)
        if len(self._dip_run) < cfg.dip_windows:
            return []
        fresh = [w for w in self._dip_run if not w.third_party]  # the run so far, or its newest
        for w in fresh:
            w.third_party = True
        score = float(np.clip(1.0 - np.mean([w.similarity for w in fresh]), 0.0, 1.0))
        return self._extend(
            self.third_party, EventKind.THIRD_PARTY_VOICE, fresh[0].start, fresh[-1].end, score
        )

    def _try_clustering(self) -> list[DetectorEvent]:
        """No usable enrollment: the largest cluster of the track's own speech is the student."""
        cfg = self.config
        clean = [(w, e) for w, e in self._unassigned if not w.echo]
        if len(clean) < cfg.cluster_after_windows:
            return []
        from sklearn.cluster import AgglomerativeClustering

        vectors = np.stack([e for _, e in clean])
        labels = AgglomerativeClustering(
            n_clusters=None,
            metric="cosine",
            linkage="average",
            distance_threshold=cfg.cluster_distance,
        ).fit_predict(vectors)
        biggest = np.bincount(labels).argmax()
        members = vectors[labels == biggest]
        self.voiceprint = Voiceprint(
            members.mean(axis=0), len(members) * cfg.hop_seconds, float(len(members)), "clustering"
        )
        self.messages.append(
            f"voiceprint built by clustering the track ({len(members)} of {len(clean)} windows)"
        )
        pending, self._unassigned = self._unassigned, []
        events: list[DetectorEvent] = []
        for window, emb in pending:
            events += self._score_window(window, emb)
        return events

    def _analyse_overlap(self, end: float) -> list[DetectorEvent]:
        cfg = self.config
        start = max(0.0, end - 10.0)
        first_new, self._overlap_done = self._overlap_done, end
        if self.student_vad.fraction(first_new, end) < 0.2:
            return []
        probs, step = self.models.overlap.overlap_probability(self.student.slice(start, end))
        events: list[DetectorEvent] = []
        run_start: float | None = None
        run_scores: list[float] = []
        for i, p in enumerate(probs):
            t = start + i * step
            if t < first_new - cfg.overlap_min_seconds:
                continue
            on = p >= cfg.overlap_threshold and not self._examiner_near(t, t + step)
            if on:
                run_start = t if run_start is None else run_start
                run_scores.append(float(p))
            if (not on or i == len(probs) - 1) and run_start is not None:
                run_end = t + step
                if run_end - run_start >= cfg.overlap_min_seconds and run_end > first_new:
                    events += self._extend(
                        self.overlap,
                        EventKind.OVERLAPPED_SPEECH,
                        max(run_start, first_new - cfg.overlap_min_seconds),
                        run_end,
                        float(np.mean(run_scores)),
                    )
                run_start, run_scores = None, []
        return events

    def _extend(
        self,
        findings: list[Finding],
        kind: EventKind,
        start: float,
        end: float,
        score: float,
        firm: bool = True,
    ) -> list[DetectorEvent]:
        last = findings[-1] if findings else None
        if (
            last is not None
            and start <= last.end + self.config.merge_gap
            and last.end >= start - self.config.merge_gap
        ):
            last.end = max(last.end, end)
            last.scores.append(score)
        else:
            last = Finding(kind, start, end, [score])
            findings.append(last)
        last.firm += firm
        confirm = self.config.confirm_windows if kind is EventKind.THIRD_PARTY_VOICE else 1
        if not last.emitted and len(last.scores) >= confirm and last.firm:
            last.emitted = True
            return [self._event(last, end)]
        return []

    def _event(self, finding: Finding, now: float) -> DetectorEvent:
        evidence: tuple[str, ...] = ()
        if self.session_dir is not None:
            clip_start = max(0.0, min(finding.start - 0.5, now - self.config.clip_seconds))
            clip = self.student.slice(clip_start, clip_start + self.config.clip_seconds)
            name = f"evidence/{finding.kind}_{self.track}_{finding.start + self.offset:09.2f}.wav"
            write_wav(self.session_dir / name, clip)
            evidence = (name,)
        event = DetectorEvent(
            kind=finding.kind,
            start=finding.start + self.offset,
            end=finding.end + self.offset,
            score=round(finding.score, 3),
            track=self.track,
            evidence=evidence,
            details={
                "detected_at": round(now + self.offset, 3),
                "voiceprint": self.voiceprint.source if self.voiceprint else None,
            },
        )
        if self.on_event is not None:
            self.on_event(event)
        return event

    def _in_session(self, items: list[Finding]) -> list[dict[str, float]]:
        off = self.offset
        return [
            {
                "start": round(f.start + off, 3),
                "end": round(f.end + off, 3),
                "score": round(f.score, 3),
            }
            for f in items
        ]

    def findings_json(self) -> dict[str, list[dict[str, float]]]:
        return {
            "third_party": self._in_session([f for f in self.third_party if f.firm]),
            "overlap": self._in_session(self.overlap),
            "speech": [s.to_json() for s in self.speech()],
        }

    def growing_findings_json(self) -> dict[str, list[dict[str, float]]]:
        """The newest finding of each kind, as in ``findings_json``: the only ones that can
        still grow (``_extend`` moves only the last). The bot asks after every chunk."""
        return {
            "third_party": self._in_session([f for f in self.third_party[-1:] if f.firm]),
            "overlap": self._in_session(self.overlap[-1:]),
        }
