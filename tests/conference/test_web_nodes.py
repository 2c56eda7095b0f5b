"""Two web node processes sharing rooms (PostgreSQL presence, Redis relay): a student on
node A, the examiner on node B, the bot on A; kill -9 of node A.

Needs redis-server (started here; skips without) and PostgreSQL 15 server binaries (started
here; without them the nodes share one SQLite file).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from pathlib import Path

from proctorbot.conference.presence import PresenceStore

from tests.browser_helpers import offer_answer_ice_relayed
from tests.conference.web_nodes import (
    TIMEOUT_S,
    client,
    closed_with,
    database_url,
    redis_url,
    web_nodes,
)
from tests.scheduling.test_postgres_jobstore import postgres_url

__all__ = ["database_url", "postgres_url", "redis_url"]  # fixtures


async def one_way_ms(sender, receiver, to: str, count: int) -> list[float]:
    """Milliseconds from `send` to the receiver reading it, `count` offers one by one."""
    delays = []
    for i in range(count):
        started = time.perf_counter()
        await sender.send({"type": "offer", "to": to, "sdp": f"v=0 probe {i}"})
        offer = await receiver.receive("offer")
        delays.append((time.perf_counter() - started) * 1000)
        assert offer["sdp"] == f"v=0 probe {i}"
    return delays


async def test_two_web_nodes_share_a_room(tmp_path: Path, database_url, redis_url) -> None:
    async with web_nodes(tmp_path, database_url, redis_url, capacity=2) as cluster:
        a, b = cluster.nodes
        async with (
            client(a, cluster.token("student")) as student,
            client(b, cluster.token("examiner")) as examiner,
        ):
            # welcome and peer-joined across nodes
            assert student.welcome["peers"] == []
            assert [p["peer_id"] for p in examiner.welcome["peers"]] == [student.peer_id]
            joined = await student.receive("peer-joined")
            assert joined["peer"]["peer_id"] == examiner.peer_id
            assert joined["peer"]["person_id"] == cluster.person("examiner")

            # offer / answer / ice both ways, `from` added by the sender's node
            await offer_answer_ice_relayed(examiner, student)

            # an SDP far above PostgreSQL NOTIFY's 8000 bytes goes through Redis whole
            big = "v=0\r\n" + "a=candidate:x\r\n" * 12000  # 180 kB, under 256 KiB
            await student.send({"type": "offer", "to": examiner.peer_id, "sdp": big})
            assert (await examiner.receive("offer", timeout=10))["sdp"] == big

            # capacity counts people on every node: a third person is refused on A
            async with client(a, cluster.token("bot")) as bot:
                import aiohttp

                async with (
                    aiohttp.ClientSession() as http,
                    http.ws_connect(a.ws_url(cluster.token("expert"))) as ws,
                ):
                    refused = json.loads((await ws.receive(timeout=10)).data)
                    assert refused["code"] == "room_full"
                    await ws.receive(timeout=10)
                    assert ws.close_code == 4409

                # the bot on A: prompt and panel reach the examiner on B, people panel the bot
                assert {p["role"] for p in bot.welcome["peers"]} == {"student", "examiner"}
                await bot.send({"type": "prompt", "to": examiner.peer_id, "text": "Начинаем"})
                assert (await examiner.receive("prompt"))["text"] == "Начинаем"
                await bot.send({"type": "prompt", "to": None, "text": "всем"})
                assert (await examiner.receive("prompt"))["from"] == bot.peer_id
                assert (await student.receive("prompt"))["text"] == "всем"
                await examiner.send({"type": "panel", "area": "checklist", "action": "next"})
                assert (await bot.receive("panel"))["from"] == examiner.peer_id
                await bot.send({"type": "panel", "area": "checklist", "action": "state"})
                assert (await examiner.receive("panel"))["action"] == "state"

                # media-state across, and recorded for welcomes made on another node
                await examiner.send({"type": "media-state", "mic": False, "cam": True})
                state = await student.receive("media-state")
                assert (state["from"], state["mic"]) == (examiner.peer_id, False)

                # the scheduler's no-show check sees people on both nodes
                people = await asyncio.to_thread(
                    PresenceStore(cluster.ctx.db).people_in, cluster.session_id
                )
                assert people == {
                    cluster.person("student"),
                    cluster.person("examiner"),
                    bot.welcome["person_id"],
                }

                # relay latency: across nodes (A -> B) and within one node (A -> A)
                across = await one_way_ms(student, examiner, examiner.peer_id, 60)
                within = await one_way_ms(student, bot, bot.peer_id, 60)
                print(
                    f"\nrelay one-way ms across nodes: median {statistics.median(across):.2f}"
                    f" p95 {sorted(across)[56]:.2f}; within a node: median"
                    f" {statistics.median(within):.2f} p95 {sorted(within)[56]:.2f}"
                )

                # the student again, now through node B: the older socket on A is replaced
                async with client(b, cluster.token("student")) as again:
                    assert await closed_with(student) == 4001
                    left = await examiner.receive("peer-left")
                    assert (left["peer_id"], left["reason"]) == (student.peer_id, "replaced")
                    assert (await bot.receive("peer-left"))["peer_id"] == student.peer_id
                    seen = {p["peer_id"]: p for p in again.welcome["peers"]}
                    assert set(seen) == {examiner.peer_id, bot.peer_id}
                    assert seen[examiner.peer_id]["mic"] is False  # from the shared record
                    assert (await bot.receive("peer-joined"))["peer"]["peer_id"] == again.peer_id


async def test_a_killed_node_is_reaped_and_its_people_reconnect(
    tmp_path: Path, database_url, redis_url
) -> None:
    async with web_nodes(tmp_path, database_url, redis_url) as cluster:
        a, b = cluster.nodes
        async with (
            client(a, cluster.token("student")) as student,
            client(a, cluster.token("bot")) as bot,
            client(b, cluster.token("examiner")) as examiner,
        ):
            assert {p["peer_id"] for p in examiner.welcome["peers"]} == {
                student.peer_id,
                bot.peer_id,
            }
            a.kill()
            killed = time.monotonic()
            gone = {}
            for _ in range(2):
                left = await examiner.receive("peer-left", timeout=TIMEOUT_S + 5)
                gone[left["peer_id"]] = left["reason"]
            reaped_after = time.monotonic() - killed
            print(f"\nnode killed: its peers left the examiner's room after {reaped_after:.2f} s")
            assert gone == {student.peer_id: "node_lost", bot.peer_id: "node_lost"}
            assert reaped_after < TIMEOUT_S + 2
            # the envelopes go out just before the reaper's transaction commits
            store = PresenceStore(cluster.ctx.db)
            for _ in range(50):
                people = await asyncio.to_thread(store.people_in, cluster.session_id)
                if people == {cluster.person("examiner")}:
                    break
                await asyncio.sleep(0.05)
            assert people == {cluster.person("examiner")}

            # the student's page reconnects through the node still up
            async with client(b, cluster.token("student")) as again:
                assert [p["peer_id"] for p in again.welcome["peers"]] == [examiner.peer_id]
                joined = await examiner.receive("peer-joined")
                assert joined["peer"]["peer_id"] == again.peer_id


async def test_media_between_a_sender_on_one_node_and_the_bot_on_the_other(
    tmp_path: Path, database_url, redis_url
) -> None:
    """Signaling through two nodes, media peer to peer: the bot (joined through node B)
    decodes the video of an aiortc sender that joined through node A."""
    from proctorbot.bot.manager import BotManager

    from tests.bot.participant import ScriptedParticipant

    async with web_nodes(tmp_path, database_url, redis_url) as cluster:
        a, b = cluster.nodes
        cluster.ctx.settings.conference.allow_loopback = True
        manager = BotManager(cluster.ctx, base_url=b.url)
        bot = await manager.join(cluster.session_id)
        student = ScriptedParticipant(a.ws_url(cluster.token("student")))
        try:
            await asyncio.wait_for(bot.joined.wait(), 15)
            await student.join()
            assert [p["role"] for p in student.welcome["peers"]] == ["bot"]
            await asyncio.wait_for(student.connected.wait(), 20)
            frames = bot.video_frames(student.welcome["peer_id"], fps=5)
            t, frame = await asyncio.wait_for(anext(frames), 15)
            await frames.aclose()
            assert frame.shape == (240, 320, 3) and frame.any()
        finally:
            await student.leave()
            await manager.leave(cluster.session_id)
