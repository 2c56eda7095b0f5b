"""Shared pieces of the live-watch and hand-over tests: a SessionBot stand-in, a
database session with people, and the outbox rows written for it."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from proctorbot.bot.peer_directory import PeerDirectory
from proctorbot.bot.peers import PeerInfo
from proctorbot.bot.session_bus import Detected, SessionBus
from proctorbot.detection.events import DetectorEvent

SR = 16000


@dataclass
class FakeSessionBot:
    """The SessionBot API (docs/architecture.md) over prepared media, no network.

    Media is handed out as fast as the consumer takes it; ``emit`` appends to
    ``events.jsonl`` as the real bot does; panels and prompts are kept in lists.
    """

    session_id: str
    session_dir: Path
    bus: SessionBus = field(default_factory=SessionBus)
    peers: dict[str, PeerInfo] = field(init=False)
    audio: dict[str, list[tuple[float, np.ndarray]]] = field(default_factory=dict)
    video: dict[str, list[tuple[float, np.ndarray]]] = field(default_factory=dict)
    panels: list[tuple[str, str, Any, str | None]] = field(default_factory=list)
    prompts: list[tuple[str, str, str | None, str]] = field(default_factory=list)
    subscriptions: list[tuple[str, str]] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    # Seconds since started_at when the bot began to leave (set by a test before it stops
    # the watch, as SessionBot._shutdown does before cancelling its plug-ins).
    stopped_at: float | None = None
    # What SessionBot.open_gaps() returns: participants without media right now.
    gaps: list[Any] = field(default_factory=list)
    media_done: dict[str, asyncio.Event] = field(default_factory=dict)
    # > 0: media times run this many times faster than real time, on one clock for all
    # tracks (so the examiner's track keeps pace with the student's); 0: no pacing.
    speed: float = 0.0
    _origin: float | None = None

    def __post_init__(self) -> None:
        self.session_dir.mkdir(parents=True, exist_ok=True)
        self.peers = PeerDirectory(self.bus.publish)  # tells the bus, as in the bot
        self.bus.on(Detected, lambda detected: self._write(detected.event))

    def open_gaps(self) -> list[Any]:
        return list(self.gaps)

    def emit(self, event: DetectorEvent) -> None:
        self.bus.publish(Detected(event))

    def people_present(self) -> bool:
        return any(peer.role != "bot" for peer in self.peers.values())

    def _write(self, event: DetectorEvent) -> None:
        with open(self.session_dir / "events.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(event.to_json(), ensure_ascii=False) + "\n")

    async def send_panel(self, area: str, action: str, data: Any, to: str | None = None) -> bool:
        self.panels.append((area, action, data, to))
        return True

    async def send_prompt(
        self, key: str, text: str, to: str | None = None, level: str = "info"
    ) -> bool:
        self.prompts.append((key, text, to, level))
        return True

    def on_panel(self, area: str, handler: Any) -> None:
        pass

    async def audio_chunks(self, peer_id: str) -> AsyncIterator[tuple[float, np.ndarray]]:
        self.subscriptions.append(("audio", peer_id))
        for item in self.audio.get(peer_id, []):
            await self._pace(item[0])
            yield item
        self._done(f"audio:{peer_id}")
        await asyncio.Event().wait()  # the peer stays in the call

    async def video_frames(
        self, peer_id: str, fps: float = 2.0
    ) -> AsyncIterator[tuple[float, np.ndarray]]:
        self.subscriptions.append(("video", peer_id))
        for item in self.video.get(peer_id, []):
            await self._pace(item[0])
            yield item
        self._done(f"video:{peer_id}")
        await asyncio.Event().wait()

    async def _pace(self, t: float) -> None:
        loop = asyncio.get_running_loop()
        if not self.speed:
            await asyncio.sleep(0)
            return
        if self._origin is None:
            self._origin = loop.time() - t / self.speed
        await asyncio.sleep(max(0.0, self._origin + t / self.speed - loop.time()))

    def _done(self, key: str) -> None:
        self.media_done.setdefault(key, asyncio.Event()).set()

    async def wait_media(self, key: str, timeout: float) -> None:
        event = self.media_done.setdefault(key, asyncio.Event())
        await asyncio.wait_for(event.wait(), timeout)

    def events(self) -> list[dict[str, Any]]:
        path = self.session_dir / "events.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def chunks_of(
    samples: np.ndarray, start: float, seconds: float = 0.1
) -> list[tuple[float, np.ndarray]]:
    """A float track as the bot's ``audio_chunks``: (t, int16) every ``seconds``."""
    from proctorbot.detection.audio_input import float_to_int16

    step = int(seconds * SR)
    return [
        (start + i / SR, float_to_int16(samples[i : i + step]))
        for i in range(0, len(samples), step)
    ]


@dataclass(frozen=True)
class SessionPeople:
    session_id: str
    student: str
    examiner: str
    organizer: str


def add_session(ctx: Any, *, profile: str, starts_at: dt.datetime | None = None) -> SessionPeople:
    """An organization, a student, an examiner and an organizer (both with e-mail)."""
    from proctorbot.storage.models import ExamSession, Organization, Person, SessionMember

    start = starts_at or dt.datetime.now(dt.UTC)
    with ctx.db.begin() as db:
        org = Organization(name="Uni")
        db.add(org)
        db.flush()
        people = {
            role: Person(
                organization_id=org.id,
                role=role,
                full_name=f"{role.title()} Person",
                language="en",
                external_id=role,
                email=f"{role}@uni.example",
            )
            for role in ("student", "examiner", "organizer")
        }
        db.add_all(people.values())
        db.flush()
        session = ExamSession(
            organization_id=org.id,
            title="Calculus oral",
            profile=profile,
            language="en",
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=30),
            status="live",
        )
        session.members = [
            SessionMember(person_id=people["student"].id, role="student"),
            SessionMember(person_id=people["examiner"].id, role="examiner"),
        ]
        db.add(session)
        db.flush()
        return SessionPeople(
            session.id, people["student"].id, people["examiner"].id, people["organizer"].id
        )


def outbox_rows(ctx: Any, kind: str) -> list[Any]:
    from proctorbot.notifications.tables import OutboxMessage
    from sqlalchemy import select

    with ctx.db() as db:
        rows = db.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)).all()
        db.expunge_all()
        return list(rows)


def write_voiceprint(
    models: Any, session_dir: Path, enroll_samples: np.ndarray, bus: SessionBus | None = None
) -> Path:
    """What the checklist's name-aloud step leaves behind: the file (for the hand-over)
    and, on the session bus, the voiceprint itself (for the live watch)."""
    from proctorbot.bot.session_bus import VoiceprintEnrolled
    from proctorbot.detection.voiceprint import enroll

    result = enroll(enroll_samples, models.embedder, models.new_vad())
    assert result.voiceprint is not None, result.messages
    path = session_dir / "voiceprints" / "student.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.voiceprint.to_json(), default=float))
    if bus is not None:
        bus.publish(VoiceprintEnrolled(result.voiceprint))
    return path


class ListSink:
    """An alert sink that keeps what the live watch sends."""

    def __init__(self) -> None:
        self.sent: list = []

    def send(self, finding: Any) -> int:
        self.sent.append(finding)
        return 1
