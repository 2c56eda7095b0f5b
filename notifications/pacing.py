"""Telegram's limits as code: about one message a second per chat, 30 a second overall."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Pacing:
    chat_interval: float = 1.0
    per_second: float = 30.0
    retry_base: float = 2.0
    retry_max: float = 600.0
    # An unreachable channel is tried again at least this often, however long the outage.
    outage_retry_max: float = 15.0


class RateLimiter:
    """Waits before each send so neither the per-chat nor the global rate is exceeded."""

    def __init__(
        self,
        pacing: Pacing,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.pacing = pacing
        self._clock = clock
        self._sleep = sleep
        self._next_for_chat: dict[str, float] = {}
        self._recent: deque[float] = deque()
        self._lock = asyncio.Lock()

    def pause(self, key: str, seconds: float) -> None:
        """The server said "retry after": nothing goes to that chat before then."""
        until = self._clock() + seconds
        self._next_for_chat[key] = max(self._next_for_chat.get(key, 0.0), until)

    async def acquire(self, key: str) -> None:
        wait = self._next_for_chat.get(key, 0.0) - self._clock()
        if wait > 0:
            await self._sleep(wait)
        async with self._lock:
            limit = max(1, int(self.pacing.per_second))
            while True:
                now = self._clock()
                while self._recent and now - self._recent[0] >= 1.0:
                    self._recent.popleft()
                if len(self._recent) < limit:
                    break
                await self._sleep(1.0 - (now - self._recent[0]))
            now = self._clock()
            self._recent.append(now)
            self._next_for_chat[key] = now + self.pacing.chat_interval
