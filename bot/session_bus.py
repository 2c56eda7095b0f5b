"""One typed event flow inside each session (Pipecat's frames through processors).

The ``SessionBot`` publishes what happens in its session — who joined and who left, every
detector event and recording gap, the checklist's verdict on the exam, the student's
voiceprint, the end of the session — and each part of the session subscribes to what it
needs: the events log (``events.jsonl``, the durable record, never read back while the
session runs), the checklist's live flags, the live watch and its alerts, the end watch.
Nothing is learnt by polling files or the peer list.

Media stays on subscriptions of its own (``bot.video_frames`` / ``bot.audio_chunks``): a
frame is decoded only for a subscriber that asks for it, at the rate it asks.

Two ways to listen:

* ``bus.on(Kind, handler)``: ``handler(event)`` at once, in the publisher's thread, in
  publishing order — for writers that must never lag (the events log);
* ``bus.subscribe(Kind, ...)``: an async iterator on the event loop (``async with``), each
  subscriber with its own queue, so a slow one never holds up the others.

``bus.latest(Kind)`` is the newest event of a kind (the exam's state, the voiceprint):
a part that starts late still knows what was said before it listened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from proctorbot.bot.peers import PeerInfo
from proctorbot.detection.events import DetectorEvent

log = logging.getLogger(__name__)

E = TypeVar("E")


# -- the events ---------------------------------------------------------------------------
@dataclass(frozen=True)
class PeerJoined:
    peer: PeerInfo


@dataclass(frozen=True)
class PeerLeft:
    peer: PeerInfo
    reason: str


@dataclass(frozen=True)
class Detected:
    """A detector event, or a gap of the recording (``participant_left``): what
    ``events.jsonl`` holds, one line each."""

    event: DetectorEvent


@dataclass(frozen=True)
class ExamDecided:
    """The checklist's verdict: ``proctored`` / ``non_biometric`` (admitted) or ``closed``."""

    state: str


@dataclass(frozen=True)
class VoiceprintEnrolled:
    """The student's voiceprint from the name said aloud (``detection.voiceprint``)."""

    voiceprint: Any


@dataclass(frozen=True)
class FindingAlerted:
    """A finding worth telling people about, as the rule engine saw it (``rules``)."""

    finding: Any
    ongoing: bool = False


@dataclass(frozen=True)
class FindingClosed:
    finding: Any


@dataclass(frozen=True)
class SessionEnding:
    """The bot leaves: ``reason`` is why (room_empty, slot_over, overrun_limit, stopped)."""

    reason: str
    at: float  # seconds since the bot's start


# -- the bus ------------------------------------------------------------------------------
class Subscription:
    """The events of one subscriber, in order; ``drain()`` takes what already arrived."""

    def __init__(self, queue: asyncio.Queue[Any]) -> None:
        self._queue = queue

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Any:
        return await self._queue.get()

    def drain(self) -> list[Any]:
        items = []
        while not self._queue.empty():
            items.append(self._queue.get_nowait())
        return items


@dataclass
class _Queue:
    kinds: tuple[type, ...]
    queue: asyncio.Queue[Any]
    accept: Callable[[Any], bool] | None = None


@dataclass
class SessionBus:
    # The session's event loop; None: the loop of the first publish or subscribe on it.
    loop: asyncio.AbstractEventLoop | None = None
    _handlers: dict[type, list[Callable[[Any], None]]] = field(default_factory=dict)
    _queues: list[_Queue] = field(default_factory=list)
    _latest: dict[type, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def on(self, kind: type[E], handler: Callable[[E], None]) -> None:
        """``handler(event)`` for each event of ``kind``, at once, in the publisher's thread."""
        self._handlers.setdefault(kind, []).append(handler)

    def publish(self, event: object) -> None:
        """From any thread. Handlers run now; subscribers get it on the event loop."""
        kind = type(event)
        with self._lock:
            self._latest[kind] = event
            handlers = list(self._handlers.get(kind, ()))
        for handler in handlers:
            try:
                handler(event)
            except Exception:  # noqa: BLE001 - one listener's bug must not stop the others
                log.exception("bus handler %s failed on %s", handler, kind.__name__)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        loop = self.loop = self.loop or running
        if loop is None or loop.is_closed():
            return  # nobody can be subscribed yet
        if running is loop:
            self._deliver(event)
        else:
            loop.call_soon_threadsafe(self._deliver, event)

    def _deliver(self, event: object) -> None:
        for subscriber in list(self._queues):
            if isinstance(event, subscriber.kinds) and (
                subscriber.accept is None or subscriber.accept(event)
            ):
                subscriber.queue.put_nowait(event)

    def latest(self, kind: type[E]) -> E | None:
        with self._lock:
            return self._latest.get(kind)

    @contextlib.asynccontextmanager
    async def subscribe(
        self, *kinds: type, accept: Callable[[Any], bool] | None = None
    ) -> AsyncIterator[Subscription]:
        """``async with bus.subscribe(PeerJoined, PeerLeft) as events: async for e in events``."""
        self.loop = self.loop or asyncio.get_running_loop()
        subscriber = _Queue(kinds, asyncio.Queue(), accept)
        self._queues.append(subscriber)
        try:
            yield Subscription(subscriber.queue)
        finally:
            self._queues.remove(subscriber)

    async def wait(self, kind: type[E], accept: Callable[[E], bool] | None = None) -> E:
        """The newest event of ``kind`` if it matches, else the next one that does."""
        async with self.subscribe(kind, accept=accept) as events:
            latest = self.latest(kind)
            if latest is not None and (accept is None or accept(latest)):
                return latest
            async for event in events:
                return event
        raise AssertionError("unreachable")
