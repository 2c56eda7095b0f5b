"""The ``analysis`` job: a session's hand-over (handover/, on a session id) in a worker
of the analysis pool. It runs when no bot holds the session's lease any more (a bot still
in the call enqueues the hand-over itself when it leaves) and the hand-over is not
complete; two deliveries of the same message never run at once (a PostgreSQL advisory
lock per session, on its own connection, for the hand-over's duration)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from proctorbot.handover.folder import handover_complete
from proctorbot.workers.leases import BotLeases
from sqlalchemy import Engine, text

from proctorbot.context import AppContext

log = logging.getLogger(__name__)

# pg_try_advisory_lock(namespace, key): the namespace of hand-overs (the scheduler's is 1).
HANDOVER_LOCK_NAMESPACE = 2


@contextlib.contextmanager
def session_lock(engine: Engine, namespace: int, session_id: str) -> Iterator[bool]:
    """True while this process holds the (namespace, session) advisory lock; always True
    on SQLite (one process)."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    with engine.connect() as connection:
        held = connection.execute(
            text("select pg_try_advisory_lock(:ns, hashtext(:key))"),
            {"ns": namespace, "key": session_id},
        ).scalar_one()
        connection.commit()
        try:
            yield bool(held)
        finally:
            if held:
                connection.execute(
                    text("select pg_advisory_unlock(:ns, hashtext(:key))"),
                    {"ns": namespace, "key": session_id},
                )
                connection.commit()


@dataclass
class AnalysisJob:
    ctx: AppContext
    hand_over: Callable[[str], Awaitable[Any]]
    leases: BotLeases

    def __call__(self, session_id: str) -> str:
        outcome = self.run(session_id)
        log.warning("hand-over of session %s: %s", session_id, outcome)
        return outcome

    def run(self, session_id: str) -> str:
        if self.leases.is_fresh(self.leases.holder(session_id)):
            return "skipped: a bot is in the call; it hands over when it leaves"
        if handover_complete(self.ctx.settings.recordings_dir / session_id):
            return "skipped: already handed over"
        with session_lock(self.ctx.engine, HANDOVER_LOCK_NAMESPACE, session_id) as held:
            if not held:
                return "skipped: another worker is handing it over"
            asyncio.run(self.hand_over(session_id))
        return "handed over"
