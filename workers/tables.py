"""The work plane's tables: who runs each session's bot (the lease), and each worker's
last reported load."""

from __future__ import annotations

import datetime as dt

from proctorbot.storage.db import Base, UtcDateTime
from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column


class BotLease(Base):
    """The one worker allowed to run a session's bot, while its heartbeat is fresh.

    No foreign key to the session: a lease outlives nothing and a session's deletion
    must not wait on a worker."""

    __tablename__ = "worker_bot_leases"

    session_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    worker_id: Mapped[str] = mapped_column(String(200))
    heartbeat_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    taken_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    # How many times a worker took the session over from a silent one.
    takeovers: Mapped[int] = mapped_column(Integer, default=0)
    # The bot left because the session was over (room_empty, slot_over…): no worker takes
    # the session again; the row stays as the record of it (bot/manager.py's ``ended``).
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    ended_reason: Mapped[str] = mapped_column(String(40), default="", server_default="")


class WorkerLoad(Base):
    """What a worker process last said of its machine's load (workers/load.py)."""

    __tablename__ = "worker_loads"

    worker_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    host: Mapped[str] = mapped_column(String(200))
    running_bots: Mapped[int] = mapped_column(Integer)
    cpu_load: Mapped[float] = mapped_column(Float)  # 1-min load average per core
    load: Mapped[float] = mapped_column(Float)  # what is compared with load_threshold
    reported_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
