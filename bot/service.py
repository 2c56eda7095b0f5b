"""Plug-in for ``proctorbot serve``: the bot joins each session as it opens.

Every ``poll_seconds`` the sessions whose start is within
``settings.scheduling.bot_join_minutes_before`` (and not yet over) get a bot; the
scheduler may also call the manager's ``join(session_id)`` (the composition root gives
it as the scheduler's ``bot_join`` hook).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging

from aiohttp import web
from proctorbot.bot.manager import BotManager
from proctorbot.storage.models import ExamSession, SessionStatus
from sqlalchemy import select

from proctorbot.context import AppContext

logger = logging.getLogger(__name__)

BOT_MANAGER = web.AppKey("proctorbot.bot.manager", BotManager)
_JOINER = web.AppKey("proctorbot.bot.joiner", asyncio.Task)


def sessions_due(ctx: AppContext, now: dt.datetime | None = None) -> list[str]:
    """Sessions whose start is within the join window and that are not over."""
    now = now or dt.datetime.now(dt.UTC)
    window = dt.timedelta(minutes=ctx.settings.scheduling.bot_join_minutes_before)
    with ctx.db() as db:
        rows = db.scalars(
            select(ExamSession.id).where(
                ExamSession.starts_at <= now + window,
                ExamSession.ends_at > now,
                ExamSession.status.not_in((SessionStatus.FINISHED, SessionStatus.CANCELLED)),
            )
        ).all()
    return list(rows)


async def join_due_sessions(manager: BotManager, poll_seconds: float = 30.0) -> None:
    while True:
        try:
            for session_id in await asyncio.to_thread(sessions_due, manager.ctx):
                # a session whose bot left because it was over is not joined again
                if not manager.is_joined(session_id) and session_id not in manager.ended:
                    logger.info("session %s opens: the bot joins", session_id)
                    await manager.join(session_id)
        except Exception:  # noqa: BLE001 - keep polling
            logger.exception("bot join poll failed")
        await asyncio.sleep(poll_seconds)


async def setup(app: web.Application, ctx: AppContext) -> BotManager:
    """The bot manager, joining due sessions once the server listens; the root hands it
    to the areas that run inside the bot (the checklist, the live watch, the hand-over)."""
    manager = BotManager(ctx)
    app[BOT_MANAGER] = manager

    async def start(app: web.Application) -> None:
        # the server must be listening before the bot connects to it
        async def delayed() -> None:
            await asyncio.sleep(1.0)
            await join_due_sessions(manager)

        app[_JOINER] = asyncio.create_task(delayed(), name="bot-joiner")

    async def stop(app: web.Application) -> None:
        joiner = app.get(_JOINER)
        if joiner is not None:
            joiner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await joiner
        await manager.leave_all()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return manager
