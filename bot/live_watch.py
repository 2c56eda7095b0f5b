"""The live watch: from the end of the checklist until the bot leaves, the student's
microphone and camera go through the detectors, and every event is handed on.

* audio: ``StudentAudioWatch`` (third-party voices against the enrolled voiceprint,
  the examiner's own track suppressing their echo, overlapped speech);
* video: ``detection.video_watch.VideoWatcher`` through ``StudentVideoWatch`` at
  ``settings.detection.live_video_fps`` with the rule profile's thresholds; the
  student's face is enrolled from the first frames after admission (they were
  identified a moment before) for ``person_replaced``;
* each event → ``bot.emit`` (``events.jsonl``; the checklist's panel forwards it to the
  examiners as a flag) and the ``LiveAlertPolicy``; alert-worthy findings → a
  ``live``/``alert`` panel message to the examiners and the ``AlertSink`` (the outbox).

A detector that fails (a model missing, a bug) is logged, told once to the examiners
(panel ``live``/``detector_unavailable`` and a prompt) and left off; the other one and
the recording go on. Detection runs in worker threads: the event loop never waits.

Stopping (the task cancelled: the bot leaves, the server shuts down): whatever is still
open — a face absent, a frozen camera, a voice being heard — is closed at the stop time
(``stop_time()``: the bot's ``stopped_at``) and handed on like any other event, and the
alerts it causes are sent before ``run`` returns. The bot awaits that before it closes
its files (``SessionBot._shutdown``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from proctorbot.bot.live_alerts import (
    RECORDER_KINDS,
    AlertSink,
    LiveAlertPolicy,
)
from proctorbot.bot.live_audio import StudentAudioWatch
from proctorbot.bot.live_notices import LiveNotices
from proctorbot.bot.live_sources import StudentSourcesWatch
from proctorbot.bot.live_video import StudentVideoWatch
from proctorbot.bot.peer_directory import peer_field, track_key
from proctorbot.bot.session_bus import (
    Detected,
    ExamDecided,
    FindingAlerted,
    FindingClosed,
    PeerJoined,
    PeerLeft,
    VoiceprintEnrolled,
)
from proctorbot.config.profiles import RuleProfile
from proctorbot.detection.events import DetectorEvent, EventKind

log = logging.getLogger(__name__)

ANY_ABSENCE_S = 0.001


@dataclass(frozen=True)
class LiveWatchOptions:
    video_fps: float = 2.0
    # Wait for the checklist to admit the student ("the live watch begins"); off when
    # the session runs without a checklist.
    wait_for_admission: bool = True
    poll_s: float = 0.5
    audio_batch_s: float = 0.5
    # A voice still heard is written again each time it has grown this much (seconds), so
    # a crash loses at most this much of how long it went on.
    audio_extent_every_s: float = 5.0
    # How long (wall clock) the student's audio waits for a silent examiner track before
    # it is analysed without it; see StudentAudioWatch.examiner_wait_s.
    examiner_wait_s: float = 2.0
    enroll_face_tries: int = 10
    # How often a student's gap still open (away, connection lost) is checked against the
    # profile's limits, so the alert comes while it lasts, not when they come back.
    open_gap_check_s: float = 5.0


@dataclass
class LiveDetectors:
    """How to get the (process-wide, lazily loaded) models; each may raise when missing."""

    audio_models: Callable[[], Any] | None = None  # -> detection.audio_models.AudioModels
    face_analyzer: Callable[[], Any] | None = None  # -> detection.faces.FaceAnalyzer


class LiveWatch:
    def __init__(
        self,
        bot: Any,  # proctorbot.bot.session_bot.SessionBot or anything with its API
        *,
        profile: RuleProfile,
        detectors: LiveDetectors,
        alerts: AlertSink | None = None,
        options: LiveWatchOptions | None = None,
        texts: Callable[[str], str] | None = None,
        on_exam: Callable[[str], Awaitable[Any]] | None = None,
    ) -> None:
        self.bot = bot
        self.profile = profile
        self.detectors = detectors
        self.options = options or LiveWatchOptions()
        self.on_exam = on_exam  # told the exam's state once the checklist ended
        self.policy = LiveAlertPolicy(profile)
        self.events: list[DetectorEvent] = []
        self.session_dir = Path(bot.session_dir)
        self.notices = LiveNotices(bot, name=self.session_dir.name, alerts=alerts, texts=texts)
        self.unavailable = self.notices.unavailable  # detector → why it stopped
        self._audio: StudentAudioWatch | None = None

    # -- life cycle ----------------------------------------------------------------------
    async def run(self) -> None:
        """Wait for the exam, then watch every connection of the student until cancelled."""
        if self.options.wait_for_admission:
            state = await self._wait_for_exam()
            if self.on_exam is not None:
                try:
                    await self.on_exam(state)
                except Exception:  # noqa: BLE001 - the watch goes on
                    log.exception("%s: exam start not recorded", self.session_dir.name)
            if state != "proctored":
                log.info("%s: no live watch (%s)", self.session_dir.name, state)
                await self.notices.to_examiners("status", {"state": "off", "reason": state})
                return
        # telling people is a listener of the bus, like any other (panel and outbox)
        self.bot.bus.on(FindingAlerted, self.notices.finding_alerted)
        self.bot.bus.on(FindingClosed, self.notices.finding_closed)
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="live-audio")
        try:
            await self._prepare_audio(executor)
            await self.notices.to_examiners("status", {"state": "watching"})
            helpers = [
                asyncio.create_task(self._follow_examiner(), name="live-examiner"),
                asyncio.create_task(self._follow_recorder_events(), name="live-recorder-events"),
                asyncio.create_task(self._watch_open_gaps(), name="live-open-gaps"),
                asyncio.create_task(self._sources().run(), name="live-sources"),
            ]
            try:
                await self._follow_student()
            finally:
                for helper in helpers:
                    helper.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await helper
        finally:
            if self._audio is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._audio.finish())
            executor.shutdown(wait=False)
            await self.drain()

    async def drain(self) -> None:
        """Wait for alerts still being written (tests, shutdown)."""
        await self.notices.drain()

    async def _wait_for_exam(self) -> str:
        """The checklist's verdict, from the session bus (said once, remembered there)."""
        decided = await self.bot.bus.wait(ExamDecided)
        return decided.state

    async def _prepare_audio(self, executor: ThreadPoolExecutor) -> None:
        if self.detectors.audio_models is None:
            await self.detector_failed("audio", RuntimeError("no audio detection installed"))
            return
        try:
            models = await asyncio.get_running_loop().run_in_executor(
                executor, self.detectors.audio_models
            )
            enrolled = self.bot.bus.latest(VoiceprintEnrolled)
            watch = StudentAudioWatch(
                models,
                voiceprint=enrolled.voiceprint if enrolled is not None else None,
                session_dir=self.session_dir,
                emit=self.handle,
                executor=executor,
                batch_s=self.options.audio_batch_s,
                extent_every_s=self.options.audio_extent_every_s,
            )
            watch.examiner_wait_s = self.options.examiner_wait_s
            await watch.prepare()
            self._audio = watch
        except Exception as exc:  # noqa: BLE001 - reported, the rest goes on
            await self.detector_failed("audio", exc)

    # -- people --------------------------------------------------------------------------
    def _peer_of_role(self, roles: frozenset[str]) -> str | None:
        """The newest main-device connection of one of ``roles`` (a reload is the newest;
        a phone beside the laptop is another source, not the student's camera)."""
        found = [
            pid
            for pid, info in self.bot.peers.items()
            if peer_field(info, "role") in roles and peer_field(info, "device") in ("", "main")
        ]
        return found[-1] if found else None

    async def _next_peer(self, roles: frozenset[str], previous: str | None) -> str:
        """The newest connection of one of ``roles`` other than ``previous``; woken by the
        bus each time someone joins or leaves."""
        async with self.bot.bus.subscribe(PeerJoined, PeerLeft) as changes:
            while True:
                peer = self._peer_of_role(roles)
                if peer is not None and peer != previous:
                    return peer
                if peer is None:
                    previous = None  # the same connection may come back only as a new peer
                await anext(changes)

    async def _follow_student(self) -> None:
        previous: str | None = None
        while True:
            peer_id = await self._next_peer(frozenset({"student"}), previous)
            previous = peer_id
            track = track_key(self.bot.peers.get(peer_id, {}), peer_id)
            log.info("%s: live watch on %s (%s)", self.session_dir.name, peer_id, track)
            await asyncio.gather(
                self._watch_audio(peer_id, track), self._watch_video(peer_id, track)
            )

    async def _follow_examiner(self) -> None:
        if self._audio is None:
            return  # no audio detection: the examiner's track is not needed
        previous: str | None = None
        while True:
            peer_id = await self._next_peer(frozenset({"examiner"}), previous)
            previous = peer_id
            try:
                async for t, pcm in self.bot.audio_chunks(peer_id):
                    if self._audio is not None and "audio" not in self.unavailable:
                        await self._audio.examiner_chunk(t, pcm)
            except Exception as exc:  # noqa: BLE001
                await self.detector_failed("audio", exc)

    # -- detectors -----------------------------------------------------------------------
    async def _watch_audio(self, peer_id: str, track: str) -> None:
        audio = self._audio
        if audio is None:
            return
        try:
            async for t, pcm in self.bot.audio_chunks(peer_id):
                if "audio" in self.unavailable:
                    continue  # keep reading: an unread queue only drops, never blocks
                await audio.student_chunk(t, pcm, track)
        except Exception as exc:  # noqa: BLE001
            await self.detector_failed("audio", exc)

    async def _watch_video(self, peer_id: str, track: str) -> None:
        if "video" in self.unavailable:
            return
        try:
            if self.detectors.face_analyzer is None:
                raise RuntimeError("no video detection installed")
            from proctorbot.detection.video_watch import VideoThresholds, VideoWatcher

            analyzer = await asyncio.to_thread(self.detectors.face_analyzer)
            thresholds = VideoThresholds.from_profile(self.profile.thresholds)
            if thresholds.absence_total_limit_s <= 0:  # "any time away" (examus-like): the
                # watcher divides by the allowance; the rule engine still counts from zero
                thresholds = replace(thresholds, absence_total_limit_s=ANY_ABSENCE_S)
            watcher = VideoWatcher(
                thresholds,
                analyzer=analyzer,
                track=track,
                evidence_dir=self.session_dir / "evidence",
                evidence_prefix="evidence",
            )
            frames = self.bot.video_frames(peer_id, self.options.video_fps)
            await StudentVideoWatch(
                watcher,
                self.handle,
                self.stop_time,
                self.options.audio_extent_every_s,
                added=self._added_detectors(track),
            ).run(self._enrolling(frames, watcher))
        except Exception as exc:  # noqa: BLE001
            await self.detector_failed("video", exc)

    def _sources(self) -> StudentSourcesWatch:
        """The phone's side view and the screen's snapshots, where the profile asks."""
        return StudentSourcesWatch(
            self.bot,
            profile=self.profile,
            face_analyzer=self.detectors.face_analyzer,
            emit=self.handle,
            stop_time=self.stop_time,
            failed=self.detector_failed,
            track_of=track_key,
            video_fps=self.options.video_fps,
            extent_every_s=self.options.audio_extent_every_s,
        )

    def _added_detectors(self, track: str) -> list[Any]:
        """The profile's own detectors (``[[detectors]]``), one set per connection."""
        from proctorbot.detection.frame_detectors import load_frame_detector

        return [
            load_frame_detector(
                added.detector, kind=added.kind, track=track, min_seconds=added.min_seconds
            )
            for added in getattr(self.profile, "detectors", ())
            if added.source == "video"
        ]

    async def _enrolling(
        self, frames: AsyncIterator[tuple[float, np.ndarray]], watcher: Any
    ) -> AsyncIterator[tuple[float, np.ndarray]]:
        """The first frames after admission show the identified student: enroll their face."""
        tries = self.options.enroll_face_tries
        async for t, frame in frames:
            if watcher.enrolled is None and tries > 0:
                tries -= 1
                await asyncio.to_thread(watcher.enroll_from_frame, frame)
            yield t, frame

    # -- events --------------------------------------------------------------------------
    def stop_time(self) -> float:
        """Seconds since the bot started when the watch stops: when the bot began to leave
        (``bot.stopped_at``), else now."""
        stopped = getattr(self.bot, "stopped_at", None)
        return float(stopped) if stopped is not None else time.time() - self.bot.started_at

    def handle(self, event: DetectorEvent) -> None:
        """Every detector event: the session's events.jsonl, then the alert policy."""
        self.bot.emit(event)
        self._judge(event)

    async def _follow_recorder_events(self) -> None:
        """Gaps the bot publishes itself (a participant gone) count for alerts as well."""

        def recorder_gap(detected: Detected) -> bool:  # participant keys are "<role>-<id>"
            event = detected.event
            return event.kind in RECORDER_KINDS and event.track.startswith("student-")

        async with self.bot.bus.subscribe(Detected, accept=recorder_gap) as gaps:
            try:
                async for detected in gaps:
                    self._judge(detected.event)
            finally:
                for detected in gaps.drain():  # a gap the bot closed as it left
                    self._judge(detected.event)

    async def _watch_open_gaps(self) -> None:
        """The student away or cut off right now: alert once the time so far crosses the
        profile's limit. Nothing is written here; the gap's event comes when it closes."""
        open_gaps = getattr(self.bot, "open_gaps", None)
        if open_gaps is None:
            return
        while True:
            await asyncio.sleep(self.options.open_gap_check_s)
            if not self.notices.session_going_on():
                continue  # everyone has gone: the exam is over, nobody is "away"
            now = round(time.time() - self.bot.started_at, 3)
            for gap in open_gaps():
                if gap.participant.startswith("student-") and now > gap.start:
                    ongoing = DetectorEvent(
                        EventKind.PARTICIPANT_LEFT,
                        gap.start,
                        now,
                        track=gap.participant,
                        details={"reason": gap.reason, "still_open": True},
                    )
                    self.notices.alert_all(self.policy.peek(ongoing))

    def _judge(self, event: DetectorEvent) -> None:
        """The rule engine on each event; what it finds goes out on the bus."""
        self.events.append(event)
        fresh = self.policy.add(event)
        ongoing = bool(event.details.get("open") or event.details.get("still_open"))
        for finding in fresh:
            self.bot.bus.publish(FindingAlerted(finding, ongoing))
        closed = self.policy.closed(event)
        if closed is not None:
            self.bot.bus.publish(FindingClosed(closed))

    async def detector_failed(self, detector: str, exc: BaseException) -> None:
        """Logged each time; the examiners hear of it once per detector."""
        await self.notices.detector_failed(detector, exc)
