"""The examiners' live feed of flags: follows the session's ``events.jsonl``.

Detectors append one ``DetectorEvent`` per line as they happen (docs/architecture.md);
reading the file instead of hooking into each detector keeps the checklist
independent of which detectors run.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from proctorbot.detection.events import DetectorEvent

log = logging.getLogger(__name__)


class FlagFeed:
    def __init__(self, events_path: Path, *, poll_s: float = 1.0, keep: int = 500) -> None:
        self.events_path = events_path
        self.poll_s = poll_s
        self.keep = keep
        self.flags: list[dict[str, Any]] = []
        self._offset = 0
        self._partial = b""

    def read_new(self) -> list[dict[str, Any]]:
        """Flags from lines appended since the last call (a half-written line waits)."""
        try:
            with self.events_path.open("rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
        except FileNotFoundError:
            return []
        self._offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        new = []
        for line in lines:
            if not line.strip():
                continue
            try:
                event = DetectorEvent.from_json(json.loads(line))
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("events.jsonl: skipping a bad line (%s)", exc)
                continue
            new.append(flag_of(event))
        for flag in new:  # a condition written again as it grows replaces its earlier line
            key = flag_key(flag)
            self.flags = [f for f in self.flags if flag_key(f) != key]
            self.flags.append(flag)
        del self.flags[: -self.keep]
        return new

    async def follow(self, send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        while True:
            for flag in await asyncio.to_thread(self.read_new):
                await send(flag)
            await asyncio.sleep(self.poll_s)


def flag_key(flag: dict[str, Any]) -> tuple[str, str, float]:
    """One condition of one track: the same key while it grows and when it closes."""
    return (str(flag.get("kind")), str(flag.get("track")), float(flag.get("start", 0.0)))


def flag_of(event: DetectorEvent) -> dict[str, Any]:
    """``role``: whose track it is (participant keys are ``<role>-<id>``), so the page says
    "the examiner's connection dropped", not "the student left"; ``open``: still going on."""
    role, _, rest = event.track.partition("-")
    return {
        "kind": str(event.kind),
        "role": role if rest else "student",
        "open": bool(event.details.get("open")),
        "start": round(event.start, 2),
        "end": round(event.end, 2),
        "score": round(event.score, 3),
        "track": event.track,
        "evidence": list(event.evidence),
    }
