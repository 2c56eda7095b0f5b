"""Plug-in for ``proctorbot serve``: the job scheduler, with hooks from the other areas.

Hooks are filled at start-up (after every area's ``setup``): the bot area's
``BotManager.join``, the conference's room registry for the no-show check. The report
area (or anyone) can set ``job_hooks(app).post_session`` / ``.retention`` in its setup.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from proctorbot.scheduling.aftercare import report_hooks
from proctorbot.scheduling.hooks import JobHooks, JobRuntime
from proctorbot.scheduling.scheduler import make_scheduler, schedule_retention
from proctorbot.storage.db_retry import write_retrying

from proctorbot.context import AppContext

log = logging.getLogger(__name__)

SCHEDULER = web.AppKey("proctorbot.scheduling.scheduler", AsyncIOScheduler)
JOB_HOOKS = web.AppKey("proctorbot.scheduling.job_hooks", JobHooks)


def job_hooks(app: web.Application) -> JobHooks:
    """The hooks of this server, created on first use (any area may fill them in)."""
    if JOB_HOOKS not in app:
        app[JOB_HOOKS] = JobHooks()
    return app[JOB_HOOKS]


async def poll_job_store(scheduler: AsyncIOScheduler, seconds: float) -> None:
    """APScheduler sleeps until its next known job; jobs that `proctorbot plan` wrote from
    another process would wait for that. Waking it regularly makes it read the store."""
    while True:
        await asyncio.sleep(seconds)
        if scheduler.running:
            scheduler.wakeup()


def fill_hooks_from_app(app: web.Application, hooks: JobHooks) -> None:
    try:
        from proctorbot.bot.service import BOT_MANAGER

        if hooks.bot_join is None and BOT_MANAGER in app:
            hooks.bot_join = app[BOT_MANAGER].join
    except ImportError:
        log.info("no bot area: the bot-join job will only log")
    try:
        from proctorbot.conference.keys import ROOMS

        if hooks.people_in_room is None and ROOMS in app:
            rooms = app[ROOMS]

            def people_in_room(session_id: str) -> set[str]:
                room = rooms.get(session_id)
                return {p.person_id for p in room.peers.values()} if room else set()

            hooks.people_in_room = people_in_room
    except ImportError:
        log.info("no conference room registry: the no-show check will only log")


async def setup(app: web.Application, ctx: AppContext) -> None:
    hooks = job_hooks(app)
    scheduler = make_scheduler(JobRuntime(ctx, hooks))  # started with the server
    app[SCHEDULER] = scheduler

    poller: list[asyncio.Task[None]] = []

    async def start(app: web.Application) -> None:
        fill_hooks_from_app(app, hooks)
        report_hooks(ctx, hooks)
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
