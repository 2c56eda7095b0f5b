"""One subscription to the student's camera and microphone for the whole checklist.

Subscribing anew for each check would wait for a fresh keyframe every time (video is
lost until one arrives) and lose the first second of sound; the feed subscribes once
per student connection and hands each capture what arrives during its window.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
from proctorbot.checklist.detectors import AudioChunk, SessionBotLike, VideoFrame

log = logging.getLogger(__name__)


class StudentFeed:
    def __init__(self, bot: SessionBotLike, peer_id: str, fps: float = 15.0) -> None:
        self.bot = bot
        self.peer_id = peer_id
        self.fps = fps
        self._video_listeners: set[asyncio.Queue[VideoFrame]] = set()
        self._audio_listeners: set[asyncio.Queue[AudioChunk]] = set()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(
                    self._pump(self.bot.video_frames(self.peer_id, self.fps), self._video_listeners)
                ),
                asyncio.create_task(
                    self._pump(self.bot.audio_chunks(self.peer_id), self._audio_listeners)
                ),
            ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []

    async def frames(self, fps: float, seconds: float) -> list[VideoFrame]:
        """Frames arriving during the next ``seconds``, at most ``fps`` of them per second."""
        kept: list[VideoFrame] = []
        async for t, image in self._window(self._video_listeners, seconds):
            if not kept or t - kept[-1][0] >= 0.9 / fps:
                kept.append((t, image))
        return kept

    async def frame_batches(
        self, fps: float, seconds: float, every_s: float = 1.0
    ) -> AsyncIterator[list[VideoFrame]]:
        """Frames of the next ``seconds`` (at most ``fps`` a second), handed out each
        ``every_s`` as they come, so a check can follow them and stop early."""
        batch: list[VideoFrame] = []
        last: float | None = None
        loop = asyncio.get_running_loop()
        due = loop.time() + every_s
        async for t, image in self._window(self._video_listeners, seconds):
            if last is None or t - last >= 0.9 / fps:
                batch.append((t, image))
                last = t
            if loop.time() >= due and batch:
                yield batch
                batch, due = [], loop.time() + every_s
        if batch:
            yield batch

    async def audio(self, seconds: float) -> np.ndarray:
        chunks = [
            np.asarray(c, dtype=np.int16).reshape(-1)
            async for _, c in self._window(self._audio_listeners, seconds)
        ]
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)

    async def _window(
        self, listeners: set[asyncio.Queue[Any]], seconds: float
    ) -> AsyncIterator[Any]:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        listeners.add(queue)
        deadline = asyncio.get_running_loop().time() + seconds
        try:
            while True:
                try:
                    async with asyncio.timeout_at(deadline):
                        item = await queue.get()
                except TimeoutError:
                    return
                yield item
        finally:
            listeners.discard(queue)

    async def _pump(self, source: Any, listeners: set[asyncio.Queue[Any]]) -> None:
        try:
            async for item in source:
                for queue in list(listeners):
                    queue.put_nowait(item)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("checklist feed of %s stopped", self.peer_id)
        finally:
            closer = getattr(source, "aclose", None)
            if closer is not None:
                with contextlib.suppress(Exception):
                    await closer()
