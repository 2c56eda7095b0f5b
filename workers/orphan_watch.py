"""The cluster's safety net, on the web node whose scheduler is active: a session that
is due (bot/service.sessions_due: within the join window, not over) and that no bot
holds (no fresh lease, and none that ended with the session) gets a ``bots`` message — a session planned without its jobs (a
demo day), or one whose message was lost (Redis restarted without persistence, a worker
that was thought dead). A session is enqueued again only after ``resend_after_s``, so
messages still waiting for a free worker are not multiplied."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web
from proctorbot.bot.service import sessions_due
from proctorbot.workers.leases import BotLeases
from proctorbot.workers.queues import JobQueues

from proctorbot.context import AppContext

log = logging.getLogger(__name__)

_WATCH = web.AppKey("proctorbot.workers.orphan_watch", asyncio.Task)


@dataclass
class OrphanWatch:
    ctx: AppContext
    leases: BotLeases
    queues: JobQueues
    resend_after_s: float = 120.0
    sent_at: dict[str, float] = field(default_factory=dict)

    def sweep(self) -> list[str]:
        """Enqueue each due session without a live bot (blocking); the ones enqueued."""
        now = time.monotonic()
        enqueued = []
        for session_id in sessions_due(self.ctx):
            holder = self.leases.holder(session_id)
            if self.leases.is_fresh(holder) or (holder is not None and holder.ended_at):
                continue  # a bot runs it, or its bot left because it was over
            if now - self.sent_at.get(session_id, -1e9) < self.resend_after_s:
                continue
            self.queues.send_bot(session_id)
            self.sent_at[session_id] = now
            enqueued.append(session_id)
        return enqueued

    def enqueue(self, session_id: str) -> str:
        """The scheduler's ``bot_join`` in cluster mode: sent, and remembered as sent."""
        self.sent_at[session_id] = time.monotonic()
        return self.queues.send_bot(session_id)

    async def enqueue_bot(self, session_id: str) -> str:
        return await asyncio.to_thread(self.enqueue, session_id)

    async def run(self, is_active: Callable[[], bool], every_s: float) -> None:
        """Sweep while active; a node that just became active first waits
        ``resend_after_s``: what the previous active node sent is not sent again."""
        active_since: float | None = None
        while True:
            await asyncio.sleep(every_s)
            if not is_active():
                active_since = None
                continue
            if active_since is None:
                active_since = time.monotonic()
            if time.monotonic() - active_since < self.resend_after_s:
                continue
            try:
                for session_id in await asyncio.to_thread(self.sweep):
                    log.warning("session %s is due and no bot holds it: enqueued", session_id)
            except Exception:  # noqa: BLE001 - the next sweep tries again
                log.exception("orphan sweep failed")


def orphan_watch(ctx: AppContext, queues: JobQueues) -> OrphanWatch:
    leases = BotLeases(ctx.engine, ctx.settings.cluster.heartbeat_timeout_s)
    return OrphanWatch(ctx, leases, queues)


async def setup(
    app: web.Application,
    watch: OrphanWatch,
    *,
    is_active: Callable[[], bool],
    every_s: float = 30.0,
) -> OrphanWatch:
    """The sweep every ``every_s`` while ``is_active()`` (this node's scheduler runs)."""

    async def start(app: web.Application) -> None:
        app[_WATCH] = asyncio.create_task(watch.run(is_active, every_s), name="orphan-watch")

    async def stop(app: web.Application) -> None:
        task = app.get(_WATCH)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return watch
