"""Which Janus instance holds a session's call: one VideoRoom per exam session.

``JanusRooms.place(session_id)`` is what a web node's signaling bridge and the bot call:
the session's row in ``conference_janus_rooms`` (conference/janus/tables.py) when there
is one — any web node or worker finds the same room —, else the least loaded of the
configured instances (``[janus] urls``) is chosen and the row written (a second node
placing the same session at the same moment loses the insert and reads the winner's).
Load = the rooms placed there (the table) and the participants Janus reports
(VideoRoom ``list``); an instance that does not answer or has ``max_rooms_per_instance``
rooms is passed over. Either way the room is made on Janus if it is not there (a
restarted Janus has forgotten its rooms): VP8/Opus publishers, ``record: true`` into
``<record_dir>/<session_id>`` when ``[janus] record`` (Janus's own copy of every track,
conference/janus/recordings.py). ``release(session_id)`` destroys it and drops the row.
The database is only touched in worker threads (docs/architecture.md, Database).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from proctorbot.conference.janus import videoroom
from proctorbot.conference.janus.client import JanusClient, JanusError, JanusPluginError
from proctorbot.conference.janus.tables import JanusRoomRow
from proctorbot.config.settings import Settings
from proctorbot.storage.db_retry import retry_when_locked
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

logger = logging.getLogger(__name__)

ROOM_PUBLISHERS = 24  # every person's three devices and a few watchers
ROOM_EXISTS = 427


class NoJanusInstance(JanusError):
    """No configured Janus instance can take the room."""


@dataclass(frozen=True)
class RoomPlace:
    """Where a session's call is: a Janus instance's API URL, its VideoRoom, the folder
    Janus records it into (as Janus sees it; empty when not recorded)."""

    url: str
    room: int
    rec_dir: str = ""


@dataclass(frozen=True)
class InstanceLoad:
    url: str
    rooms: int  # rooms placed there (database)
    participants: int  # participants Janus reports in its rooms (-1: did not answer)

    @property
    def reachable(self) -> bool:
        return self.participants >= 0


def room_id_for(session_id: str) -> int:
    """A session's VideoRoom id: stable (48 bits of SHA-256, safe as a JavaScript number)."""
    digest = hashlib.sha256(session_id.encode()).digest()
    return int.from_bytes(digest[:6], "big") or 1


def janus_record_dir(settings: Settings) -> Path:
    """Janus's recording folder: ``[janus] record_dir`` or ``<data_dir>/janus``."""
    if settings.janus.record_dir:
        return Path(settings.janus.record_dir)
    return (settings.data_dir / "janus").resolve()


def choose_instance(loads: list[InstanceLoad], max_rooms: int) -> InstanceLoad | None:
    """The reachable instance with the fewest rooms, then participants, then list order."""
    usable = [load for load in loads if load.reachable and load.rooms < max_rooms]
    if not usable:
        return None
    return min(usable, key=lambda load: (load.rooms, load.participants, loads.index(load)))


