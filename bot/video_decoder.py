"""Decoded frames for live detectors, made in a thread so the event loop never decodes.

Every encoded frame must go through the decoder (VP8 frames depend on the previous
ones), but only one per ``1/fps`` seconds is converted to a BGR array and handed to
the loop; a slow consumer loses old frames, never memory.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading

import av
import numpy as np
from proctorbot.recording.frames import EncodedFrame

logger = logging.getLogger(__name__)

VideoItem = tuple[float, np.ndarray]


class VideoFrameDecoder:
    def __init__(self, loop: asyncio.AbstractEventLoop, fps: float, origin: float) -> None:
        self.frames: asyncio.Queue[VideoItem | None] = asyncio.Queue(maxsize=2)
        self._loop = loop
        self._interval = 1.0 / fps if fps > 0 else 0.0
        self._origin = origin
        self._input: queue.SimpleQueue[EncodedFrame | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="video-decoder", daemon=True)
        self._thread.start()

    def push(self, frame: EncodedFrame) -> None:
        self._input.put(frame)

    def finish(self) -> None:
        self._input.put(None)

    def _deliver(self, item: VideoItem | None) -> None:
        if item is None:
            while self.frames.full():
                self.frames.get_nowait()
        elif self.frames.full():
            self.frames.get_nowait()  # drop the oldest: detectors want the present
        self.frames.put_nowait(item)

    def _run(self) -> None:
        decoder: av.CodecContext | None = None
        codec = None
        next_due = 0.0
        started = False
        while True:
            frame = self._input.get()
            if frame is None:
                break
            if not started:
                if not frame.keyframe:
                    continue
                started = True
            if frame.codec != codec:
                codec = frame.codec
                decoder = av.CodecContext.create(codec, "r")
            assert decoder is not None
            try:
                pictures = decoder.decode(av.Packet(frame.data))
            except av.FFmpegError as exc:
                logger.debug("video frame not decodable: %s", exc)
                started = False  # wait for the next keyframe
                continue
            for picture in pictures:
                if frame.arrival >= next_due:
                    next_due = frame.arrival + self._interval
                    image = picture.to_ndarray(format="bgr24")
                    if not self._hand_over(((frame.wall or frame.arrival) - self._origin, image)):
                        return
        self._hand_over(None)

    def _hand_over(self, item: VideoItem | None) -> bool:
        try:
            self._loop.call_soon_threadsafe(self._deliver, item)
        except RuntimeError:  # the event loop is closed: nobody is listening any more
            return False
        return True
