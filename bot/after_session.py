"""The hand-over after a session: the full audio pass, the report, the organizers told.

Steps, each logged and recorded in ``handover.json`` in the session folder; a step
that fails is noted and the next ones still run on whatever exists:

1. ``recording`` — the bot leaves (the recorder closes the files, writes the manifest
   and the composite), then the manifest is read;
2. ``speech`` — voice activity per participant's analysis WAV → ``speech.json``
   (``{participant: [{start, end}]}``, what the report's timeline reads);
3. ``diarization`` — the student's track through pyannote, each cluster labelled
   student / examiner-echo / unknown with the enrolled voiceprint and the examiner's
   → ``diarization/<participant>.rttm`` and ``diarization.json``;
4. ``transcripts`` — every track through Whisper in the session's language →
   ``transcript.json`` (``{"segments": [{start, end, speaker, text, words, ...}]}``,
   ``speaker`` = the participant key of the manifest), run side by side with 3 (two cores);
   then ``voices`` — each student line gets ``voice``, the diarization role covering it;
5. ``report`` — ``report.service.rebuild_report``;
6. ``notify`` — ``notifications.events.session_finished`` with the signed report link.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from proctorbot.storage.db_retry import retry_when_locked

from proctorbot.context import AppContext

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
HANDOVER_FILE = "handover.json"
EXAMINER_PRINT_SECONDS = 120.0


@dataclass(frozen=True)
class AnalysisTrack:
    """One participant's 16 kHz analysis WAV and where it sits in the session."""

    participant: str
    role: str
    path: Path
    offset: float  # seconds from the session start (the manifest's origin)


@dataclass
class StepOutcome:
    name: str
    ok: bool
    seconds: float
    detail: str = ""
    ended_at: float = 0.0  # wall clock: "report ready N s after the bot left"


@dataclass
class HandOverResult:
    session_id: str
    steps: list[StepOutcome] = field(default_factory=list)
    report_html: Path | None = None
    notified: int = 0
    planned: list[str] = field(default_factory=list)
    running: str | None = None
    complete: bool = False

    def step(self, name: str) -> StepOutcome | None:
        return next((s for s in self.steps if s.name == name), None)

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.steps)

    def to_json(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "steps": [asdict(s) for s in self.steps],
            "report": str(self.report_html) if self.report_html else None,
            "notified": self.notified,
            "complete": self.complete,
            "progress": {
                "done": len(self.steps),
                "of": len(self.planned) or len(self.steps),
                "running": self.running,
            },
        }


def analysis_tracks(session_dir: Path) -> list[AnalysisTrack]:
    """The analysis WAVs the manifest names, in time order."""
    from proctorbot.recording.manifest import read_manifest

    manifest = read_manifest(session_dir)
    tracks = [
        AnalysisTrack(
            f.participant, f.role, session_dir / f.path, f.started_at - manifest.started_at
        )
        for f in manifest.files
        if f.kind == "analysis" and (session_dir / f.path).is_file()
    ]
    return sorted(tracks, key=lambda t: (t.offset, t.participant))


def load_track(track: AnalysisTrack) -> np.ndarray:
    from proctorbot.detection.audio_input import load_audio

    return load_audio(track.path).samples


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # one temporary name per thread: two steps running side by side may write the same file
    temporary = path.with_suffix(f"{path.suffix}.{threading.get_ident()}.tmp")
    temporary.write_text(json.dumps(data, ensure_ascii=False, indent=1, default=float), "utf-8")
    temporary.replace(path)


