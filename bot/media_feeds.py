"""Decoded media for areas that run inside the bot: camera frames and 16 kHz audio.

Frames are decoded in a thread per subscriber (``VideoFrameDecoder``); audio comes
from the recorder's analysis path (already decoded once for the WAV), handed from the
recording thread to the event loop only while someone listens. Queues are bounded: a
slow consumer loses old items, never memory.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import numpy as np
from proctorbot.bot.video_decoder import VideoFrameDecoder
from proctorbot.recording.receiver_tap import ReceivedTrack

Item = tuple[float, np.ndarray]


class MediaFeeds:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        origin: float,
        key_of: Callable[[str], str | None],
        audio_queue_size: int = 500,
    ) -> None:
        self._loop = loop
        self._origin = origin
        self._key_of = key_of  # peer id → participant key (None once the peer is gone)
        self._audio_queue_size = audio_queue_size
        self._video: dict[str, list[VideoFrameDecoder]] = {}
        self._audio: dict[str, list[asyncio.Queue[Item | None]]] = {}
        self._audio_listeners = 0  # read by the recording thread

    async def video(self, peer_id: str, received: ReceivedTrack, fps: float) -> AsyncIterator[Item]:
        decoder = VideoFrameDecoder(self._loop, fps, self._origin)
        received.sinks.append(decoder.push)
        self._video.setdefault(peer_id, []).append(decoder)
        received.request_keyframe("subscriber")  # decoding can only start on a keyframe
        try:
            while (item := await decoder.frames.get()) is not None:
                yield item
        finally:
            with contextlib.suppress(ValueError):
                received.sinks.remove(decoder.push)
            decoder.finish()

    async def audio(self, peer_id: str) -> AsyncIterator[Item]:
        waiting: asyncio.Queue[Item | None] = asyncio.Queue(maxsize=self._audio_queue_size)
        self._audio.setdefault(peer_id, []).append(waiting)
        self._audio_listeners += 1
        try:
            while (item := await waiting.get()) is not None:
                yield item
        finally:
            self._audio_listeners -= 1
            with contextlib.suppress(ValueError, KeyError):
                self._audio[peer_id].remove(waiting)

    def end_video(self, peer_id: str) -> None:
        """The peer's connection closed: its decoders end (subscribe again on a new one)."""
        for decoder in self._video.pop(peer_id, []):
            decoder.finish()

    def end_audio(self, peer_id: str) -> None:
        """The peer left: its audio generators end."""
        for waiting in self._audio.pop(peer_id, []):
            if waiting.full():
                waiting.get_nowait()
            waiting.put_nowait(None)

    def pcm_from_worker(self, key: str, at: float, pcm: np.ndarray) -> None:
        """Recording thread: hand a decoded chunk to the loop, only when someone listens."""
        if self._audio_listeners > 0:  # an int read is safe across threads
            with contextlib.suppress(RuntimeError):  # the loop is closing
                self._loop.call_soon_threadsafe(self._deliver, key, at - self._origin, pcm)

    def _deliver(self, key: str, t: float, pcm: np.ndarray) -> None:
        for peer_id, queues in list(self._audio.items()):
            if self._key_of(peer_id) != key:
                continue
            for waiting in queues:
                if waiting.full():
                    waiting.get_nowait()
                waiting.put_nowait((t, pcm))
