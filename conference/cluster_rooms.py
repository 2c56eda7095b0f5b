"""Rooms shared by N web nodes: presence in the database, signaling through a relay.

A student on node A and the examiner and the bot on node B are in one room. Each node
keeps, per room with a socket of its own, a mirror of the whole room: its own peers
(``Peer``, with the socket) and the others' (``RemotePeer``: ``send`` goes to the node
holding that socket through the relay, conference/room_relay.py). Signaling
(conference/signaling.py) is unchanged: it sends to ``room.peers`` and broadcasts.

Membership (conference/presence.py) is the shared truth: every join, leave, replacement
and dead node is a transaction under the room's lock that also tells the nodes
concerned, in order. A node changes its mirror only from these envelopes, read one at a
time from its inbox, so every node sees a room's changes in one order and each peer
hears of another exactly once (in ``welcome`` or in ``peer-joined``):
- ``joined``: the node of the newcomer registers its socket and sends ``welcome`` from
  the room as the envelope gives it; every node tells its own sockets ``peer-joined``;
- ``left``: every node tells its own sockets ``peer-left``; the left peer's node closes
  that socket when ``close`` says so (replaced: 4001).
Each node heartbeats (``conference_nodes``); the others remove a node silent for
``cluster.heartbeat_timeout_s`` and its peers (``peer-left``, reason ``node_lost``): the
browsers that were on it reconnect through another node. A node that finds itself
declared dead, or loses its inbox, closes its sockets (1012) so they start over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode
from proctorbot.conference.presence import Presence, PresenceStore
from proctorbot.conference.room_relay import NodeRelay, RelayLost
from proctorbot.conference.rooms import Peer, Room, RoomRegistry, Welcome

log = logging.getLogger(__name__)

# How long a joining socket waits for its own `joined` to come back through the relay.
ENTER_TIMEOUT_S = 10.0
RELAY_RETRY_S = 1.0


def new_node_id() -> str:
    """``<host>-<pid>-<random>``: a restarted process is a new node."""
    return f"{socket.gethostname()[:80]}-{os.getpid()}-{secrets.token_hex(3)}"


@dataclass
class RemotePeer(Peer):
    """A peer whose socket another node holds: sending goes through the relay."""

    node_id: str = ""
    session_id: str = ""
    relay: Any = None  # NodeRelay

    async def send(self, message: dict[str, Any]) -> bool:
        envelope = {"op": "deliver", "session": self.session_id, "to": self.peer_id}
        try:
            await self.relay.send(self.node_id, {**envelope, "message": message})
        except Exception as exc:  # Redis away: the message is lost like a closed socket's
            log.warning("relay to %s on %s failed: %s", self.peer_id, self.node_id, exc)
            return False
        return True


@dataclass
class ClusterRoom(Room):
    """A room's mirror on one node; media-state is also recorded for other nodes' welcomes."""

    registry: ClusterRooms | None = None
    # own peers taken out before their `left` envelope came: it still tells the others
    untold: set[str] = field(default_factory=set)

    async def media_state_changed(self, peer: Peer) -> None:
        if self.registry is not None and peer.ws is not None:
            await asyncio.to_thread(self.registry.store.set_media, peer.peer_id, peer.mic, peer.cam)


@dataclass
class _Entering:
    peer: Peer
    welcome: Welcome
    entered: asyncio.Future[Room]


@dataclass
class ClusterRooms(RoomRegistry):
    """``RoomRegistry`` for a node among several: the same calls, shared through the
    database (``store``) and a relay between nodes."""

    store: PresenceStore | None = None
    relay: NodeRelay | None = None
    node_id: str = field(default_factory=new_node_id)
    heartbeat_s: float = 3.0
    timeout_s: float = 15.0
    _entering: dict[str, _Entering] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    # --- what signaling calls -----------------------------------------------------------

    def open(self, session_id: str) -> Room:
        room = self.rooms.get(session_id)
        if room is None:
            room = self.rooms[session_id] = ClusterRoom(session_id, registry=self)
        return room

    def forget_if_empty(self, room: Room) -> None:
        """A node forgets a room once none of its own sockets is in it."""
        if not room.local_peers() and self.rooms.get(room.session_id) is room:
            del self.rooms[room.session_id]

    async def enter(
        self, peer: Peer, session_id: str, capacity: int, welcome: Welcome
    ) -> Room | None:
        entering = _Entering(peer, welcome, asyncio.get_running_loop().create_future())
        self._entering[peer.peer_id] = entering
        newcomer = Presence(
            peer.peer_id,
            session_id,
            self.node_id,
            peer.role,
            peer.name,
            peer.person_id,
            peer.device,
            peer.mic,
            peer.cam,
        )
        try:
            admitted = await asyncio.to_thread(
                self._store().enter, newcomer, capacity, self._relay().send_blocking
            )
            if not admitted:
                return None
            # our own `joined` comes back through the inbox, in order with the others
            return await asyncio.wait_for(asyncio.shield(entering.entered), ENTER_TIMEOUT_S)
        except TimeoutError:
            log.error("%s: no word from the relay in %.0f s", peer.peer_id, ENTER_TIMEOUT_S)
            await self._leave_record(session_id, peer.peer_id, "left")
            raise
        finally:
            self._entering.pop(peer.peer_id, None)

    async def leave(self, room: Room, peer: Peer, reason: str) -> bool:
        """The socket closed: its record goes, and its `left` envelope (to this node
        too) takes it out of every mirror and tells the others."""
        if room.peers.get(peer.peer_id) is not peer:
            return False  # replaced, or removed with this node: already told
        told = False
        try:
            told = await self._leave_record(room.session_id, peer.peer_id, reason)
        except Exception as exc:  # Redis or the database away: the heartbeat retries
            log.warning("%s left %s, not yet recorded: %s", peer.peer_id, room.session_id, exc)
        finally:
            if not told and room.peers.get(peer.peer_id) is peer:
                # no envelope of ours will come: replaced elsewhere (its envelope may
                # still be on the way: then it tells our sockets) or this node reaped
                room.peers.pop(peer.peer_id)
                if isinstance(room, ClusterRoom):
                    room.untold.add(peer.peer_id)
                self.forget_if_empty(room)
        return told

    def people_in(self, session_id: str) -> Any:
        """Person ids in the room on every node (awaitable: the database in a thread)."""
        return asyncio.to_thread(self._store().people_in, session_id)

    # --- life of the node ---------------------------------------------------------------

    async def start(self) -> None:
        await self._relay().open(self.node_id)
        await asyncio.to_thread(self._store().beat, self.node_id)
        self._tasks = [
            asyncio.create_task(self._read_inbox(), name="rooms-inbox"),
            asyncio.create_task(self._heartbeat(), name="rooms-heartbeat"),
        ]
        log.info("web node %s shares rooms", self.node_id)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        try:
            await asyncio.to_thread(
                self._store().drop_node, self.node_id, self._relay().send_blocking
            )
        except Exception:  # the others reap it after the timeout anyway
            log.exception("web node %s: could not remove its presence", self.node_id)
        await self._relay().close()

    # --- the inbox: membership in order, messages for our sockets ---------------------

    async def _read_inbox(self) -> None:
        while True:
            try:
                envelope = await self._relay().receive()
            except RelayLost as lost:
                log.error("web node %s: %s; its sockets start over", self.node_id, lost)
                await self._start_over()
                await self._reopen()
                continue
            try:
                await self.apply(envelope)
            except Exception:
                log.exception("web node %s: envelope %s failed", self.node_id, envelope.get("op"))

    async def _reopen(self) -> None:
        """Subscribe again, every RELAY_RETRY_S until the relay answers."""
        while True:
            await asyncio.sleep(RELAY_RETRY_S)
            try:
                await self._relay().open(self.node_id)
            except RelayLost:
                continue
            log.warning("web node %s: its inbox is back", self.node_id)
            return

    async def apply(self, envelope: dict[str, Any]) -> None:
        op = envelope.get("op")
        if op == "joined":
            await self._joined(envelope)
        elif op == "left":
            await self._left(envelope)
        elif op == "deliver":
            await self._deliver(envelope)

    async def _joined(self, envelope: dict[str, Any]) -> None:
        newcomer = Presence.of_dict(envelope["peer"])
        entering = self._entering.get(newcomer.peer_id)
        if entering is not None and newcomer.node_id == self.node_id:
            room = self.open(newcomer.session_id)
            self._mirror(room, [Presence.of_dict(p) for p in envelope["peers"]], newcomer)
            message = entering.welcome(room)  # the room before the newcomer is in it
            room.peers[newcomer.peer_id] = entering.peer
            if not entering.entered.done():
                entering.entered.set_result(room)
            await entering.peer.send(message)
            joiner = entering.peer
        else:
            room = self.rooms.get(newcomer.session_id)
            if room is None or newcomer.peer_id in room.peers:
                return  # no socket of ours in the room (or already known)
            joiner = room.peers[newcomer.peer_id] = self._remote(newcomer)
        announce = {"type": "peer-joined", "peer": joiner.describe()}
        for peer in room.local_peers():
            if peer.peer_id != joiner.peer_id:
                await peer.send(announce)

    async def _left(self, envelope: dict[str, Any]) -> None:
        room = self.rooms.get(envelope["session"])
        if room is None:
            return
        peer_id = envelope["peer_id"]
        gone = room.peers.pop(peer_id, None)
        if gone is None and not (isinstance(room, ClusterRoom) and peer_id in room.untold):
            return  # told already
        if isinstance(room, ClusterRoom):
            room.untold.discard(peer_id)
        if (
            gone is not None and gone.ws is not None and envelope.get("close")
        ):  # ours, replaced on another node
            await gone.ws.close(code=int(envelope["close"]), message=envelope["reason"].encode())
        announce = {"type": "peer-left", "peer_id": peer_id, "reason": envelope["reason"]}
        for peer in room.local_peers():
            await peer.send(announce)
        self.forget_if_empty(room)

    async def _deliver(self, envelope: dict[str, Any]) -> None:
        room = self.rooms.get(envelope["session"])
        target = room.peers.get(envelope["to"]) if room is not None else None
        if target is None or target.ws is None:
            return  # gone meanwhile: as a message to a socket that just closed
        message = envelope["message"]
        if message.get("type") == "media-state":  # keep the mirror's mic/cam current
            sender = room.peers.get(str(message.get("from")))
            if sender is not None and sender.ws is None:
                sender.mic, sender.cam = bool(message.get("mic")), bool(message.get("cam"))
        await target.send(message)

    def _mirror(self, room: Room, present: list[Presence], newcomer: Presence) -> None:
        """The room as the database has it now: remote peers added or dropped to match
        (our own sockets stay: their leaving is told by their own envelopes)."""
        ids = {p.peer_id for p in present}
        for peer_id, peer in list(room.peers.items()):
            if peer.ws is None and peer_id not in ids:
                del room.peers[peer_id]
        for presence in present:
            if presence.peer_id != newcomer.peer_id and presence.peer_id not in room.peers:
                if presence.node_id != self.node_id:
                    room.peers[presence.peer_id] = self._remote(presence)

    def _remote(self, presence: Presence) -> RemotePeer:
        return RemotePeer(
            peer_id=presence.peer_id,
            role=presence.role,
            name=presence.name,
            person_id=presence.person_id,
            ws=None,
            mic=presence.mic,
            cam=presence.cam,
            device=presence.device,
            node_id=presence.node_id,
            session_id=presence.session_id,
            relay=self.relay,
        )

    # --- heartbeat, dead nodes ----------------------------------------------------------

    async def _heartbeat(self) -> None:
        while True:
            try:
                alive = await asyncio.to_thread(self._store().beat, self.node_id)
                if not alive:
                    log.error("web node %s was declared dead: its sockets start over", self.node_id)
                    await self._start_over()
                await asyncio.to_thread(
                    self._store().reap, self.timeout_s, self._relay().send_blocking
                )
                await self._drop_orphans()
            except Exception:
                log.exception("web node %s: heartbeat failed", self.node_id)
            await asyncio.sleep(self.heartbeat_s)

    async def _drop_orphans(self) -> None:
        """Records of this node without a socket here (a leave whose envelope could not
        be sent while Redis was away): removed now, the others told."""
        for presence in await asyncio.to_thread(self._store().of_node, self.node_id):
            room = self.rooms.get(presence.session_id)
            held = room is not None and room.peers.get(presence.peer_id) is not None
            if not held and presence.peer_id not in self._entering:
                log.warning("web node %s: orphan record %s removed", self.node_id, presence.peer_id)
                await self._leave_record(presence.session_id, presence.peer_id, "left")

    async def _start_over(self) -> None:
        """Close every socket of this node (1012): the browsers reconnect, each gets a
        fresh welcome from the shared record. The mirrors go too: what was missed is not
        patched, and records left behind are the heartbeat's orphans."""
        rooms = list(self.rooms.values())
        self.rooms.clear()
        for room in rooms:
            for peer in room.local_peers():
                await peer.ws.close(code=WSCloseCode.SERVICE_RESTART, message=b"node restart")

    async def _leave_record(self, session_id: str, peer_id: str, reason: str) -> bool:
        return await asyncio.to_thread(
            self._store().leave, session_id, peer_id, reason, self._relay().send_blocking
        )

    def _store(self) -> PresenceStore:
        if self.store is None:
            raise RuntimeError("ClusterRooms needs a PresenceStore")
        return self.store

    def _relay(self) -> NodeRelay:
        if self.relay is None:
            raise RuntimeError("ClusterRooms needs a NodeRelay")
        return self.relay