class FullAudioPass:
    """Speech, diarization and transcripts of a session folder (blocking; run in a thread)."""

    def __init__(
        self,
        models: Any,  # detection.audio_models.AudioModels
        transcriber: Callable[[], Any] | None = None,  # -> detection.transcription.Transcriber
        language: str | None = None,
    ) -> None:
        self.models = models
        self.transcriber = transcriber
        self.language = language
        self._audio: dict[Path, np.ndarray] = {}
        self._audio_lock = threading.Lock()  # diarization and transcripts run side by side
        self._engine = ""

    def samples(self, track: AnalysisTrack) -> np.ndarray:
        with self._audio_lock:
            if track.path not in self._audio:
                self._audio[track.path] = load_track(track)
            return self._audio[track.path]

    def speech(self, session_dir: Path, tracks: list[AnalysisTrack]) -> dict[str, list[dict]]:
        result: dict[str, list[dict[str, float]]] = {}
        for track in tracks:
            vad = self.models.new_vad()
            vad.feed(self.samples(track))
            spans = result.setdefault(track.participant, [])
            for segment in vad.segments():
                spans.append(
                    {
                        "start": round(track.offset + segment.start, 3),
                        "end": round(track.offset + segment.end, 3),
                    }
                )
        write_json(session_dir / "speech.json", result)
        return result

    def diarize(self, session_dir: Path, tracks: list[AnalysisTrack]) -> dict[str, Any]:
        from proctorbot.bot.resume import load_voiceprint
        from proctorbot.detection.diarization import StudentTrackDiarizer
        from proctorbot.detection.voiceprint import enroll

        students = [t for t in tracks if t.role == "student"]
        if not students:
            raise LookupError("no analysis track of a student in the manifest")
        student_print = load_voiceprint(session_dir)
        examiner_print = None
        examiners = [t for t in tracks if t.role == "examiner"]
        if examiners:
            head = self.samples(examiners[0])[: int(EXAMINER_PRINT_SECONDS * SAMPLE_RATE)]
            examiner_print = enroll(head, self.models.embedder, self.models.new_vad()).voiceprint
        diarizer = StudentTrackDiarizer(self.models)
        out: dict[str, Any] = {"tracks": []}
        for track in students:
            found = diarizer.diarize(
                self.samples(track), track.participant, student_print, examiner_print
            )
            rttm = session_dir / "diarization" / f"{track.participant}.rttm"
            rttm.parent.mkdir(parents=True, exist_ok=True)
            rttm.write_text(found.to_rttm(), encoding="utf-8")
            data = found.to_json()
            for turn in data["turns"]:
                turn["start"] = round(turn["start"] + track.offset, 3)
                turn["end"] = round(turn["end"] + track.offset, 3)
            data.update(
                participant=track.participant,
                offset=track.offset,
                rttm=str(rttm.relative_to(session_dir)),
            )
            out["tracks"].append(data)
        write_json(session_dir / "diarization.json", out)
        return out

    def transcribe(self, session_dir: Path, tracks: list[AnalysisTrack]) -> list[dict[str, Any]]:
        """Every track through Whisper → ``transcript.json``; ``label_voices`` adds ``voice``."""
        if self.transcriber is None:
            raise RuntimeError("no speech-to-text engine installed")
        engine = self.transcriber()
        segments: list[dict[str, Any]] = []
        for track in tracks:
            transcript = engine.transcribe(self.samples(track), self.language)
            for seg in transcript.segments:
                line = {
                    "start": round(track.offset + seg.start, 3),
                    "end": round(track.offset + seg.end, 3),
                    "speaker": track.participant,
                    "role": track.role,
                    "text": seg.text.strip(),
                    "words": [
                        {
                            "start": round(track.offset + w.start, 3),
                            "end": round(track.offset + w.end, 3),
                            "text": w.text,
                            "probability": w.probability,
                        }
                        for w in seg.words
                    ],
                }
                if line["text"]:
                    segments.append(line)
        segments.sort(key=lambda s: (s["start"], s["speaker"]))
        self._engine = engine.engine
        self._write_transcript(session_dir, segments)
        return segments

    def label_voices(
        self, session_dir: Path, segments: list[dict[str, Any]], diarization: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        """Each student line gets ``voice``: the diarization role that covers most of it."""
        turns = [
            (turn["start"], turn["end"], turn["speaker"].split(":", 1)[0])
            for item in (diarization or {}).get("tracks", [])
            for turn in item["turns"]
        ]
        for line in segments:
            if line["role"] == "student" and turns:
                line["voice"] = voice_of(line["start"], line["end"], turns)
        self._write_transcript(session_dir, segments)
        return segments

    def _write_transcript(self, session_dir: Path, segments: list[dict[str, Any]]) -> None:
        write_json(
            session_dir / "transcript.json",
            {"language": self.language or "", "engine": self._engine, "segments": segments},
        )


def close_folder(folder: Path, session_id: str) -> float | None:
    """The wall-clock end of a session folder's recording (None: nothing was recorded).

    A folder a killed bot or a stopped server left unfinished (no ``ended_at``) is put in
    order first, as ``proctorbot recording finalize`` does."""
    from proctorbot.recording.manifest import read_manifest
    from proctorbot.recording.session_recorder import finalize_folder

    if not (folder / "manifest.json").is_file():
        return None
    manifest = read_manifest(folder)
    if manifest.ended_at is None:
        manifest = finalize_folder(folder, session_id)
        if manifest.ended_at is None:
            from proctorbot.recording.manifest import write_manifest

            ends = [f.started_at + f.duration for f in manifest.files]
            manifest.ended_at = round(max(ends, default=manifest.started_at), 3)
            write_manifest(folder, manifest)
    return float(manifest.ended_at)


def handover_complete(folder: Path) -> bool:
    """True when ``handover.json`` says every step ran."""
    try:
        return bool(json.loads((folder / HANDOVER_FILE).read_text("utf-8")).get("complete"))
    except (OSError, ValueError):
        return False


def voice_of(start: float, end: float, turns: list[tuple[float, float, str]]) -> str:
    """The diarization role (student / examiner-echo / unknown) covering most of a line."""
    cover: dict[str, float] = {}
    for a, b, role in turns:
        shared = min(end, b) - max(start, a)
        if shared > 0:
            cover[role] = cover.get(role, 0.0) + shared
    return max(cover, key=cover.__getitem__) if cover else "unknown"


def report_summary(data_path: Path) -> str:
    """ "score/100 · findings · verdict" from the report's data file."""
    data = json.loads(data_path.read_text(encoding="utf-8"))
    findings = [f for f in data.get("findings", []) if f.get("counts", True)]
    summary = f"{data.get('score')}/100 · {len(findings)}"
    if data.get("verdict"):
        summary += f" · {data['verdict']}"
    return summary


class SessionHandOver:
    """``await hand_over(session_id)``: everything after the bot left, report first.

    The organizers get the report (built from the live findings) and the
    ``session_finished`` link as soon as the recording is closed; the composite and
    the full audio pass (speech, diarization ‖ transcripts, voices) follow and the
    report is written again with them (same link). ``handover.json`` says which step
    runs and how far it is (``progress``), and ``complete`` once all ran: a hand-over
    cut by a server stop is run again at the next start (notifications are deduplicated).
    """

    def __init__(
        self,
        ctx: AppContext,
        *,
        audio_models: Callable[[], Any] | None,
        transcriber: Callable[[], Any] | None,
        leave_bot: Callable[[str], Awaitable[Any]] | None = None,
        pdf: bool = False,
        labels: Callable[[str, Any], dict[str, str]] | None = None,
    ) -> None:
        self.ctx = ctx
        self.audio_models = audio_models
        self.transcriber = transcriber
        self.leave_bot = leave_bot
        self.pdf = pdf
        self.labels = labels
        self._locks: dict[str, asyncio.Lock] = {}

    async def __call__(self, session_id: str) -> HandOverResult:
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        async with lock:  # a job and the bot's own end never hand over twice at once
            return await self._hand_over(session_id)

    async def _hand_over(self, session_id: str) -> HandOverResult:
        result = HandOverResult(session_id)
        folder = self.ctx.settings.recordings_dir / session_id
        language = await asyncio.to_thread(self._session_language, session_id)
        planned = ["recording", "report", "notify"]
        if self.ctx.settings.recording.make_composite:
            planned.append("composite")
        planned += ["models", "speech", "diarization", "transcripts", "voices", "report_final"]
        result.planned = planned

        async def step(name: str, work: Callable[[], Awaitable[Any]]) -> Any:
            began = time.monotonic()
            result.running = name
            log.info("session %s: hand-over step %s", session_id, name)
            await asyncio.to_thread(write_json, folder / HANDOVER_FILE, result.to_json())
            try:
                value = await work()
            except Exception as exc:  # noqa: BLE001 - the other steps keep their results
                log.exception("session %s: hand-over step %s failed", session_id, name)
                result.steps.append(
                    StepOutcome(
                        name,
                        False,
                        round(time.monotonic() - began, 2),
                        str(exc)[:500],
                        round(time.time(), 3),
                    )
                )
                return None
            finally:
                result.running = None
            detail = value if isinstance(value, str) else ""
            result.steps.append(
                StepOutcome(
                    name, True, round(time.monotonic() - began, 2), detail, round(time.time(), 3)
                )
            )
            await asyncio.to_thread(write_json, folder / HANDOVER_FILE, result.to_json())
            return value

        tracks: list[AnalysisTrack] = (
            await step("recording", lambda: self._recording(session_id, folder))
        ) or []
        written = await step("report", self._report(session_id))
        if written is not None:
            result.report_html = written.html
        notified = await step("notify", self._notify(session_id, written))
        result.notified = int(notified or 0) if not isinstance(notified, str) else 0
        if "composite" in planned and (folder / "manifest.json").is_file():
            await step("composite", lambda: self._composite(session_id, folder, language))
        full = None
        if tracks:
            models = await step("models", self._models)
            if models is not None:
                full = FullAudioPass(models, self.transcriber, language)
        if full is not None:
            await step("speech", lambda: asyncio.to_thread(full.speech, folder, tracks))
            # diarization (torch, one thread) and Whisper (CTranslate2) share no model: side
            # by side they use both cores and the hand-over ends sooner; the student's lines
            # get their diarization role once both are written
            diarization, segments = await asyncio.gather(
                step("diarization", lambda: asyncio.to_thread(full.diarize, folder, tracks)),
                step(
                    "transcripts",
                    lambda: asyncio.to_thread(full.transcribe, folder, tracks),
                ),
            )
            if diarization is not None and segments:
                await step(
                    "voices",
                    lambda: asyncio.to_thread(full.label_voices, folder, segments, diarization),
                )
            final = await step("report_final", self._report(session_id))
            if final is not None:
                result.report_html = final.html
        result.complete = True
        await asyncio.to_thread(write_json, folder / HANDOVER_FILE, result.to_json())
        log.info(
            "session %s: hand-over done (%s)",
            session_id,
            ", ".join(f"{s.name} {'ok' if s.ok else 'FAILED'}" for s in result.steps),
        )
        return result

    async def _recording(self, session_id: str, folder: Path) -> list[AnalysisTrack]:
        """The bot is out of the call, the folder in order, the session ``finished``."""
        from proctorbot.bot.session_status import advance_status
        from proctorbot.storage.models import SessionStatus

        if self.leave_bot is not None:
            await self.leave_bot(session_id)  # closes the files and the manifest
        ended_at = await asyncio.to_thread(close_folder, folder, session_id)
        at = dt.datetime.fromtimestamp(ended_at, dt.UTC) if ended_at else None
        await advance_status(self.ctx, session_id, SessionStatus.FINISHED, at)
        return await asyncio.to_thread(analysis_tracks, folder) if ended_at else []

    async def _composite(self, session_id: str, folder: Path, language: str | None) -> str:
        from proctorbot.recording.composite import add_composite
        from proctorbot.recording.manifest import read_manifest

        def make() -> str:
            manifest = read_manifest(folder)
            labels = self.labels(language or "ru", manifest) if self.labels else None
            made = add_composite(folder, manifest, labels)
            record = next((f for f in made.files if f.kind == "composite"), None)
            return f"{record.duration:.0f} s" if record else "nothing recorded"

        return await asyncio.to_thread(make)

    async def _models(self) -> Any:
        if self.audio_models is None:
            raise RuntimeError("no audio detection installed")
        return await asyncio.to_thread(self.audio_models)

    def _report(self, session_id: str) -> Callable[[], Awaitable[Any]]:
        async def run() -> Any:
            from proctorbot.report.service import rebuild_report

            return await asyncio.to_thread(rebuild_report, self.ctx, session_id, pdf=self.pdf)

        return run

    def _notify(self, session_id: str, written: Any) -> Callable[[], Awaitable[int]]:
        async def run() -> int:
            return await asyncio.to_thread(  # waits out a locked database: never lost
                retry_when_locked, self._finished, session_id, written, what="finished notice"
            )

        return run

    def _finished(self, session_id: str, written: Any) -> int:
        from proctorbot.notifications import events
        from proctorbot.report.service import report_link

        summary = ""
        if written is not None:
            try:
                summary = report_summary(written.data)
            except (OSError, ValueError) as exc:
                log.warning("report data of %s unreadable: %s", session_id, exc)
        with self.ctx.db.begin() as db:
            return events.session_finished(
                db, session_id, summary=summary, report_url=report_link(self.ctx, session_id)
            )

    def _session_language(self, session_id: str) -> str | None:
        from proctorbot.storage.models import ExamSession

        with self.ctx.db() as db:
            session = db.get(ExamSession, session_id)
            language = session.language if session is not None else None
        return language if language in ("ru", "en") else None
