"""Shared rooms in one process: two nodes (ClusterRooms) on one database and a LocalRelay.

No Redis, no PostgreSQL server (the test's SQLite: the room lock is its write lock), no
sockets: fast enough to join many peers at once and check what each one hears.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from proctorbot.conference.cluster_rooms import ClusterRooms
from proctorbot.conference.presence import PresenceStore
from proctorbot.conference.room_relay import LocalHub, LocalRelay
from proctorbot.conference.rooms import Peer, Room


@dataclass
class FakeSocket:
    """What a Peer needs of a WebSocketResponse: sent messages are kept."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    closed: bool = False
    close_code: int | None = None

    async def send_str(self, data: str) -> None:
        self.sent.append(json.loads(data))

    async def close(self, *, code: int = 1000, message: bytes = b"") -> None:
        self.closed, self.close_code = True, code

    def heard(self) -> set[str]:
        """Peer ids this socket was told are present now (welcome + joined - left)."""
        present: set[str] = set()
        for message in self.sent:
            if message["type"] == "welcome":
                present |= {p["peer_id"] for p in message["peers"]}
            elif message["type"] == "peer-joined":
                assert message["peer"]["peer_id"] not in present, "told twice"
                present.add(message["peer"]["peer_id"])
            elif message["type"] == "peer-left":
                present.discard(message["peer_id"])
        return present


def welcome(room: Room) -> dict[str, Any]:
    return {"type": "welcome", "peers": [p.describe() for p in room.peers.values()]}


def person(i: int, role: str = "student") -> Peer:
    return Peer(f"{role}-{i}", role, f"P{i}", f"person-{i}", FakeSocket())  # type: ignore[arg-type]


async def nodes(app_context, count: int = 2) -> list[ClusterRooms]:
    hub = LocalHub()
    made = [
        ClusterRooms(
            store=PresenceStore(app_context.db),
            relay=LocalRelay(hub),
            node_id=f"node-{i}",
            heartbeat_s=0.2,
            timeout_s=1.0,
        )
        for i in range(count)
    ]
    for node in made:
        await node.start()
    return made


async def settle() -> None:
    await asyncio.sleep(0.3)


async def test_concurrent_joins_on_two_nodes_each_hear_of_every_other_once(app_context) -> None:
    a, b = await nodes(app_context)
    try:
        peers = [person(i) for i in range(8)]
        await asyncio.gather(
            *(
                (a if i % 2 else b).enter(peer, "s1", capacity=20, welcome=welcome)
                for i, peer in enumerate(peers)
            )
        )
        await settle()
        everyone = {p.peer_id for p in peers}
        for peer in peers:
            assert peer.ws.heard() == everyone - {peer.peer_id}, peer.peer_id
            assert peer.ws.sent[0]["type"] == "welcome"
        assert PresenceStore(app_context.db).people_in("s1") == {p.person_id for p in peers}
        # the scheduler's hook (rooms.people_in), on either node
        assert await a.people_in("s1") == await b.people_in("s1") == {p.person_id for p in peers}

        # leaving, from both nodes at once: the others are told, once
        leaving = peers[:3]
        await asyncio.gather(
            *(
                (a if i % 2 else b).leave((a if i % 2 else b).rooms["s1"], p, "left")
                for i, p in enumerate(leaving)
            )
        )
        await settle()
        for peer in peers[3:]:
            assert peer.ws.heard() == everyone - {p.peer_id for p in leaving} - {peer.peer_id}
    finally:
        for node in (a, b):
            await node.stop()


async def test_capacity_and_replacement_across_nodes(app_context) -> None:
    a, b = await nodes(app_context)
    try:
        first, second = person(1), person(2, "examiner")
        assert await a.enter(first, "s2", capacity=2, welcome=welcome) is not None
        assert await b.enter(second, "s2", capacity=2, welcome=welcome) is not None
        assert await a.enter(person(3), "s2", capacity=2, welcome=welcome) is None
        bot = Peer("bot-1", "bot", "bot", "bot", FakeSocket(), device="main")  # type: ignore[arg-type]
        assert await a.enter(bot, "s2", capacity=2, welcome=welcome) is not None  # not counted

        again = person(1)
        again.peer_id = "student-1-again"
        await b.enter(again, "s2", capacity=2, welcome=welcome)
        await settle()
        assert first.ws.close_code == 4001
        left = [m for m in second.ws.sent if m["type"] == "peer-left"]
        assert left == [{"type": "peer-left", "peer_id": first.peer_id, "reason": "replaced"}]
        assert second.ws.heard() == {bot.peer_id, again.peer_id}
        assert bot.ws.heard() == {second.peer_id, again.peer_id}
        # the replaced socket's own leave afterwards tells nobody again
        assert not await a.leave(a.rooms["s2"], first, "closed-4001")
    finally:
        for node in (a, b):
            await node.stop()


