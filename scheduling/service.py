"""Plug-in for ``proctorbot serve``: the job scheduler, with hooks from the other areas.

The composition root (proctorbot/app.py) builds the ``JobHooks`` before this setup: the
bot manager's ``join``, the conference's room registry for the no-show check, the
hand-over's ``post_session`` job and the report's retention rules. A hook left unset
makes its job log instead (scheduling/hooks.py).
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from proctorbot.scheduling.active_lock import ActiveLock, run_while_active
from proctorbot.scheduling.hooks import JobHooks, JobRuntime
from proctorbot.scheduling.scheduler import make_scheduler, schedule_retention
from proctorbot.storage.db_retry import write_retrying

from proctorbot.context import AppContext

SCHEDULER = web.AppKey("proctorbot.scheduling.scheduler", AsyncIOScheduler)
JOB_HOOKS = web.AppKey("proctorbot.scheduling.job_hooks", JobHooks)


async def poll_job_store(scheduler: AsyncIOScheduler, seconds: float) -> None:
    """APScheduler sleeps until its next known job; jobs that `proctorbot plan` wrote from
    another process would wait for that. Waking it regularly makes it read the store."""
    while True:
        await asyncio.sleep(seconds)
        if scheduler.running:
            scheduler.wakeup()


async def setup(
    app: web.Application, ctx: AppContext, hooks: JobHooks, *, single_active: bool = False
) -> AsyncIOScheduler:
    """The scheduler, started and stopped with the server, its jobs calling ``hooks``.

    ``single_active`` (cluster mode: N web nodes on one job store): the scheduler starts
    paused and runs only while this node holds the PostgreSQL advisory lock
    (scheduling/active_lock.py); another node takes over when the holder dies."""
    app[JOB_HOOKS] = hooks
    scheduler = make_scheduler(JobRuntime(ctx, hooks))  # started with the server
    app[SCHEDULER] = scheduler
    settings = ctx.settings
    lock = (
        ActiveLock(settings.scheduling.jobstore_url or settings.resolved_database_url)
        if single_active
        else None
    )

    poller: list[asyncio.Task[None]] = []

    async def start(app: web.Application) -> None:
        if lock is not None:
            scheduler.start(paused=True)

            async def activate() -> None:
                await write_retrying(
                    schedule_retention,
                    scheduler,
                    ctx.settings.scheduling.retention_check_hours,
                    what="the retention job",
                )
                scheduler.resume()

            poller.append(
                asyncio.create_task(
                    run_while_active(lock, activate=activate, deactivate=scheduler.pause),
                    name="scheduler-lock",
                )
            )
        else:
            scheduler.start()
            # a write to the job store: in a thread, waiting out a locked database
            await write_retrying(
                schedule_retention,
                scheduler,
                ctx.settings.scheduling.retention_check_hours,
                what="the retention job",
            )
        poller.append(
            asyncio.create_task(
                poll_job_store(scheduler, ctx.settings.scheduling.store_poll_seconds),
                name="job-store-poll",
            )
        )

    async def stop(app: web.Application) -> None:
        for task in poller:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if scheduler.running:
            scheduler.shutdown(wait=False)

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return scheduler
