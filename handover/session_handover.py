"""The hand-over after a session (``SessionHandOver``): the report first, then the rest.

Steps, each logged and recorded in ``handover.json`` in the session folder (its
``progress``, and ``complete`` once all ran); a step that fails is noted and the next
ones still run on whatever exists:

1. ``recording`` — the bot is out of the call, the folder in order, status ``finished``;
2. ``report`` — ``report.service.rebuild_report`` from the live findings;
3. ``notify`` — ``notifications.events.session_finished`` with the signed report link;
4. ``composite`` — one video of everyone (``recording/composite.py``);
5. ``models``, ``speech`` — voice activity per analysis WAV → ``speech.json``;
6. ``diarization`` ‖ ``transcripts`` (two cores) → ``diarization.json`` and its RTTMs,
   ``transcript.json``; then ``voices`` — each student line gets its diarization role
   (``handover/audio_pass.py``);
7. ``report_final`` — the report again with all of it (same link);
8. ``archive`` — where ``archive.s3_bucket`` is set (a test call too, after its report):
   the folder to the S3 store, every object verified (``storage/session_archive.py``);
   a failure is a failed step in words, run again at the next start
   (``retry_archive``), and the local copy stays.

The hand-over is its own area so that a worker process can run it (it needs only the
session id, the database and the folder).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from proctorbot.handover.audio_pass import FullAudioPass
from proctorbot.handover.folder import (
    HANDOVER_FILE,
    AnalysisTrack,
    analysis_tracks,
    close_folder,
    replace_step,
    write_json,
)
from proctorbot.storage.db_retry import retry_when_locked
from proctorbot.storage.session_folder import MANIFEST_FILE

from proctorbot.context import AppContext

log = logging.getLogger(__name__)


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
        language, trial = await asyncio.to_thread(self._session_facts, session_id)
        planned = ["recording", "report", "notify"]
        if self.ctx.settings.recording.make_composite:
            planned.append("composite")
        planned += ["models", "speech", "diarization", "transcripts", "voices", "report_final"]
        if trial:
            # a test call: its outcome is the checklist's (the day's trial summary tells the
            # organizers); a short sample needs no composite, no audio pass, no notice
            planned = ["recording", "report"]
        if self.ctx.settings.conference.mode == "janus":
            # the room released (a trial's too), Janus's own copy of every track listed
            planned.insert(3 if not trial else 2, "janus_recordings")
        if self.ctx.settings.archive.enabled:
            planned.append("archive")
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
        if trial:
            if "janus_recordings" in planned and (folder / MANIFEST_FILE).is_file():
                await step("janus_recordings", lambda: self._janus_recordings(session_id, folder))
            return await self._archived_and_done(result, folder, step)
        notified = await step("notify", self._notify(session_id, written))
        result.notified = int(notified or 0) if not isinstance(notified, str) else 0
        if "janus_recordings" in planned and (folder / MANIFEST_FILE).is_file():
            await step("janus_recordings", lambda: self._janus_recordings(session_id, folder))
        if "composite" in planned and (folder / MANIFEST_FILE).is_file():
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
        return await self._archived_and_done(result, folder, step)

    async def _archived_and_done(
        self, result: HandOverResult, folder: Path, step: Callable[..., Awaitable[Any]]
    ) -> HandOverResult:
        if "archive" in result.planned:
            await step("archive", lambda: self._archive(result.session_id, folder))
        return await self._done(result, folder)

    async def _archive(self, session_id: str, folder: Path) -> str:
        """The folder to the S3 store; not all verified = a failed step, said in words."""
        from proctorbot.storage.object_store import ObjectStore
        from proctorbot.storage.session_archive import archive_session

        store = ObjectStore(self.ctx.settings.archive)
        archived = await asyncio.to_thread(archive_session, folder, store, session_id)
        if not archived.verified:
            raise RuntimeError(f"archive not verified, local copy kept: {archived.summary()}")
        return archived.summary()

    async def retry_archive(self, session_id: str) -> StepOutcome:
        """The ``archive`` step again for a hand-over that is complete but whose archive
        failed (the store was down): its outcome replaces the old one in handover.json."""
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        async with lock:
            folder = self.ctx.settings.recordings_dir / session_id
            began = time.monotonic()
            try:
                detail, ok = await self._archive(session_id, folder), True
            except Exception as exc:  # noqa: BLE001 - recorded, tried again at the next start
                log.warning("session %s: archive failed again: %s", session_id, exc)
                detail, ok = str(exc)[:500], False
            outcome = StepOutcome(
                "archive", ok, round(time.monotonic() - began, 2), detail, round(time.time(), 3)
            )
            await asyncio.to_thread(replace_step, folder / HANDOVER_FILE, asdict(outcome))
            return outcome

    async def _done(self, result: HandOverResult, folder: Path) -> HandOverResult:
        session_id = result.session_id
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

    async def _janus_recordings(self, session_id: str, folder: Path) -> str:
        """The session's VideoRoom closed (Janus closes its recordings) and Janus's
        ``.mjr`` files converted and listed in the manifest (conference/janus/recordings.py)."""
        from proctorbot.conference.janus.placement import JanusRooms, janus_record_dir
        from proctorbot.conference.janus.recordings import add_janus_recordings

        await JanusRooms(self.ctx.db, self.ctx.settings).release(session_id)
        if not self.ctx.settings.janus.record:
            return "room released; Janus does not record ([janus] record = false)"
        rec_dir = janus_record_dir(self.ctx.settings) / session_id
        if not rec_dir.is_dir():
            return f"no Janus recording in {rec_dir}"
        manifest = await asyncio.to_thread(add_janus_recordings, folder, rec_dir)
        janus = [f for f in manifest.files if f.kind.startswith("janus_")]
        return f"{len(janus)} Janus files; record of truth: {manifest.record_of_truth}"[:400]

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

    def _session_facts(self, session_id: str) -> tuple[str | None, bool]:
        """The session's language (None: the default) and whether it is a test call."""
        from proctorbot.storage.models import ExamSession, SessionKind

        with self.ctx.db() as db:
            session = db.get(ExamSession, session_id)
            language = session.language if session is not None else None
            trial = session is not None and session.kind == SessionKind.TRIAL
        return (language if language in ("ru", "en") else None), trial


def composite_labels(language: str, manifest: Any) -> dict[str, str]:
    """``Name · role`` for each tile of the composite, the role in the session's language."""
    from proctorbot.config.catalogue import Catalogue

    texts = Catalogue.load(language if language in ("ru", "en") else "ru").texts

    def role(name: str) -> str:
        return texts.get(f"conference.role.{name}", name)

    def device(key: str) -> str:  # a person's other source: "… · phone camera", "… · screen"
        suffix = key.rsplit("-", 1)[-1]
        name = texts.get(f"conference.page.device_{suffix}") if key.count("-") >= 2 else None
        return f" · {name}" if name else ""

    return {
        entry.participant: (
            f"{entry.name} · {role(entry.role)}" if entry.name else role(entry.role)
        )
        + device(entry.participant)
        for entry in manifest.participants
    }
