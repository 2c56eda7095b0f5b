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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from proctorbot.detection.audio_input import int16_to_float, write_wav
from proctorbot.detection.audio_models import AudioModels
from proctorbot.detection.events import DetectorEvent, EventKind
from proctorbot.detection.examiner_echo import ExaminerEcho
from proctorbot.detection.overlap import FrameScores
from proctorbot.detection.own_voice_level import OwnVoiceLevel
from proctorbot.detection.second_voice import SecondVoiceHead
from proctorbot.detection.speech_activity import SpeechSegment
from proctorbot.detection.track_buffer import TrackBuffer
from proctorbot.detection.voice_findings import Finding, extend_findings, findings_in_session
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
    # a frame whose second-voice probability (detection/second_voice.py: a head on the
    # overlap model's hidden layer) reaches this counts as overlapped speech; 0 = off (the
    # default: on the held-apart set it did not earn its place, see the README). 0.99 was
    # chosen by leave-one-speaker-out on the tuning speakers (benchmarks/voices.py --set
    # tuning-cv), never on the held-apart ones.
    second_voice_threshold: float = 0.0
    second_voice_lag: float = 1.5  # judge frames this far inside the chunk (seen both sides)
    second_voice_smooth: float = 0.5  # seconds of causal moving average of the probability
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
        self.offset = session_offset
        self.session_dir = session_dir
        self.on_event = on_event
        keep = max(20.0, self.config.window_seconds + 12.0)
        self.student = TrackBuffer(keep)
        self.student_vad = models.new_vad()
        self.examiner = ExaminerEcho(models, self.config, keep, with_examiner)
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
        self.second_voice = (
            SecondVoiceHead.load() if self.config.second_voice_threshold > 0 else None
        )
        self.second: list[Finding] = []  # the second-voice head's own overlapped speech
        self._second_done = 0.0  # its frames are judged up to here
        self.messages: list[str] = []

    # ----------------------------------------------------------------- feeding
    def feed_examiner(self, chunk: np.ndarray, at: float | None = None) -> list[DetectorEvent]:
        """Examiner's own track, int16 mono 16 kHz; used only to recognise their echo.

        ``at`` is the chunk's time in seconds from the session start (the bot's timestamp);
        a gap since the previous chunk is filled with silence so both tracks stay aligned.
        """
        self.examiner.feed(self._fill_gap(self.examiner.buffer, int16_to_float(chunk), at))
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
        return self.examiner.ready(self.student.seconds, until, final)

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
            events += self._analyse_overlap(available, final=True)
        elif final and self.second_voice is not None and self._second_done < available:
            start = max(0.0, available - 10.0)
            scores = self.models.overlap.frame_scores(self.student.slice(start, available))
            events += self._judge_second_voice(start, available, scores, final=True)
            self._next_overlap_end = available + cfg.overlap_every
        return events

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

    def _analyse_window(self, start: float, end: float, emb: np.ndarray) -> list[DetectorEvent]:
        audio = self.student.slice(start, end)
        window = WindowScore(start, end, similarity=float("nan"))
        self.examiner.judge(window, audio, emb)
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
            free = self.examiner.echo_free_speech(
                self.student, self.student_vad, window.start, window.end
            )
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

    def _judge_second_voice(
        self, start: float, end: float, scores: FrameScores, final: bool
    ) -> list[DetectorEvent]:
        """With ``second_voice_lag``: the head's frames that now sit that far inside the
        chunk (the bidirectional model has heard what follows them), runs of them at or
        above ``second_voice_threshold`` for ``overlap_min_seconds`` become overlapped
        speech; the examiner's reach is masked as for the overlap frames."""
        cfg = self.config
        if self.second_voice is None or scores.features is None or cfg.second_voice_lag <= 0:
            return []
        p = self.second_voice.probability(scores.features)
        step = scores.step
        if cfg.second_voice_smooth > 0:
            w = max(1, int(round(cfg.second_voice_smooth / step)))
            p = np.convolve(p, np.ones(w) / w, mode="full")[: len(p)]
        upto = end if final else end - cfg.second_voice_lag
        first_new, self._second_done = self._second_done, max(self._second_done, upto)
        events: list[DetectorEvent] = []
        run_start: float | None = None
        run_scores: list[float] = []
        for i, q in enumerate(p):
            t = start + i * step
            if t < first_new - cfg.overlap_min_seconds:
                continue
            last = t + step >= upto or i == len(p) - 1
            on = (
                t < upto and q >= cfg.second_voice_threshold and not self.examiner.near(t, t + step)
            )
            if on:
                run_start = t if run_start is None else run_start
                run_scores.append(float(q))
            if (not on or last) and run_start is not None:
                run_end = t + step if on else t
                if run_end - run_start >= cfg.overlap_min_seconds and run_end > first_new:
                    events += self._extend(
                        self.second,
                        EventKind.OVERLAPPED_SPEECH,
                        max(run_start, first_new - cfg.overlap_min_seconds),
                        run_end,
                        float(np.mean(run_scores)),
                    )
                run_start, run_scores = None, []
            if last:
                break
        return events

    def _analyse_overlap(self, end: float, final: bool = False) -> list[DetectorEvent]:
        cfg = self.config
        start = max(0.0, end - 10.0)
        first_new, self._overlap_done = self._overlap_done, end
        quiet = self.student_vad.fraction(first_new, end) < 0.2
        head_due = (
            self.second_voice is not None
            and cfg.second_voice_lag > 0
            and self.student_vad.fraction(self._second_done, end) >= 0.2
        )
        if quiet and not head_due:
            return []
        scores = self.models.overlap.frame_scores(self.student.slice(start, end))
        events = self._judge_second_voice(start, end, scores, final)
        if quiet:  # the overlap frames are judged only when the newest part holds speech
            return events
        probs, step = scores.overlap, scores.step
        if (
            cfg.second_voice_lag <= 0
            and self.second_voice is not None
            and scores.features is not None
        ):
            second = self.second_voice.probability(scores.features)
            # a frame counts when either says two voices; scored against the overlap threshold
            probs = np.where(
                second >= cfg.second_voice_threshold,
                np.maximum(probs, cfg.overlap_threshold),
                probs,
            )
        run_start: float | None = None
        run_scores: list[float] = []
        for i, p in enumerate(probs):
            t = start + i * step
            if t < first_new - cfg.overlap_min_seconds:
                continue
            on = p >= cfg.overlap_threshold and not self.examiner.near(t, t + step)
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
        confirm = self.config.confirm_windows if kind is EventKind.THIRD_PARTY_VOICE else 1
        confirmed = extend_findings(
            findings,
            kind,
            start,
            end,
            score,
            merge_gap=self.config.merge_gap,
            confirm=confirm,
            firm=firm,
        )
        return [] if confirmed is None else [self._event(confirmed, end)]

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

    def findings_json(self) -> dict[str, list[dict[str, float]]]:
        return {
            "third_party": findings_in_session(
                [f for f in self.third_party if f.firm], self.offset
            ),
            "overlap": findings_in_session(
                sorted(self.overlap + self.second, key=lambda f: f.start), self.offset
            ),
            "speech": [s.to_json() for s in self.speech()],
        }

    def growing_findings_json(self) -> dict[str, list[dict[str, float]]]:
        """The newest finding of each kind, as in ``findings_json``: the only ones that can
        still grow (``_extend`` moves only the last). The bot asks after every chunk."""
        return {
            "third_party": findings_in_session(
                [f for f in self.third_party[-1:] if f.firm], self.offset
            ),
            "overlap": findings_in_session(self.overlap[-1:] + self.second[-1:], self.offset),
        }
