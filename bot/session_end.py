"""When a session is over, the bot leaves by itself: every session ends, however it was
created (the demo, ``proctorbot plan``, the dashboard).

The bot leaves when
* people had been in the call and nobody but the bot has been there for
  ``bot.leave_when_empty_seconds`` (a page reload or a short drop of everyone does not
  end the exam) — reason ``room_empty``;
* the slot is over and the room is empty (everyone has gone, or nobody came) —
  ``slot_over``;
* the slot plus ``bot.max_overrun_minutes`` is over although people are still in the
  call — ``overrun_limit``;
* a part of the session asked for it (``bot.request_end``: a trial call done) — its reason.
An exam that runs over its slot keeps recording while anyone is in the call.

The watch wakes on each change of who is in the call (``bot.presence_changed``) and
at the next deadline; it reads nothing from disk.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


class InCall(Protocol):
    """What the watch needs of a ``SessionBot``."""

    presence_changed: asyncio.Event

    def people_present(self) -> bool: ...


@dataclass(frozen=True)
class EndRules:
    empty_for_s: float
    slot_end: float | None  # wall clock, seconds since the epoch; None = no slot
    max_overrun_s: float

    @classmethod
    def from_settings(cls, bot_settings: Any, slot_end: float | None) -> EndRules:
        return cls(
            empty_for_s=float(bot_settings.leave_when_empty_seconds),
            slot_end=slot_end,
            max_overrun_s=float(bot_settings.max_overrun_minutes) * 60.0,
        )


@dataclass
class EndWatch:
    """``await watch.wait()`` returns the reason the bot should leave now."""

    bot: InCall
    rules: EndRules
    # People were in this session before this bot (a bot restarted after a crash).
    people_seen: bool = False
    clock: Callable[[], float] = time.time
    empty_since: float | None = None

    def check(self, now: float) -> tuple[str | None, float | None]:
        """(reason to leave now or None, when to look again at the latest)."""
        requested = getattr(self.bot, "end_requested", None)  # SessionBot.request_end
        if requested:
            return requested, None
        present = self.bot.people_present()
        if present:
            self.people_seen = True
            self.empty_since = None
        elif self.empty_since is None:
            self.empty_since = now
        slot_end = self.rules.slot_end
        deadlines: list[float] = []
        if slot_end is not None:
            if now >= slot_end + self.rules.max_overrun_s:
                return "overrun_limit", None
            deadlines.append(slot_end + self.rules.max_overrun_s)
            if not present:
                if now >= slot_end:
                    return "slot_over", None
                deadlines.append(slot_end)
        if not present and self.people_seen and self.empty_since is not None:
            leave_at = self.empty_since + self.rules.empty_for_s
            if now >= leave_at:
                return "room_empty", None
            deadlines.append(leave_at)
        return None, min(deadlines) if deadlines else None

    async def wait(self) -> str:
        while True:
            self.bot.presence_changed.clear()  # before looking: a change after it wakes us
            now = self.clock()
            reason, next_look = self.check(now)
            if reason is not None:
                return reason
            timeout = None if next_look is None else max(0.05, next_look - now)
            try:
                await asyncio.wait_for(self.bot.presence_changed.wait(), timeout)
            except TimeoutError:
                pass