class JanusRooms:
    """Room placement over the configured Janus instances (see the module doc)."""

    def __init__(self, db: sessionmaker[Session], settings: Settings) -> None:
        self.db = db
        self.settings = settings
        secret = settings.janus.api_secret
        self.api_secret = secret.get_secret_value() if secret is not None else None
        # one placement of a session at a time in this process (other sessions go on;
        # other processes are kept apart by the row's primary key)
        self._locks: dict[str, asyncio.Lock] = {}

    def client(self, url: str) -> JanusClient:
        return JanusClient(url, api_secret=self.api_secret)

    async def __call__(self, session_id: str) -> RoomPlace:
        return await self.place(session_id)

    async def place(self, session_id: str) -> RoomPlace:
        """The session's room (made now if needed) on its instance."""
        async with self._locks.setdefault(session_id, asyncio.Lock()):
            row = await asyncio.to_thread(self._row, session_id)
            if row is None:
                chosen = await self._choose()
                rec_dir = (
                    str(janus_record_dir(self.settings) / session_id)
                    if self.settings.janus.record
                    else ""
                )
                proposed = RoomPlace(chosen.url, room_id_for(session_id), rec_dir)
                row = await asyncio.to_thread(self._insert, session_id, proposed)
            await self._ensure_room(session_id, row)
            return row

    async def lookup(self, session_id: str) -> RoomPlace | None:
        """The session's place if it has one (nothing is made)."""
        return await asyncio.to_thread(self._row, session_id)

    async def release(self, session_id: str) -> None:
        """The session is over: its room destroyed (best effort) and its row removed."""
        row = await asyncio.to_thread(self._row, session_id)
        if row is None:
            return
        try:
            async with self.client(row.url) as janus:
                handle = await (await janus.create_session()).attach()
                await videoroom.destroy_room(handle, row.room)
        except JanusPluginError as exc:
            if exc.code != 426:  # no such room: gone already
                logger.warning("session %s: room not destroyed: %s", session_id, exc)
        except JanusError as exc:
            logger.warning("session %s: room not destroyed: %s", session_id, exc)
        await asyncio.to_thread(self._delete, session_id)
        self._locks.pop(session_id, None)

    async def loads(self) -> list[InstanceLoad]:
        """Every configured instance's load (rooms from the table, participants from Janus)."""
        rooms = await asyncio.to_thread(self._room_counts)
        participants = await asyncio.gather(
            *(self._participants(url) for url in self.settings.janus.urls)
        )
        return [
            InstanceLoad(url, rooms.get(url, 0), count)
            for url, count in zip(self.settings.janus.urls, participants, strict=True)
        ]

    async def _choose(self) -> InstanceLoad:
        if not self.settings.janus.urls:
            raise NoJanusInstance("no Janus instance is configured ([janus] urls)")
        loads = await self.loads()
        chosen = choose_instance(loads, self.settings.janus.max_rooms_per_instance)
        if chosen is None:
            described = ", ".join(
                f"{load.url}: " + (f"{load.rooms} rooms" if load.reachable else "no answer")
                for load in loads
            )
            raise NoJanusInstance(f"no Janus instance can take a room ({described})")
        return chosen

    async def _participants(self, url: str) -> int:
        try:
            async with self.client(url) as janus:
                session = await janus.create_session()
                handle = await session.attach()
                rooms = await videoroom.list_rooms(handle)
                await session.destroy()
        except JanusError as exc:
            logger.warning("Janus %s left out of placement: %s", url, exc)
            return -1
        return sum(room.num_participants for room in rooms)

    async def _ensure_room(self, session_id: str, place: RoomPlace) -> None:
        async with self.client(place.url) as janus:
            session = await janus.create_session()
            try:
                handle = await session.attach()
                if await videoroom.room_exists(handle, place.room):
                    return
                try:
                    await videoroom.create_room(
                        handle,
                        place.room,
                        description=f"session {session_id}",
                        publishers=ROOM_PUBLISHERS,
                        record=bool(place.rec_dir),
                        rec_dir=place.rec_dir,
                    )
                    logger.info(
                        "session %s: VideoRoom %s made on %s", session_id, place.room, place.url
                    )
                except JanusPluginError as exc:
                    if exc.code != ROOM_EXISTS:  # made meanwhile by another node
                        raise
            finally:
                await session.destroy()

    # -- database (worker threads) ----------------------------------------------------
    def _row(self, session_id: str) -> RoomPlace | None:
        with self.db() as db:
            row = db.get(JanusRoomRow, session_id)
            return None if row is None else RoomPlace(row.instance_url, row.room_id, row.rec_dir)

    def _insert(self, session_id: str, place: RoomPlace) -> RoomPlace:
        def write() -> RoomPlace:
            with self.db() as db:
                db.add(
                    JanusRoomRow(
                        session_id=session_id,
                        instance_url=place.url,
                        room_id=place.room,
                        rec_dir=place.rec_dir,
                    )
                )
                try:
                    db.commit()
                except IntegrityError:  # another node placed it first: theirs holds
                    db.rollback()
                    existing = self._row(session_id)
                    assert existing is not None
                    return existing
            return place

        return retry_when_locked(write, what=f"Janus room of session {session_id}")

    def _delete(self, session_id: str) -> None:
        def write() -> None:
            with self.db() as db:
                row = db.get(JanusRoomRow, session_id)
                if row is not None:
                    db.delete(row)
                    db.commit()

        retry_when_locked(write, what=f"Janus room of session {session_id}")

    def _room_counts(self) -> dict[str, int]:
        with self.db() as db:
            rows = db.execute(
                select(JanusRoomRow.instance_url, func.count()).group_by(JanusRoomRow.instance_url)
            ).all()
        return {str(url): int(count) for url, count in rows}
