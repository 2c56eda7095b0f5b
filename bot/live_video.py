"""The student's camera, one connection at a time, through a ``VideoWatcher``.

``VideoWatcher.feed`` returns an event when its condition ends; a condition that still
holds when the watch stops (face absent for the last 40 s, frozen video) is only in the
watcher's open spans. This loop makes sure each of those is closed and emitted:

* the feed ends (the student left or renegotiated): open spans end at the last frame,
  the last moment the condition was seen;
* the watch is cancelled (the bot leaves, the server shuts down): open spans end at the
  stop time (``stop_time()``, the bot's ``stopped_at``), never before the last frame;
* a frame being analysed in a worker thread when the cancel comes is waited for
  (``off_loop.to_the_end``), so the events it closes are not dropped with it.

Closed-at-stop events carry ``details["open_when_stopped"] = True``.

A condition that already counts while it still holds (a second face for 1 s, the face
gone for 2 s) is emitted at once with ``details["open"] = True`` and again each time it
has grown by ``extent_every_s`` (``VideoWatcher.growing``): its alert goes out within
seconds of the onset, and a crash loses at most that much of how long it lasted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from proctorbot.bot.off_loop import to_the_end
from proctorbot.detection.events import DetectorEvent

log = logging.getLogger(__name__)


class StudentVideoWatch:
    def __init__(
        self,
        watcher: Any,  # detection.video_watch.VideoWatcher
        emit: Callable[[DetectorEvent], None],
        stop_time: Callable[[], float | None],
        extent_every_s: float = 5.0,
        added: Sequence[Any] = (),  # detection.frame_detectors.FrameDetector (a profile's)
    ) -> None:
        self.watcher = watcher
        self.emit = emit
        self.stop_time = stop_time
        self.extent_every_s = extent_every_s
        self.added = list(added)
        self.last_t: float | None = None

    def _feed(self, t: float, frame: np.ndarray) -> list[DetectorEvent]:
        events = [*self.watcher.feed(t, frame), *self.watcher.growing(t, self.extent_every_s)]
        for detector in self.added:  # the same frame, the same worker thread
            events += detector.feed(t, frame)
        return events

    async def run(self, frames: AsyncIterator[tuple[float, np.ndarray]]) -> None:
        stopped = False
        try:
            async for t, frame in frames:
                events = await to_the_end(self._feed, t, frame)
                self.last_t = t
                self._emit_all(events)
        except asyncio.CancelledError:
            stopped = True
            raise
        finally:
            self.close(stopped)

    def close(self, stopped: bool) -> list[DetectorEvent]:
        """Close every open span: at the stop time when stopped, else at the last frame."""
        end = self.last_t
        if stopped:
            at = self.stop_time()
            if at is not None:
                end = at if end is None else max(end, at)
        events = self.watcher.finish(end)
        if end is not None:
            for detector in self.added:
                events += detector.finish(end)
        if stopped:
            events = [
                replace(event, details={**event.details, "open_when_stopped": True})
                for event in events
            ]
        self._emit_all(events)
        return events

    def _emit_all(self, events: list[DetectorEvent]) -> None:
        for event in events:
            try:
                self.emit(event)
            except Exception:  # noqa: BLE001 - the next events still go out
                log.exception("video event %s at %.2f s not emitted", event.kind, event.start)
