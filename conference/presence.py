"""Who is in which room, on which web node: the shared record of the cluster's rooms.

Every change of a room's presence is one transaction that first takes the room's lock
(``conference_room_locks``, an upsert: a row lock on PostgreSQL, the write lock on
SQLite), changes the rows and, before it commits, tells the nodes concerned through the
relay (``publish``). Changes of one room are therefore told to every node in the order
they happened (conference/room_relay.py). All of it blocks: call it in a thread.

Envelopes (conference/cluster_rooms.py applies them):
- ``{"op": "joined", "session", "peer": <row>, "peers": [<row>...]}`` to every node with a
  peer in the room after the change (the joiner's node included): the room as it is now;
- ``{"op": "left", "session", "peer_id", "reason", "close"}`` to every node that had a
  peer in the room before the change; ``close`` (4001 when replaced) tells the left
  peer's own node to close that socket.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from proctorbot.conference.rooms import CLOSE_REPLACED, MAIN_DEVICE
from proctorbot.conference.tables import PresenceRow, RoomLockRow, WebNodeRow
from proctorbot.storage.db import utcnow
from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

Publish = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class Presence:
    """One connection as the other nodes know it."""

    peer_id: str
    session_id: str
    node_id: str
    role: str
    name: str
    person_id: str
    device: str
    mic: bool
    cam: bool

    @classmethod
    def of_row(cls, row: PresenceRow) -> Presence:
        return cls(
            row.peer_id,
            row.session_id,
            row.node_id,
            row.role,
            row.name,
            row.person_id,
            row.device,
            row.mic,
            row.cam,
        )

    @classmethod
    def of_dict(cls, data: dict[str, Any]) -> Presence:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def counts_against_capacity(self) -> bool:
        """As rooms.Room.people_count: neither the bot nor a person's second device."""
        return self.role != "bot" and self.device == MAIN_DEVICE


