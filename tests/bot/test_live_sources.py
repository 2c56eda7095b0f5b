"""The live watch on the student's other sources: the phone's side view (another face =
``extra_person`` on the phone's own track, with its frame as evidence) and the screen's
snapshots every ``screen_snapshot_every_s``; a fake bot, fake faces, no browser."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from proctorbot.bot.live_sources import StudentSourcesWatch
from proctorbot.bot.peer_directory import PeerDirectory, track_key
from proctorbot.bot.peers import PeerInfo
from proctorbot.bot.session_bus import SessionBus
from proctorbot.config.profiles import load_profile
from proctorbot.detection.events import DetectorEvent, EventKind


@dataclass
class Bot:
    session_dir: Path
    bus: SessionBus = field(default_factory=SessionBus)
    peers: PeerDirectory = field(init=False)
    fps_asked: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.peers = PeerDirectory(self.bus.publish)

    async def video_frames(
        self, peer_id: str, fps: float
    ) -> AsyncIterator[tuple[float, np.ndarray]]:
        self.fps_asked[peer_id] = fps
        t = 0.0
        while peer_id in self.peers and t < 12.0:
            yield t, np.full((120, 160, 3), int(t * 10) % 255, dtype=np.uint8)
            await asyncio.sleep(0.01)
            t += 0.5


class TwoFacesFrom4To8s:
    """Stands in for detection.faces.FaceAnalyzer: the frame's brightness is its time."""

    def detect(self, frame: np.ndarray) -> list[object]:
        t = frame[0, 0, 0] / 10
        return [object(), object()] if 4.0 <= t < 8.0 else [object()]


async def test_phone_camera_side_view_and_screen_share_snapshots(tmp_path: Path) -> None:
    bot = Bot(tmp_path)
    profile = load_profile("examus-like")  # phone_camera, record_screen, snapshots every 30 s
    profile = profile.model_copy(
        update={"checklist": profile.checklist.model_copy(update={"screen_snapshot_every_s": 4.0})}
    )
    events: list[DetectorEvent] = []
    failures: list[tuple[str, BaseException]] = []

    async def failed(device: str, exc: BaseException) -> None:
        failures.append((device, exc))

    watch = StudentSourcesWatch(
        bot,
        profile=profile,
        face_analyzer=TwoFacesFrom4To8s,
        emit=events.append,
        stop_time=lambda: None,
        failed=failed,
        track_of=track_key,
    )
    task = asyncio.create_task(watch.run())
    bot.peers["laptop"] = PeerInfo("laptop", "student", "Анна", "p1")
    bot.peers["phone"] = PeerInfo("phone", "student", "Анна", "p1", mic=False, device="phone")
    bot.peers["screen"] = PeerInfo("screen", "student", "Анна", "p1", mic=False, device="screen")
    async with asyncio.timeout(10):
        while len(watch.snapshots) < 3 or not any(not e.details.get("open") for e in events):
            await asyncio.sleep(0.05)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)

    assert not failures, failures
    assert "laptop" not in bot.fps_asked  # the laptop is the live watch's own
    closed = [e for e in events if not e.details.get("open")]
    assert [(e.kind, e.track, e.start, e.end) for e in closed] == [
        (EventKind.EXTRA_PERSON, "student-p1-phone", 4.0, 8.0)
    ]
    assert closed[0].evidence and (tmp_path / closed[0].evidence[0]).is_file()
    assert watch.snapshots[:3] == [
        "evidence/screen/student-p1-screen-000m00s.jpg",
        "evidence/screen/student-p1-screen-000m04s.jpg",
        "evidence/screen/student-p1-screen-000m08s.jpg",
    ]
    assert all((tmp_path / path).is_file() for path in watch.snapshots)
