"""Rooms: who is connected to which exam session right now (in memory, per server).

A room exists while at least one peer is connected. The database knows the sessions;
this registry knows only live WebSocket connections, so a restart empties it and the
browsers simply reconnect. ``enter`` and ``leave`` are the membership: replacing the same
person's older connection, the capacity, ``welcome``, ``peer-joined`` and ``peer-left``.
With web nodes sharing rooms, ``cluster_rooms.ClusterRooms`` does the same across nodes.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

MAIN_DEVICE = "main"
# A person's devices: the laptop ("main"), the phone as a second camera, the screen share
# (conference/extra_sources.py). Any other name is the main device: a person cannot open
# an unbounded number of sources.
DEVICES = frozenset({MAIN_DEVICE, "phone", "screen"})
# The close code of a connection replaced by a newer one of the same person and device.
CLOSE_REPLACED = 4001
# What the newcomer is told, made from the room as it is when the newcomer enters it.
Welcome = Callable[["Room"], dict[str, Any]]


def device_of(raw: str | None) -> str:
    """The device a connection says it is (``?device=phone``); "main" when absent or odd."""
    value = (raw or "").strip().lower()
    return value if value in DEVICES else MAIN_DEVICE


@dataclass
class Peer:
    """One WebSocket connection in a room: a person's browser tab or the bot."""

    peer_id: str
    role: str
    name: str
    person_id: str
    ws: web.WebSocketResponse
    mic: bool = True
    cam: bool = True
    # Which of the person's devices this connection is (a laptop, a phone beside it): a
    # person's second device is a second source, never a replacement of the first.
    device: str = MAIN_DEVICE

    def describe(self) -> dict[str, Any]:
        """The public view of a peer, as sent in `welcome` and `peer-joined`."""
        return {
            "peer_id": self.peer_id,
            "role": self.role,
            "name": self.name,
            # The bot names each participant's recording folder after the person.
            "person_id": self.person_id,
            "device": self.device,
            "mic": self.mic,
            "cam": self.cam,
        }

    async def send(self, message: dict[str, Any]) -> bool:
        """Send one JSON message; False when the socket is already gone."""
        if self.ws.closed:
            return False
        try:
            await self.ws.send_str(json.dumps(message, ensure_ascii=False))
        except (ConnectionError, RuntimeError) as exc:
            log.info("could not send %s to %s: %s", message.get("type"), self.peer_id, exc)
            return False
        return True


@dataclass
class Room:
    """The live peers of one exam session."""

    session_id: str
    peers: dict[str, Peer] = field(default_factory=dict)

    def others(self, peer_id: str) -> list[Peer]:
        return [p for p in self.peers.values() if p.peer_id != peer_id]

    def with_role(self, *roles: str) -> list[Peer]:
        return [p for p in self.peers.values() if p.role in roles]

    def people_count(self) -> int:
        """Participants that count against the room's capacity (the bot does not, nor a
        person's second device: the phone or the screen of someone already counted)."""
        return sum(1 for p in self.peers.values() if p.role != "bot" and p.device == MAIN_DEVICE)

    def find_person(self, person_id: str, role: str, device: str = "main") -> Peer | None:
        for peer in self.peers.values():
            if peer.person_id == person_id and peer.role == role and peer.device == device:
                return peer
        return None

    async def broadcast(self, message: dict[str, Any], *, exclude: str | None = None) -> None:
        for peer in list(self.peers.values()):
            if peer.peer_id != exclude:
                await peer.send(message)

    def local_peers(self) -> list[Peer]:
        """The peers whose sockets this process holds (all of them in one process)."""
        return [p for p in self.peers.values() if p.ws is not None]

    async def media_state_changed(self, peer: Peer) -> None:
        """The peer's mic/cam changed (kept in memory here; shared rooms record it)."""


@dataclass
class RoomRegistry:
    """All live rooms of one server process, keyed by session id."""

    rooms: dict[str, Room] = field(default_factory=dict)

    def get(self, session_id: str) -> Room | None:
        return self.rooms.get(session_id)

    def people_in(self, session_id: str) -> set[str]:
        """Person ids connected to a session's room now (the scheduler's no-show check)."""
        room = self.rooms.get(session_id)
        return {p.person_id for p in room.peers.values()} if room else set()

    def open(self, session_id: str) -> Room:
        room = self.rooms.get(session_id)
        if room is None:
            room = self.rooms[session_id] = Room(session_id)
        return room

    def remove_peer(self, room: Room, peer_id: str) -> Peer | None:
        peer = room.peers.pop(peer_id, None)
        self.forget_if_empty(room)
        return peer

    def forget_if_empty(self, room: Room) -> None:
        if not room.peers and self.rooms.get(room.session_id) is room:
            del self.rooms[room.session_id]

    async def enter(
        self, peer: Peer, session_id: str, capacity: int, welcome: Welcome
    ) -> Room | None:
        """Add a newcomer: its older connection (same person, role, device) leaves with
        reason ``replaced`` (closed 4001); None when the room is full. The newcomer gets
        ``welcome(room)`` (the others present), the others ``peer-joined``."""
        previous = self.open(session_id).find_person(peer.person_id, peer.role, peer.device)
        if previous is not None:
            # The same person's same device (or the bot) again: a reload or a network drop.
            # The new connection wins; the old one leaves with reason "replaced". Another
            # device of the person (a phone beside the laptop) is a second source instead.
            old_room = self.open(session_id)
            log.info("%s replaces %s in %s", peer.role, previous.peer_id, session_id)
            self.remove_peer(old_room, previous.peer_id)
            await old_room.broadcast(
                {"type": "peer-left", "peer_id": previous.peer_id, "reason": "replaced"}
            )
            await previous.ws.close(code=CLOSE_REPLACED, message=b"replaced")

        # From here to the registration there is no `await`: two people joining at the
        # same moment always see each other (one in `welcome`, the other in `peer-joined`).
        room = self.open(session_id)
        if peer.role != "bot" and room.people_count() >= capacity:
            self.forget_if_empty(room)
            return None
        message = welcome(room)
        room.peers[peer.peer_id] = peer
        await peer.send(message)
        await room.broadcast({"type": "peer-joined", "peer": peer.describe()}, exclude=peer.peer_id)
        return room

    async def leave(self, room: Room, peer: Peer, reason: str) -> bool:
        """The peer's socket closed: the others get ``peer-left``; False when it had
        already been replaced by a newer connection of the same person."""
        if room.peers.get(peer.peer_id) is not peer:
            return False
        self.remove_peer(room, peer.peer_id)
        await room.broadcast({"type": "peer-left", "peer_id": peer.peer_id, "reason": reason})
        return True

    async def start(self) -> None:
        """Nothing to start in one process (shared rooms subscribe and heartbeat)."""

    async def stop(self) -> None:
        """Nothing to stop in one process."""


def new_peer_id(role: str) -> str:
    """Readable and unguessable: `student-3f9a1c`."""
    return f"{role}-{secrets.token_hex(3)}"
