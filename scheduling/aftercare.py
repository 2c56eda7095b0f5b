"""The report area's retention rules as the scheduler's retention hook. (The post-session
hook is the hand-over area's: handover/closer.SessionCloser — one hand-over.)"""

from __future__ import annotations

import asyncio
import logging

from proctorbot.scheduling.hooks import JobHooks

from proctorbot.context import AppContext

log = logging.getLogger(__name__)


def report_hooks(ctx: AppContext, hooks: JobHooks) -> None:
    try:
        from proctorbot.report.retention import run_retention
    except ImportError:
        log.info("no report area: the retention job will only log")
        return

    async def retention() -> object:
        return await asyncio.to_thread(run_retention, ctx)

    if hooks.retention is None:
        hooks.retention = retention
