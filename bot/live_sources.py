"""The student's other sources during the exam, beside the laptop's camera and microphone
(``bot.live_watch.LiveWatch`` starts this when the profile asks for them):

* the phone (``[checklist] phone_camera``): its side view through
  ``detection.side_view.SideViewWatcher`` (another face = ``extra_person`` on the phone's
  track; a black or frozen picture, the phone put face down = ``black_video`` /
  ``frozen_video`` on the phone's track, counted against ``phone_away``), one connection at a time, closed and emitted like the laptop's video
  (``bot.live_video.StudentVideoWatch``);
* the screen (``record_screen``): a snapshot every ``screen_snapshot_every_s`` into
  ``evidence/screen/`` (named by minutes:seconds from the recording start).

When either goes away the bot records a gap of that source itself (a ``participant_left``
event on its track); the rule engine counts it against its own allowance.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from proctorbot.bot.live_video import StudentVideoWatch
from proctorbot.bot.peer_directory import peer_field
from proctorbot.bot.session_bus import PeerJoined, PeerLeft
from proctorbot.detection.events import DetectorEvent
from proctorbot.storage.session_folder import SCREEN_SNAPSHOTS_DIR

log = logging.getLogger(__name__)


class StudentSourcesWatch:
    def __init__(
        self,
        bot: Any,  # proctorbot.bot.session_bot.SessionBot
        *,
        profile: Any,  # config.profiles.RuleProfile
        face_analyzer: Callable[[], Any] | None,
        emit: Callable[[DetectorEvent], None],
        stop_time: Callable[[], float | None],
        failed: Callable[[str, BaseException], Awaitable[None]],
        track_of: Callable[[Any, str], str],
        video_fps: float = 2.0,
        extent_every_s: float = 5.0,
    ) -> None:
        self.bot = bot
        self.profile = profile
        self.face_analyzer = face_analyzer
        self.emit = emit
        self.stop_time = stop_time
        self.failed = failed
        self.track_of = track_of
        self.video_fps = video_fps
        self.extent_every_s = extent_every_s
        self.session_dir = Path(bot.session_dir)
        self.snapshots: list[str] = []  # the screen's, relative to the session folder

    async def run(self) -> None:
        checklist = self.profile.checklist
        watches = []
        if checklist.phone_camera:
            watches.append(self._follow("phone", self._watch_phone))
        if checklist.record_screen:
            watches.append(self._follow("screen", self._snapshot_screen))
        await asyncio.gather(*watches)

    # -- following one device of the student ---------------------------------------------
    def _peer_of(self, device: str) -> str | None:
        found = [
            pid
            for pid, info in self.bot.peers.items()
            if peer_field(info, "role") == "student" and peer_field(info, "device") == device
        ]
        return found[-1] if found else None

    async def _follow(self, device: str, watch: Callable[[str, str], Awaitable[None]]) -> None:
        previous: str | None = None
        while True:
            async with self.bot.bus.subscribe(PeerJoined, PeerLeft) as changes:
                while (peer := self._peer_of(device)) is None or peer == previous:
                    if peer is None:
                        previous = None
                    await anext(changes)
            previous = peer
            track = self.track_of(self.bot.peers.get(peer, {}), peer)
            log.info("%s: live watch on the %s %s (%s)", self.session_dir.name, device, peer, track)
            try:
                await watch(peer, track)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - reported, the rest goes on
                await self.failed(device, exc)
                return

    # -- the phone -------------------------------------------------------------------------
    async def _watch_phone(self, peer_id: str, track: str) -> None:
        if self.face_analyzer is None:
            raise RuntimeError("no video detection installed")
        from proctorbot.detection.side_view import SideViewWatcher
        from proctorbot.detection.video_watch import VideoThresholds

        analyzer = await asyncio.to_thread(self.face_analyzer)
        watcher = SideViewWatcher(
            analyzer,
            track=track,
            min_seconds=min(1.0, self.profile.thresholds.third_party_min_seconds),
            evidence_dir=self.session_dir / "evidence",
            extent_every_s=self.extent_every_s,
            picture=VideoThresholds.from_profile(self.profile.thresholds),
        )
        frames = self.bot.video_frames(peer_id, self.video_fps)
        await StudentVideoWatch(watcher, self.emit, self.stop_time, self.extent_every_s).run(frames)

    # -- the screen ------------------------------------------------------------------------
    async def _snapshot_screen(self, peer_id: str, track: str) -> None:
        every = self.profile.checklist.screen_snapshot_every_s
        last: float | None = None
        async for t, frame in self.bot.video_frames(peer_id, min(1.0, 2.0 / every)):
            if last is None or t - last >= every:
                last = t
                path = await asyncio.to_thread(self._save_snapshot, track, t, frame)
                self.snapshots.append(path)

    def _save_snapshot(self, track: str, t: float, frame: np.ndarray) -> str:
        folder = self.session_dir / SCREEN_SNAPSHOTS_DIR
        folder.mkdir(parents=True, exist_ok=True)
        seconds = max(0, round(t))
        name = f"{track}-{seconds // 60:03d}m{seconds % 60:02d}s.jpg"
        cv2.imwrite(str(folder / name), frame, [cv2.IMWRITE_JPEG_QUALITY, 80])
        return f"{SCREEN_SNAPSHOTS_DIR}/{name}"
