"""The ``bots`` job: one session's bot in this worker process, for as long as the session
lasts, under the session's lease (workers/leases.py).

The bot is the web process's own (``BotManager`` with the plug-ins the root gives: live
watch, checklist, page focus); it connects to the web node's ``/ws`` as always. In
order: a session already over is skipped; a host above its load threshold refuses (the
message goes back on the queue with a delay, for another worker); the lease is taken,
waiting out a holder that stopped heartbeating (a redelivered message of a dead worker)
and giving up on one that keeps heartbeating (a duplicate message: one bot only). A bot
taking over from a dead worker continues the session's folder: the recorder marks the
time no bot recorded as a ``bot_down`` gap, and ``bot/resume.py`` hands it the
checklist's verdict. When the session is over the hand-over goes to the ``analysis``
queue; a worker asked to stop gives its session back to the queue.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from proctorbot.bot.manager import BotManager
from proctorbot.bot.session_bot import SessionPlugin
from proctorbot.storage.models import ExamSession, SessionStatus
from proctorbot.workers.leases import BotLeases
from proctorbot.workers.load import LoadMeter
from proctorbot.workers.queues import JobQueues

from proctorbot.context import AppContext

log = logging.getLogger(__name__)

# A refused (or crashed) bot comes back on the queue after this, for another worker.
REFUSED_DELAY_S = 2.0
# Beyond the lease timeout, how long a new holder waits for a silent one to go stale.
TAKEOVER_MARGIN_S = 2.0


@dataclass
class BotJob:
    ctx: AppContext
    plugins: Callable[[], list[SessionPlugin]]
    leases: BotLeases
    load: LoadMeter
    queues: JobQueues
    worker_id: str
    stopping: threading.Event = field(default_factory=threading.Event)
    running: set[str] = field(default_factory=set)

    def __call__(self, session_id: str) -> str:
        """The actor's body (a Dramatiq worker thread): what became of the message."""
        outcome = asyncio.run(self.run(session_id))
        log.warning("worker %s, session %s: %s", self.worker_id, session_id, outcome)
        return outcome

    async def run(self, session_id: str) -> str:
        if await asyncio.to_thread(self._session_over, session_id):
            return "skipped: the session is over"
        holder = await asyncio.to_thread(self.leases.holder, session_id)
        if holder is not None and holder.ended_at is not None:
            return f"skipped: its bot left, the session was over ({holder.ended_reason})"
        reading = await asyncio.to_thread(self.load.report, len(self.running))
        if self.load.over_threshold(reading):
            await asyncio.to_thread(self.queues.send_bot, session_id, delay_s=REFUSED_DELAY_S)
            return f"refused: load {reading.load:.2f}, {reading.host_bots} bot(s) on this host"
        if not await self._take_lease(session_id):
            return "dropped: another worker's bot runs this session (its heartbeat is fresh)"
        self.running.add(session_id)
        try:
            return await self._run_bot(session_id)
        finally:
            self.running.discard(session_id)
            await asyncio.to_thread(self.leases.release, session_id, self.worker_id)
            await asyncio.to_thread(self.load.report, len(self.running))

    async def _take_lease(self, session_id: str) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.leases.timeout_s + TAKEOVER_MARGIN_S
        while True:
            if await asyncio.to_thread(self.leases.take, session_id, self.worker_id):
                return True
            if loop.time() >= deadline or self.stopping.is_set():
                return False
            await asyncio.sleep(min(1.0, self.leases.timeout_s / 4))

    async def _run_bot(self, session_id: str) -> str:
        # no after_session here: the hand-over is enqueued once the lease says the session
        # is over (below), or the analysis job would find the bot's lease still fresh
        manager = BotManager(self.ctx, plugins=self.plugins())
        await manager.join(session_id)
        await asyncio.to_thread(self.load.report, len(self.running))
        period = self.leases.timeout_s / 3
        loop = asyncio.get_running_loop()
        renewed_at = loop.time()
        outcome = ""
        while manager.is_joined(session_id) or manager.handing_over():
            await asyncio.sleep(min(period, 0.5))
            if outcome:
                continue
            if self.stopping.is_set():
                outcome = "given back: the worker stops"
                await manager.leave_all()  # the recording closes; no hand-over here
                await asyncio.to_thread(self.queues.send_bot, session_id)
            elif loop.time() - renewed_at >= period:
                renewed_at = loop.time()
                if not await self._renew(session_id):
                    outcome = "left: the lease went to another worker"
                    await manager.leave_all()
        if outcome:
            return outcome
        if session_id in manager.ended:
            reason = manager.ended[session_id]
            await asyncio.to_thread(self.leases.end, session_id, self.worker_id, reason)
            await self.queues.enqueue_analysis(session_id)
            return f"done: the session is over ({reason})"
        # it crashed before the end (its recording is kept): the session goes on in a new bot
        await asyncio.to_thread(self.queues.send_bot, session_id, delay_s=REFUSED_DELAY_S)
        return "the bot left before the session's end: the session is enqueued again"

    async def _renew(self, session_id: str) -> bool:
        """The lease's heartbeat; False once it is lost."""
        try:
            return await asyncio.to_thread(self.leases.renew, session_id, self.worker_id)
        except Exception:  # noqa: BLE001 - the database away for a moment: keep recording
            log.exception("session %s: lease heartbeat failed", session_id)
            return True

    def _session_over(self, session_id: str) -> bool:
        """Finished, cancelled, unknown, or past its end and the longest overrun."""
        with self.ctx.db() as db:
            session = db.get(ExamSession, session_id)
            if session is None:
                return True
            if session.status in (SessionStatus.FINISHED, SessionStatus.CANCELLED):
                return True
            ends = session.ends_at
        overrun = dt.timedelta(minutes=self.ctx.settings.bot.max_overrun_minutes)
        return dt.datetime.now(dt.UTC) > ends + overrun
