"""Free space on the recordings disk, watched by the server: organizers hear of it before
it runs out.

A full disk pauses every recording (each resumes by itself once there is room, with a
``disk_full`` gap: recording/session_recorder.py), so the time to act is before. Every
``recording.space_check_seconds`` the free space of the recordings folder is read (in a
thread); when it falls under ``recording.min_free_mb`` every organizer gets one outbox
message (``disk_low``) for that episode: the composition root gives the watch its
``notice`` (``notifications.events.disk_low``). The episode ends once the free space is
back above the limit by a margin; falling under it again is a new episode and a new
message.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from proctorbot.storage.db_retry import write_retrying
from sqlalchemy.orm import Session

from proctorbot.context import AppContext

log = logging.getLogger(__name__)

# Free space must climb this much above the limit before a new drop is a new episode.
RECOVERY_MARGIN = 0.1

# (db, *, free_mb, min_mb, path, since) -> messages queued, in the caller's transaction
DiskLowNotice = Callable[..., int]


def free_megabytes(path: Path) -> float:
    """Free space of the file system that holds ``path`` (or its nearest existing parent)."""
    probe = Path(path).resolve()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free / 2**20


@dataclass
class LowSpace:
    """One time the free space fell under the limit."""

    since: dt.datetime
    free_mb: float


class DiskSpaceWatch:
    def __init__(self, ctx: AppContext, notice: DiskLowNotice) -> None:
        self.ctx = ctx
        self.notice = notice
        self.low: LowSpace | None = None

    @property
    def folder(self) -> Path:
        return self.ctx.settings.recordings_dir

    async def run(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:  # noqa: BLE001 - the watch must outlive a bad moment
                log.exception("free space of %s not checked", self.folder)
            await asyncio.sleep(self.ctx.settings.recording.space_check_seconds)

    async def check(self) -> float:
        """Read the free space once; alert when it just fell under the limit."""
        limit = self.ctx.settings.recording.min_free_mb
        free = await asyncio.to_thread(free_megabytes, self.folder)
        if free < limit and self.low is None:
            self.low = LowSpace(dt.datetime.now(dt.UTC), free)
            log.error(
                "only %.0f MB free for recordings in %s (alert below %d MB): organizers told",
                free,
                self.folder,
                limit,
            )
            count = await write_retrying(self._alert, self.low, what="low disk space alert")
            log.info("low disk space: %d organizer message(s) queued", count)
        elif self.low is not None and free >= limit * (1 + RECOVERY_MARGIN) + 1:
            log.warning("free space for recordings back to %.0f MB", free)
            self.low = None
        return free

    def _alert(self, low: LowSpace) -> int:
        with self.ctx.db.begin() as db:
            return self._notify(db, low)

    def _notify(self, db: Session, low: LowSpace) -> int:
        return self.notice(
            db,
            free_mb=low.free_mb,
            min_mb=self.ctx.settings.recording.min_free_mb,
            path=str(self.folder.resolve()),
            since=low.since,
        )