@dataclass
class PresenceStore:
    """The presence tables, through the app's sessionmaker (blocking calls)."""

    db: sessionmaker

    # --- a room's changes --------------------------------------------------------------

    def enter(self, newcomer: Presence, capacity: int, publish: Publish) -> bool:
        """Add a connection (replacing the same person's same device); False = room full."""
        with self.db.begin() as session:
            rows = self._locked_room(session, newcomer.session_id)
            previous = [
                r
                for r in rows
                if (r.person_id, r.role, r.device)
                == (newcomer.person_id, newcomer.role, newcomer.device)
            ]
            rest = [r for r in rows if r not in previous]
            if newcomer.counts_against_capacity():
                people = sum(1 for r in rest if r.counts_against_capacity())
                if people >= capacity:
                    return False
            ids = [r.peer_id for r in previous]
            if ids:
                session.execute(delete(PresenceRow).where(PresenceRow.peer_id.in_(ids)))
            session.add(PresenceRow(**newcomer.as_dict(), joined_at=utcnow()))
            session.flush()
            for old in previous:
                log.info("%s replaces %s in %s", newcomer.role, old.peer_id, old.session_id)
                self._tell_left(publish, rows, old, "replaced", CLOSE_REPLACED)
            after = [*rest, newcomer]
            joined = {
                "op": "joined",
                "session": newcomer.session_id,
                "peer": newcomer.as_dict(),
                "peers": [p.as_dict() for p in after],
            }
            for node in _nodes(after):
                publish(node, joined)
        return True

    def leave(self, session_id: str, peer_id: str, reason: str, publish: Publish) -> bool:
        """Remove a connection; False when it was no longer there (replaced, or removed
        with a dead node)."""
        with self.db.begin() as session:
            rows = self._locked_room(session, session_id)
            gone = next((r for r in rows if r.peer_id == peer_id), None)
            if gone is None:
                return False
            session.execute(delete(PresenceRow).where(PresenceRow.peer_id == peer_id))
            session.flush()
            self._tell_left(publish, rows, gone, reason, None)
        return True

    def set_media(self, peer_id: str, mic: bool, cam: bool) -> None:
        """The peer's microphone and camera, for the welcomes other nodes will send."""
        with self.db.begin() as session:
            session.execute(
                update(PresenceRow).where(PresenceRow.peer_id == peer_id).values(mic=mic, cam=cam)
            )

    def people_in(self, session_id: str) -> set[str]:
        with self.db() as session:
            return set(
                session.scalars(
                    select(PresenceRow.person_id).where(PresenceRow.session_id == session_id)
                )
            )

    def room(self, session_id: str) -> list[Presence]:
        with self.db() as session:
            rows = session.scalars(select(PresenceRow).where(PresenceRow.session_id == session_id))
            return [Presence.of_row(r) for r in rows]

    def of_node(self, node_id: str) -> list[Presence]:
        """The connections the record gives to a node."""
        with self.db() as session:
            rows = session.scalars(select(PresenceRow).where(PresenceRow.node_id == node_id))
            return [Presence.of_row(r) for r in rows]

    # --- nodes ----------------------------------------------------------------------------

    def beat(self, node_id: str) -> bool:
        """This node is alive; False when another node had already declared it dead (its
        peers are gone from the rooms: its sockets must start over)."""
        with self.db.begin() as session:
            now = database_now(session)
            result = session.execute(
                update(WebNodeRow).where(WebNodeRow.node_id == node_id).values(heartbeat_at=now)
            )
            if result.rowcount:
                return True
            session.add(WebNodeRow(node_id=node_id, started_at=now, heartbeat_at=now))
        return False

    def reap(
        self, timeout_s: float, publish: Publish, *, now: dt.datetime | None = None
    ) -> list[str]:
        """Remove the nodes silent for ``timeout_s`` and their peers (reason
        ``node_lost``); the ids of the nodes removed. Several nodes may reap at once: a
        dead node is taken by one of them (SKIP LOCKED). Heartbeats and the cutoff are
        the database's clock, so nodes on machines whose clocks differ agree."""
        reaped: list[str] = []
        while True:
            with self.db.begin() as session:
                cutoff = (now or database_now(session)) - dt.timedelta(seconds=timeout_s)
                dead = session.scalars(
                    select(WebNodeRow)
                    .where(WebNodeRow.heartbeat_at < cutoff)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                ).first()
                if dead is None:
                    return reaped
                self._drop_peers_of(session, dead.node_id, "node_lost", publish)
                session.delete(dead)
            log.warning("web node %s silent for %.0f s: its peers removed", dead.node_id, timeout_s)
            reaped.append(dead.node_id)

    def drop_node(self, node_id: str, publish: Publish) -> None:
        """A node that stops: its remaining peers leave (reason ``left``), its row goes."""
        with self.db.begin() as session:
            self._drop_peers_of(session, node_id, "left", publish)
            session.execute(delete(WebNodeRow).where(WebNodeRow.node_id == node_id))

    # --- inside a transaction -------------------------------------------------------------

    def _locked_room(self, session: Session, session_id: str) -> list[Presence]:
        """Take the room's lock (bump its version), then read its presence."""
        _bump_version(session, session_id)
        rows = session.scalars(select(PresenceRow).where(PresenceRow.session_id == session_id))
        return [Presence.of_row(r) for r in rows]

    def _drop_peers_of(self, session: Session, node_id: str, reason: str, publish: Publish) -> None:
        sessions = sorted(
            set(
                session.scalars(
                    select(PresenceRow.session_id).where(PresenceRow.node_id == node_id)
                )
            )
        )
        for session_id in sessions:
            rows = self._locked_room(session, session_id)
            gone = [r for r in rows if r.node_id == node_id]
            session.execute(
                delete(PresenceRow).where(
                    PresenceRow.session_id == session_id, PresenceRow.node_id == node_id
                )
            )
            session.flush()
            survivors = [r for r in rows if r.node_id != node_id]
            for peer in gone:
                self._tell_left(publish, survivors, peer, reason, None)

    @staticmethod
    def _tell_left(
        publish: Publish, rows: Iterable[Presence], gone: Presence, reason: str, close: int | None
    ) -> None:
        message = {
            "op": "left",
            "session": gone.session_id,
            "peer_id": gone.peer_id,
            "reason": reason,
            "close": close,
        }
        for node in _nodes(rows):  # the left peer's own node among them when it is in rows
            publish(node, message)


def _nodes(rows: Iterable[Presence]) -> list[str]:
    return sorted({r.node_id for r in rows})


def database_now(session: Session) -> dt.datetime:
    """The time by the database server's clock on PostgreSQL (one clock for every node);
    SQLite runs on this machine, whose clock it is."""
    if session.get_bind().dialect.name == "postgresql":
        value = session.scalar(text("select now() at time zone 'utc'"))
        return value.replace(tzinfo=dt.UTC)
    return utcnow()


def _bump_version(session: Session, session_id: str) -> None:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the product runs on SQLite or PostgreSQL
        raise RuntimeError(f"shared rooms need PostgreSQL or SQLite, not {dialect}")
    statement = insert(RoomLockRow).values(session_id=session_id, version=1)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[RoomLockRow.session_id],
            set_={"version": RoomLockRow.version + 1},
        )
    )
