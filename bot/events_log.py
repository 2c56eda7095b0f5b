"""A session's ``events.jsonl``, written as events happen, never behind the media.

Events used to go through the recorder's file thread, queued behind every media frame
still waiting for the disk: a crash then lost events that had been confirmed seconds
before. Here they have a thread of their own; each line is appended, flushed and
synced before the next, so an event that ``append`` accepted is on disk a moment later
whatever happens to the process. After ``close`` a late event is written by the caller
itself rather than dropped.

A full disk: a line is written whole or not at all (the file is cut back to where it
began), and lines that could not be written wait in memory, in order, and go out before
the next one (or at ``flush``/``close``) once the disk has room again.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

from proctorbot.detection.events import DetectorEvent
from proctorbot.recording.whole_writes import append_whole
from proctorbot.recording.worker import RecordingWorker
from proctorbot.storage.session_folder import EVENTS_FILE

log = logging.getLogger(__name__)


class EventsLog:
    def __init__(self, session_dir: Path, name: str = "events") -> None:
        self.path = Path(session_dir) / EVENTS_FILE
        self._worker: RecordingWorker | None = RecordingWorker(name)
        self._lock = threading.Lock()  # one writer at a time (the thread, or a late caller)
        self._waiting: list[str] = []  # lines a full disk refused, oldest first

    def append(self, event: DetectorEvent) -> None:
        """From any thread; in order of the calls."""
        line = json.dumps(event.to_json(), ensure_ascii=False) + "\n"
        worker = self._worker
        if worker is None:
            log.warning(
                "%s: event %s after the log closed, written directly", self.path, event.kind
            )
            self._write(line)
        else:
            worker.submit(self._write, line)

    def _write(self, line: str | None) -> None:
        with self._lock:
            if line is not None:
                self._waiting.append(line)
            if not self._waiting:
                return
            try:
                with open(self.path, "ab", buffering=0) as handle:
                    size = handle.seek(0, os.SEEK_END)
                    while self._waiting:
                        size = append_whole(handle, self._waiting[0].encode(), size)
                        self._waiting.pop(0)
                    os.fsync(handle.fileno())
            except OSError as exc:
                log.error(
                    "%s: %d event(s) wait for the disk (%s); written once it has room",
                    self.path,
                    len(self._waiting),
                    exc.strerror or exc,
                )

    async def flush(self) -> None:
        """Wait until every event appended so far is on disk (or waiting for room)."""
        if self._worker is not None:
            await self._worker.call(self._write, None)

    async def close(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            await worker.call(self._write, None)
            worker.stop()
        if self._waiting:
            log.error("%s: %d event(s) never found room on the disk", self.path, len(self._waiting))
