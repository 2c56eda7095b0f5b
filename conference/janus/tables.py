"""The Janus media plane's table (Alembic branch "conference_janus").

``conference_janus_rooms``: one row per exam session whose call goes through Janus: the
instance (its HTTP API URL) and the VideoRoom id, so every web node, bot and worker finds
the same room (conference/janus/placement.py); the row count per instance is its load.
"""

from __future__ import annotations

import datetime as dt

from proctorbot.storage.db import Base, UtcDateTime, utcnow
from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column


class JanusRoomRow(Base):
    __tablename__ = "conference_janus_rooms"

    session_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    instance_url: Mapped[str] = mapped_column(String(300), index=True)
    room_id: Mapped[int] = mapped_column(BigInteger)
    rec_dir: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
