"""The examiners' live feed of flags: every detector event and recording gap of the
session, as the session bus carries them (``Detected``).

Listening to the bus rather than to each detector keeps the checklist independent of
which detectors run; the flags are kept from the checklist's start and sent to the
examiners' panels once the exam is on.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from proctorbot.bot.session_bus import Detected
from proctorbot.detection.events import DetectorEvent
from proctorbot.rules.engine import source_device

log = logging.getLogger(__name__)


class FlagFeed:
    def __init__(self, *, keep: int = 500) -> None:
        self.keep = keep
        self.flags: list[dict[str, Any]] = []
        # Set once the exam is on: each new flag goes to the examiners' panels.
        self.send: Callable[[dict[str, Any]], Awaitable[None]] | None = None

    def add(self, event: DetectorEvent) -> dict[str, Any]:
        """The event's flag; a condition published again as it grows replaces its line."""
        flag = flag_of(event)
        key = flag_key(flag)
        self.flags = [f for f in self.flags if flag_key(f) != key]
        self.flags.append(flag)
        del self.flags[: -self.keep]
        return flag

    async def follow(self, bus: Any) -> None:  # proctorbot.bot.session_bus.SessionBus
        """Keep every flag from now on; send each new one once ``send`` is set."""
        async with bus.subscribe(Detected) as events:
            async for detected in events:
                flag = self.add(detected.event)
                if self.send is not None:
                    await self.send(flag)


def flag_key(flag: dict[str, Any]) -> tuple[str, str, float]:
    """One condition of one track: the same key while it grows and when it closes."""
    return (str(flag.get("kind")), str(flag.get("track")), float(flag.get("start", 0.0)))


def flag_of(event: DetectorEvent) -> dict[str, Any]:
    """``role``: whose track it is (participant keys are ``<role>-<id>``), so the page says
    "the examiner's connection dropped", not "the student left"; ``device``: which of the
    person's sources ("main", "phone", "screen"), so the phone going is not the student
    leaving; ``open``: still going on."""
    role, _, rest = event.track.partition("-")
    return {
        "kind": str(event.kind),
        "role": role if rest else "student",
        "device": source_device(event.track),
        "open": bool(event.details.get("open")),
        "start": round(event.start, 2),
        "end": round(event.end, 2),
        "score": round(event.score, 3),
        "track": event.track,
        "evidence": list(event.evidence),
    }
