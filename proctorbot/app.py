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

from proctorbot.bot import service as bot_service
from proctorbot.bot.page_focus import PageFocusPlugin
from proctorbot.checklist import service as checklist_service
from proctorbot.checklist.views import step_in_words
from proctorbot.conference import server as conference_server
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

    rooms = await conference_server.setup(app, ctx)
    manager = await bot_service.setup(app, ctx) if areas.bot else None
    if manager is not None:  # the student's page says when it leaves the screen [001 §4]
        manager.add_session_plugin(PageFocusPlugin(ctx))
    closer = None
    if manager is not None and areas.handover:
        closer = await handover_service.setup(app, ctx, manager, wait_for_admission=areas.checklist)
    if areas.scheduling:
        hooks = JobHooks(
            bot_join=manager.join if manager is not None else None,
            people_in_room=rooms.people_in,
            post_session=closer,
            retention=functools.partial(asyncio.to_thread, run_retention, ctx),
        )
        await scheduling_service.setup(app, ctx, hooks)
    if areas.notifications:
        await notifications_service.setup(app, ctx, telegram_commands(ctx))
    if areas.checklist:
        await checklist_service.setup(app, ctx, manager)
    if areas.dashboard:
        await dashboard.setup(app, ctx)
    if areas.disk_space:
        await recording_service.setup(app, ctx, notice=disk_low)
    return app
