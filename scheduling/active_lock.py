"""One active scheduler among the web nodes of a cluster: a PostgreSQL advisory lock.

Every web node builds the scheduler on the shared job store, started paused; the one
whose dedicated connection holds ``pg_try_advisory_lock`` runs the jobs. The lock lives
as long as that connection: a node killed (or cut off: TCP keepalives) loses it and the
next node's poll takes it within ``poll_s``. A holder checks its connection at every
poll and pauses its scheduler the moment the connection is gone, so two schedulers
never run at once for longer than one poll.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

# pg_try_advisory_lock(namespace, key): the scheduler's (workers/ use namespace 2).
SCHEDULER_LOCK = (1, 1)
POLL_SECONDS = 2.0


class NeedsPostgres(ValueError):
    """One active scheduler among nodes is a PostgreSQL lock: SQLite cannot share it."""


@dataclass
class ActiveLock:
    """``pg_try_advisory_lock`` held on a connection of its own."""

    url: str
    key: tuple[int, int] = SCHEDULER_LOCK
    engine: Engine | None = field(default=None, init=False, repr=False)
    connection: Connection | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.url.startswith(("postgresql://", "postgresql+")):
            raise NeedsPostgres(
                "cluster mode runs one scheduler among the web nodes through a PostgreSQL "
                "advisory lock: set database_url (or scheduling.jobstore_url) to PostgreSQL"
            )

    def hold(self) -> bool:
        """Whether this process holds the lock now (taking it if free). Blocking."""
        try:
            if self.connection is None:
                self._connect()
                return bool(self._execute("select pg_try_advisory_lock(:a, :b)"))
            held = self._execute(
                "select count(*) from pg_locks where locktype = 'advisory' and granted "
                "and pid = pg_backend_pid() and classid = :a and objid = :b"
            )
            if held:
                return True
            return bool(self._execute("select pg_try_advisory_lock(:a, :b)"))
        except Exception as exc:  # noqa: BLE001 - the connection is gone: so is the lock
            log.warning("scheduler lock connection lost (%s)", exc)
            self.release()
            return False

    def release(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()  # the session ends: PostgreSQL frees the lock
            except Exception:  # noqa: BLE001
                pass
        self.connection = None
        if self.engine is not None:
            self.engine.dispose()
        self.engine = None

    def _connect(self) -> None:
        url = self.url
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        # a connection of its own, never pooled; TCP keepalives notice a vanished server
        self.engine = create_engine(
            url,
            poolclass=NullPool,
            isolation_level="AUTOCOMMIT",
            connect_args={
                "keepalives": 1,
                "keepalives_idle": 5,
                "keepalives_interval": 2,
                "keepalives_count": 3,
            },
        )
        self.connection = self.engine.connect()

    def _execute(self, sql: str) -> Any:
        assert self.connection is not None
        return self.connection.execute(text(sql), {"a": self.key[0], "b": self.key[1]}).scalar()


async def run_while_active(
    lock: ActiveLock,
    *,
    activate: Callable[[], Awaitable[None]],
    deactivate: Callable[[], None],
    poll_s: float = POLL_SECONDS,
) -> None:
    """Poll the lock; ``activate`` when it is won, ``deactivate`` when it is lost."""
    active = False
    try:
        while True:
            held = await asyncio.to_thread(lock.hold)
            if held and not active:
                log.warning("this node's scheduler is the active one")
                await activate()
                active = True
            elif not held and active:
                log.warning("scheduler lock lost: this node's scheduler pauses")
                deactivate()
                active = False
            await asyncio.sleep(poll_s)
    finally:
        if active:
            deactivate()
        await asyncio.to_thread(lock.release)
