"""A SessionBot stand-in and fake detectors for the runner tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from proctorbot.bot.peer_directory import PeerDirectory
from proctorbot.bot.session_bus import Detected, SessionBus
from proctorbot.checklist.detectors import EnrolledVoice, IdReading, RoomScanFindings
from proctorbot.detection.events import DetectorEvent
from proctorbot.detection.names import best_name_in_text


@dataclass
class FakePeer:
    role: str
    name: str
    person_id: str = ""
    device: str = "main"


@dataclass
class FakeSessionBot:
    session_dir: Path
    bus: SessionBus = field(default_factory=SessionBus)
    peers: dict[str, FakePeer] = field(init=False)
    prompts: list[dict[str, Any]] = field(default_factory=list)
    panels: list[dict[str, Any]] = field(default_factory=list)
    events: list[DetectorEvent] = field(default_factory=list)
    handlers: dict[str, Callable] = field(default_factory=dict)
    frame_size: tuple[int, int] = (480, 640)
    loudness: int = 3000

    async def video_frames(
        self, peer_id: str, fps: float
    ) -> AsyncIterator[tuple[float, np.ndarray]]:
        t = 0.0
        while peer_id in self.peers:
            yield t, np.full((*self.frame_size, 3), 128, dtype=np.uint8)
            await asyncio.sleep(1 / fps)
            t += 1 / fps

    async def audio_chunks(self, peer_id: str) -> AsyncIterator[tuple[float, np.ndarray]]:
        rng = np.random.default_rng(0)
        t = 0.0
        while peer_id in self.peers:
            yield t, (rng.standard_normal(320) * self.loudness).astype(np.int16)
            await asyncio.sleep(0.02)
            t += 0.02

    async def send_prompt(
        self, key: str, text: str, to: str | None = None, level: str = "info"
    ) -> None:
        self.prompts.append({"key": key, "text": text, "to": to, "level": level})

    async def send_panel(
        self, area: str, action: str, data: dict[str, Any], to: str | None = None
    ) -> None:
        self.panels.append({"area": area, "action": action, "data": data, "to": to})

    def on_panel(self, area: str, handler: Callable) -> None:
        self.handlers[area] = handler

    def __post_init__(self) -> None:
        # tests add and remove peers by hand: the directory tells the bus, as in the bot
        self.peers = PeerDirectory(self.bus.publish)

    def emit(self, event: DetectorEvent) -> None:
        self.events.append(event)
        self.bus.publish(Detected(event))

    async def click(self, peer_id: str, action: str, **data: Any) -> None:
        await self.handlers["checklist"](peer_id, action, data)

    def last_state(self, peer_id: str) -> dict[str, Any]:
        for message in reversed(self.panels):
            if message["action"] == "state" and message["to"] == peer_id:
                return message["data"]
        raise AssertionError(f"no state sent to {peer_id}")

    def errors_to(self, peer_id: str) -> list[dict[str, Any]]:
        return [m["data"] for m in self.panels if m["action"] == "error" and m["to"] == peer_id]


@dataclass
class FakeRoomScan:
    max_faces: int = 1
    coverage: float = 1.0

    def analyze(self, frames: list[tuple[float, np.ndarray]]) -> RoomScanFindings:
        extra = (len(frames) // 2,) if self.max_faces > 1 else ()
        return RoomScanFindings(
            coverage=self.coverage, max_faces=self.max_faces, extra_face_frames=extra
        )


@dataclass
class FakeIdReader:
    name: str

    def read(self, frames: list[np.ndarray], expected_name: str) -> IdReading:
        match = best_name_in_text(self.name.split(), expected_name)
        return IdReading(
            full_name=self.name,
            confidence=0.9,
            name_matched=match.matched,
            name_score=match.score,
            face_similarity=0.8,
            images={"best_frame": frames[-1], "card_face": frames[-1][:100, :80]},
        )


@dataclass
class FakeTranscriber:
    text: str

    def transcribe(self, samples: np.ndarray, sample_rate: int, language: str) -> str:
        return self.text


@dataclass
class FakeVoiceEnroller:
    def enroll(self, samples: np.ndarray, sample_rate: int, out_dir: Path) -> EnrolledVoice:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "student.npy"
        np.save(path, np.ones(4))
        return EnrolledVoice(path, np.ones(4))


@dataclass
class FakeNotifier:
    calls: list[tuple[str, ...]] = field(default_factory=list)

    async def not_admitted(self, session_id: str, student_name: str, reason: str) -> None:
        self.calls.append(("not_admitted", session_id, student_name, reason))

    async def consent_refused(self, session_id: str, student_name: str) -> None:
        self.calls.append(("consent_refused", session_id, student_name))

    async def admitted(self, session_id: str, student_name: str) -> None:
        self.calls.append(("admitted", session_id, student_name))
