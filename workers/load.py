"""A worker's load, reported to the database and compared with ``load_threshold``
(LiveKit Agents' worker ``load_threshold``): above it a worker refuses a new bot.

The load is the larger of the machine's 1-minute load average per core and the bots
running on this host per ``max_bots_per_worker``: the load average lags a burst of bots
starting at the same slot, the count does not. Each worker process reports its own
running bots; the host's count is the sum of its processes' fresh reports.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import dataclass

from proctorbot.config.settings import ClusterSettings
from proctorbot.storage.db import utcnow
from proctorbot.workers.tables import WorkerLoad
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def cpu_load_per_core() -> float:
    return os.getloadavg()[0] / (os.cpu_count() or 1)


@dataclass(frozen=True)
class LoadReading:
    running_bots: int  # this process's
    host_bots: int  # every fresh worker process's on this host, this one included
    cpu_load: float
    load: float


@dataclass
class LoadMeter:
    engine: Engine
    settings: ClusterSettings
    worker_id: str
    host: str = ""
    # A report older than this is a dead process's: not counted.
    fresh_s: float = 0.0

    def __post_init__(self) -> None:
        self.host = self.host or socket.gethostname()
        self.fresh_s = self.fresh_s or self.settings.heartbeat_timeout_s

    def report(self, running_bots: int) -> LoadReading:
        """Write this process's bots and the machine's load; return the load it reaches."""
        now = utcnow()
        cpu = cpu_load_per_core()
        table = WorkerLoad.__table__
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        values = dict(host=self.host, running_bots=running_bots, cpu_load=cpu, reported_at=now)
        with self.engine.begin() as connection:
            statement = dialect.insert(table).values(worker_id=self.worker_id, load=0.0, **values)
            connection.execute(
                statement.on_conflict_do_update(index_elements=[table.c.worker_id], set_=values)
            )
            others = connection.execute(
                select(func.coalesce(func.sum(WorkerLoad.running_bots), 0)).where(
                    WorkerLoad.host == self.host,
                    WorkerLoad.worker_id != self.worker_id,
                    WorkerLoad.reported_at >= now - dt.timedelta(seconds=self.fresh_s),
                )
            ).scalar_one()
            host_bots = int(others) + running_bots
            load = max(cpu, host_bots / self.settings.max_bots_per_worker)
            connection.execute(
                table.update().where(table.c.worker_id == self.worker_id).values(load=load)
            )
        return LoadReading(running_bots, host_bots, cpu, load)

    def over_threshold(self, reading: LoadReading) -> bool:
        """A new bot would push this host past the threshold."""
        bots_after = (reading.host_bots + 1) / self.settings.max_bots_per_worker
        return max(reading.cpu_load, bots_after) > self.settings.load_threshold

    def forget(self) -> None:
        """The process stops: its report goes."""
        with self.engine.begin() as connection:
            connection.execute(delete(WorkerLoad).where(WorkerLoad.worker_id == self.worker_id))
