"""Plug-in for ``proctorbot serve``: the watch on the recordings disk's free space."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web
from proctorbot.recording.disk_space import DiskLowNotice, DiskSpaceWatch

from proctorbot.context import AppContext

DISK_SPACE_WATCH = web.AppKey("proctorbot.recording.disk_space", DiskSpaceWatch)


async def setup(app: web.Application, ctx: AppContext, notice: DiskLowNotice) -> DiskSpaceWatch:
    """The watch, run with the server; ``notice`` tells the organizers (the root gives it)."""
    watch = DiskSpaceWatch(ctx, notice)
    app[DISK_SPACE_WATCH] = watch
    running: list[asyncio.Task[None]] = []

    async def start(app: web.Application) -> None:
        if ctx.settings.recording.min_free_mb > 0:
            running.append(asyncio.create_task(watch.run(), name="disk-space-watch"))

    async def stop(app: web.Application) -> None:
        for task in running:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return watch
