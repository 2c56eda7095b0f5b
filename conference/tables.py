"""The conference's database tables (Alembic branch "conference"): who is in which room,
on which web node, when the cluster shares rooms (conference/cluster_rooms.py).

``conference_nodes``: one row per running web node, its heartbeat; a node silent for the
cluster's heartbeat timeout is dead and another node removes it and its peers.
``conference_presence``: one row per live WebSocket connection, on any node.
``conference_room_locks``: one row per session that ever had a room; every change of a
room's presence first bumps its ``version`` (an upsert), which serializes the changes of
one room across nodes (the row lock on PostgreSQL, the write lock on SQLite).
In the one-process default these tables stay empty: rooms live in memory (rooms.py).
"""

from __future__ import annotations

import datetime as dt

from proctorbot.storage.db import Base, UtcDateTime, utcnow
from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column


class WebNodeRow(Base):
    __tablename__ = "conference_nodes"

    node_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class PresenceRow(Base):
    __tablename__ = "conference_presence"

    peer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(32), index=True)
    node_id: Mapped[str] = mapped_column(String(120), index=True)
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(300))
    person_id: Mapped[str] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(16))
    mic: Mapped[bool] = mapped_column(Boolean)
    cam: Mapped[bool] = mapped_column(Boolean)
    joined_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class RoomLockRow(Base):
    __tablename__ = "conference_room_locks"

    session_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