async def test_a_silent_node_is_reaped_by_another(app_context) -> None:
    a, b = await nodes(app_context)
    try:
        student, examiner = person(1), person(2, "examiner")
        await a.enter(student, "s3", capacity=8, welcome=welcome)
        await b.enter(examiner, "s3", capacity=8, welcome=welcome)
        for task in a._tasks:  # node A hangs: no heartbeat, no inbox
            task.cancel()
        await asyncio.sleep(1.8)
        assert examiner.ws.sent[-1] == {
            "type": "peer-left",
            "peer_id": student.peer_id,
            "reason": "node_lost",
        }
        assert PresenceStore(app_context.db).people_in("s3") == {examiner.person_id}
        # A wakes up, finds itself declared dead: its sockets start over (1012)
        a._tasks = [asyncio.create_task(a._heartbeat())]
        await asyncio.sleep(0.5)
        assert student.ws.close_code == 1012
    finally:
        for node in (a, b):
            await node.stop()


async def test_a_record_without_its_socket_is_removed_by_its_node(app_context) -> None:
    """A leave whose envelope could not go out (Redis away) leaves a record behind: the
    node's heartbeat finds it and removes it, telling the others."""
    a, b = await nodes(app_context)
    try:
        student, examiner = person(1), person(2, "examiner")
        await a.enter(student, "s4", capacity=8, welcome=welcome)
        await b.enter(examiner, "s4", capacity=8, welcome=welcome)
        await settle()
        assert examiner.ws.heard() == {student.peer_id}
        a.rooms["s4"].peers.pop(student.peer_id)  # as leave() does when its txn failed
        await asyncio.sleep(0.6)
        assert PresenceStore(app_context.db).people_in("s4") == {examiner.person_id}
        assert examiner.ws.heard() == set()
    finally:
        for node in (a, b):
            await node.stop()


async def test_redis_going_away_closes_the_sockets_and_the_nodes_come_back(
    app_context, tmp_path
) -> None:
    """Pub/sub loses what is sent while Redis is away: every node closes its sockets
    (1012, the pages reconnect) and subscribes again once Redis is back."""
    import shutil
    import subprocess

    import pytest
    from proctorbot.conference.room_relay import RedisRelay

    from tests.conference.web_nodes import free_port

    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    command = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]

    async def start_redis() -> subprocess.Popen:
        process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL)
        await asyncio.sleep(0.3)
        return process

    redis = await start_redis()
    made: list[ClusterRooms] = []
    try:
        for i in range(2):
            node = ClusterRooms(
                store=PresenceStore(app_context.db),
                relay=RedisRelay(f"redis://127.0.0.1:{port}/0"),
                node_id=f"node-{i}",
                heartbeat_s=0.2,
                timeout_s=5.0,
            )
            await node.start()
            made.append(node)
        a, b = made
        student, examiner = person(1), person(2, "examiner")
        await a.enter(student, "s5", capacity=8, welcome=welcome)
        await b.enter(examiner, "s5", capacity=8, welcome=welcome)
        await settle()
        assert examiner.ws.heard() == {student.peer_id}

        rooms = (a.rooms["s5"], b.rooms["s5"])  # what each socket's handler holds
        redis.kill()
        redis.wait()
        for _ in range(70):  # the subscription notices (a read waits 5 s at most)
            if student.ws.closed and examiner.ws.closed:
                break
            await asyncio.sleep(0.1)
        assert (student.ws.close_code, examiner.ws.close_code) == (1012, 1012)
        for node, room, peer in ((a, rooms[0], student), (b, rooms[1], examiner)):
            await node.leave(room, peer, "closed-1012")  # as the handlers' finally does

        redis = await start_redis()
        await asyncio.sleep(2.0)  # both subscribed again; the orphan records removed
        again, other = person(1), person(2, "examiner")
        again.peer_id, other.peer_id = "student-1b", "examiner-2b"
        await b.enter(again, "s5", capacity=8, welcome=welcome)
        await a.enter(other, "s5", capacity=8, welcome=welcome)
        await settle()
        assert again.ws.heard() == {other.peer_id} and other.ws.heard() == {again.peer_id}
        assert PresenceStore(app_context.db).people_in("s5") == {"person-1", "person-2"}
    finally:
        for node in made:
            await node.stop()
        redis.kill()
        redis.wait()
