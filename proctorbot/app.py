"""The composition root: one aiohttp application built from the settings.

``build_app`` wires every area by hand, in the order a newcomer reads it: the conference
(call page, signaling), the bot manager, the live watch and the hand-over in every
session's bot, the scheduler (its hooks built here from what came before), the
notifier, the checklist, the dashboard, the watch on the recordings disk. Each area's
``setup`` takes what it needs as arguments and returns what it built; no area imports
this module, and nothing here depends on the order in which setups touch the app.

``Areas`` says which of them to wire: ``proctorbot serve`` wires all of them, a test a
few (``Areas(checklist=True)``); the conference is always there.
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields

from aiohttp import web
from apscheduler.schedulers.base import STATE_RUNNING

from proctorbot.bot import service as bot_service
from proctorbot.bot.live_watch_plugin import LiveWatchPlugin
from proctorbot.bot.page_focus import PageFocusPlugin
from proctorbot.bot.session_bot import SessionPlugin
from proctorbot.checklist import service as checklist_service
from proctorbot.checklist.service import ChecklistPlugin
from proctorbot.checklist.views import step_in_words
from proctorbot.conference import server as conference_server
from proctorbot.conference.room_relay import node_relay
from proctorbot.context import CONTEXT, AppContext
from proctorbot.handover import service as handover_service
from proctorbot.notifications import service as notifications_service
from proctorbot.notifications.events import disk_low
from proctorbot.notifications.telegram_bot import TelegramCommands
from proctorbot.recording import service as recording_service
from proctorbot.report import dashboard
from proctorbot.report.retention import run_retention
from proctorbot.report.service import report_link
from proctorbot.scheduling import service as scheduling_service
from proctorbot.scheduling.hooks import JobHooks

# Threads of the default executor: enough that requests waiting on a locked database
# (15 s at most each) never starve the rest.
BLOCKING_THREADS = 32


@dataclass(frozen=True)
class Areas:
    """The areas ``build_app`` wires besides the conference (always there)."""

    bot: bool = False  # the bot manager: a silent participant joins each session as it opens
    handover: bool = False  # the live watch in each session's bot and the hand-over (needs bot)
    scheduling: bool = False  # the job scheduler (reminders, no-shows, post-session, retention)
    notifications: bool = False  # the outbox dispatcher and the Telegram bot
    checklist: bool = False  # the pre-exam checklist in each session's bot, its pages
    dashboard: bool = False  # the organizers' dashboard and download links
    disk_space: bool = False  # the watch on the recordings disk's free space

    @classmethod
    def every(cls) -> Areas:
        return cls(**{f.name: True for f in fields(cls)})


EVERY_AREA = Areas.every()


@dataclass(frozen=True)
class SessionPlugins:
    """What runs inside every session's bot, besides the recording."""

    page_focus: PageFocusPlugin  # the student's page says when it leaves the screen [001 §4]
    live_watch: LiveWatchPlugin | None  # the live detectors and alerts
    checklist: ChecklistPlugin | None  # the pre-exam checklist

    def in_order(self) -> list[SessionPlugin]:
        return [p for p in (self.page_focus, self.live_watch, self.checklist) if p is not None]


def session_plugins(ctx: AppContext, *, live_watch: bool, checklist: bool) -> SessionPlugins:
    """One wiring of a session's bot for both roots: the web process's own bot manager
    (one-process mode) and a worker process's (proctorbot/worker.py)."""
    return SessionPlugins(
        PageFocusPlugin(ctx),
        handover_service.live_watch_plugin(ctx, wait_for_admission=checklist)
        if live_watch
        else None,
        ChecklistPlugin(ctx) if checklist else None,
    )


def telegram_commands(ctx: AppContext) -> TelegramCommands:
    """The Telegram commands, told the report's signed link and the checklist's step."""
    return TelegramCommands(
        ctx,
        report_link=lambda session, person: report_link(ctx, session.id, person_id=person.id),
        checklist_step=lambda session_id, language: step_in_words(
            ctx.settings.recordings_dir / session_id, language
        ),
    )


async def build_app(ctx: AppContext, *, areas: Areas = EVERY_AREA) -> web.Application:
    """The whole server (``proctorbot serve``), or the conference and ``areas`` of it."""
    if areas.handover and not areas.bot:
        raise ValueError("the live watch and the hand-over run in the bot: wire bot too")
    # Database calls and other blocking work run in the loop's default executor
    # (asyncio.to_thread); while a locked database keeps some of them waiting, the
    # others (decoders, detectors, the next request) must still find a thread.
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(BLOCKING_THREADS, thread_name_prefix="blocking")
    )
    app = web.Application()
    app[CONTEXT] = ctx

    # [cluster]: rooms shared by the web nodes (presence in the database, Redis between)
    rooms = await conference_server.setup(app, ctx, relay=node_relay(ctx.settings.cluster))
    # scale-out ([cluster] redis_url set): bots and hand-overs run in worker processes
    # (proctorbot/worker.py); this process only enqueues them
    cluster = ctx.settings.cluster.enabled
    manager = await bot_service.setup(app, ctx) if areas.bot and not cluster else None
    plugins = session_plugins(
        ctx, live_watch=manager is not None and areas.handover, checklist=areas.checklist
    )
    if manager is not None:
        for plugin in plugins.in_order():
            manager.add_session_plugin(plugin)
    closer = None
    if manager is not None and plugins.live_watch is not None:
        closer = await handover_service.setup(app, ctx, manager, live_watch=plugins.live_watch)
    if areas.scheduling:
        queues = orphans = None
        if cluster:  # Dramatiq is imported only in cluster mode (the `cluster` extra)
            from proctorbot.workers import orphan_watch
            from proctorbot.workers.queues import job_queues

            queues = job_queues(ctx.settings.cluster)
            # a due session no bot holds is enqueued by the active node (the safety net)
            orphans = orphan_watch.orphan_watch(ctx, queues)
        hooks = JobHooks(
            bot_join=orphans.enqueue_bot if orphans else manager.join if manager else None,
            people_in_room=rooms.people_in,
            post_session=queues.enqueue_analysis if queues else closer,
            retention=functools.partial(asyncio.to_thread, run_retention, ctx),
        )
        scheduler = await scheduling_service.setup(app, ctx, hooks, single_active=cluster)
        if orphans is not None:
            await orphan_watch.setup(
                app, orphans, is_active=lambda: scheduler.state == STATE_RUNNING
            )
    if areas.notifications:
        await notifications_service.setup(app, ctx, telegram_commands(ctx))
    if plugins.checklist is not None:
        await checklist_service.setup(app, ctx, plugins.checklist)
    if areas.dashboard:
        await dashboard.setup(app, ctx)
    if areas.disk_space:
        await recording_service.setup(app, ctx, notice=disk_low)
    return app
