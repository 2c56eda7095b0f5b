"""How many messages one signaling socket may send, and what its misbehaviour costs the log.

A token bucket per socket: ``BURST`` messages at once, refilled at ``REFILL_PER_S``.
Why these numbers: the busiest honest moment is a join into a full room (8 people
and the bot): one offer and a dozen ICE candidates to each peer, about 120 messages
in a second, and a reconnect right after can double that; afterwards a browser sends
a few messages a minute (media-state, the checklist panel, a renegotiation's offer and
candidates), the bot a few prompts and panel updates a second at most. Burst 200 covers
the join with room to spare and 50/s is ten times any steady honest rate, while a
flood is cut to what the server relays without noticing.

Over budget a message is dropped unread (no JSON parse, no reply), counted, and the
log gets one warning per socket per ``SUMMARY_EVERY_S`` however many were dropped;
after ``CLOSE_AFTER_DROPPED`` drops the socket is closed (the abuse went on). Bad
messages within the budget still get their ``error`` reply but are counted here too
and logged as one summary line per interval (and when the socket closes), not a line each.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

BURST = 200
REFILL_PER_S = 50.0
CLOSE_AFTER_DROPPED = 1000
SUMMARY_EVERY_S = 10.0


@dataclass
class MessageBudget:
    """One socket's token bucket and its counters since the last summary line."""

    burst: int = BURST
    refill_per_s: float = REFILL_PER_S
    close_after_dropped: int = CLOSE_AFTER_DROPPED
    summary_every_s: float = SUMMARY_EVERY_S
    clock: Callable[[], float] = time.monotonic
    dropped_total: int = 0
    dropped: int = 0  # since the last summary
    bad: Counter[str] = field(default_factory=Counter)  # code -> count, since the last summary
    _tokens: float = field(init=False)
    _refilled_at: float = field(init=False)
    _summary_at: float = field(init=False)
    _warned: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self._tokens = float(self.burst)
        self._refilled_at = self._summary_at = self.clock()

    def take(self) -> bool:
        """Spend one message of the budget; False (and counted as dropped) when none is left."""
        now = self.clock()
        elapsed = max(0.0, now - self._refilled_at)
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.refill_per_s)
        self._refilled_at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        self.dropped += 1
        self.dropped_total += 1
        return False

    def first_drop_of_interval(self) -> bool:
        """True once per summary interval, at its first dropped message: warn then."""
        if self.dropped and not self._warned:
            self._warned = True
            return True
        return False

    @property
    def exhausted(self) -> bool:
        """The abuse went on: enough messages were dropped to close the socket."""
        return self.dropped_total >= self.close_after_dropped

    def note_bad(self, code: str) -> None:
        self.bad[code] += 1

    def summary_due(self) -> bool:
        return self.clock() - self._summary_at >= self.summary_every_s

    def take_summary(self) -> str | None:
        """What happened since the last summary, in words, or None if nothing did; resets."""
        parts = []
        if self.dropped:
            parts.append(f"{self.dropped} dropped over budget")
        if self.bad:
            kinds = ", ".join(f"{code}: {n}" for code, n in self.bad.most_common())
            parts.append(f"{sum(self.bad.values())} bad ({kinds})")
        seconds = self.clock() - self._summary_at
        self.dropped, self.bad, self._warned = 0, Counter(), False
        self._summary_at = self.clock()
        return f"{'; '.join(parts)} in {seconds:.0f} s" if parts else None
