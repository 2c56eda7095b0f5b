"""One bot per session across every worker: a lease row per session in the database.

A worker takes the lease with one upsert whose update only happens when the row's
heartbeat is older than the timeout (or the row is already its own), so two workers
given the same message (a redelivery, a duplicate) can never both hold it: the database
serialises the two upserts on the row. The holder renews the heartbeat every third of the
timeout; a worker killed with ``kill -9`` stops renewing and the next one takes over.
Times are the workers' clocks (NTP-synchronised machines), so the SQL is the same on
PostgreSQL (the cluster) and SQLite (tests of the logic).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from proctorbot.storage.db import utcnow
from proctorbot.workers.tables import BotLease
from sqlalchemy import Engine, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite


@dataclass(frozen=True)
class LeaseHolder:
    worker_id: str
    heartbeat_at: dt.datetime
    takeovers: int
    ended_at: dt.datetime | None = None
    ended_reason: str = ""


@dataclass
class BotLeases:
    engine: Engine
    timeout_s: float

    def take(self, session_id: str, worker_id: str, now: dt.datetime | None = None) -> bool:
        """Hold the session's lease (new, already ours, or stale); False: another worker's
        heartbeat is fresh."""
        now = now or utcnow()
        stale_before = now - dt.timedelta(seconds=self.timeout_s)
        table = BotLease.__table__
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(table).values(
            session_id=session_id, worker_id=worker_id, heartbeat_at=now, taken_at=now, takeovers=0
        )
        excluded = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.session_id],
            set_={
                "worker_id": excluded.worker_id,
                "heartbeat_at": excluded.heartbeat_at,
                "taken_at": case(
                    (table.c.worker_id == excluded.worker_id, table.c.taken_at),
                    else_=excluded.taken_at,
                ),
                "takeovers": case(
                    (table.c.worker_id == excluded.worker_id, table.c.takeovers),
                    else_=table.c.takeovers + 1,
                ),
            },
            where=table.c.ended_at.is_(None)
            & ((table.c.worker_id == excluded.worker_id) | (table.c.heartbeat_at < stale_before)),
        ).returning(table.c.worker_id)
        with self.engine.begin() as connection:
            return connection.execute(statement).first() is not None

    def renew(self, session_id: str, worker_id: str, now: dt.datetime | None = None) -> bool:
        """The holder's heartbeat; False: the lease is no longer ours (taken over)."""
        with self.engine.begin() as connection:
            result = connection.execute(
                update(BotLease)
                .where(BotLease.session_id == session_id, BotLease.worker_id == worker_id)
                .values(heartbeat_at=now or utcnow())
            )
            return result.rowcount == 1

    def release(self, session_id: str, worker_id: str) -> None:
        """The bot left: the lease is free at once (only if still ours and not ended)."""
        with self.engine.begin() as connection:
            connection.execute(
                delete(BotLease).where(
                    BotLease.session_id == session_id,
                    BotLease.worker_id == worker_id,
                    BotLease.ended_at.is_(None),
                )
            )

    def end(self, session_id: str, worker_id: str, reason: str) -> bool:
        """The bot left because the session was over: the lease stays, ended, so neither a
        late message nor the orphan sweep starts another bot (False: not ours)."""
        with self.engine.begin() as connection:
            result = connection.execute(
                update(BotLease)
                .where(BotLease.session_id == session_id, BotLease.worker_id == worker_id)
                .values(ended_at=utcnow(), ended_reason=reason[:40])
            )
            return result.rowcount == 1

    def holder(self, session_id: str) -> LeaseHolder | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(
                    BotLease.worker_id,
                    BotLease.heartbeat_at,
                    BotLease.takeovers,
                    BotLease.ended_at,
                    BotLease.ended_reason,
                ).where(BotLease.session_id == session_id)
            ).first()
        return LeaseHolder(*row) if row is not None else None

    def is_fresh(self, holder: LeaseHolder | None, now: dt.datetime | None = None) -> bool:
        if holder is None or holder.ended_at is not None:
            return False
        age = (now or utcnow()) - holder.heartbeat_at
        return age.total_seconds() <= self.timeout_s
