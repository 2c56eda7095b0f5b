"""conference/janus/client.py + videoroom.py against a real Janus (tests/conference/janus_fixture.py):
a room made, an aiortc sender publishing VP8 + Opus, a receive-only subscriber decoding both,
publisher events, and Janus's errors in words."""

from __future__ import annotations

import asyncio

import pytest
from proctorbot.conference.janus import videoroom
from proctorbot.conference.janus.client import (
    JanusApiError,
    JanusClient,
    JanusPluginError,
    JanusUnreachable,
)

from tests.conference import janus_fixture
from tests.conference.janus_fixture import JanusProcess, free_port
from tests.conference.janus_peers import publish, subscribe

janus_network = janus_fixture.janus_network
janus_factory = janus_fixture.janus_factory
janus = janus_fixture.janus

pytestmark = pytest.mark.timeout(90)


async def wait_until(condition, timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def test_publish_and_subscribe_through_a_videoroom(janus: JanusProcess) -> None:
    async with JanusClient(janus.url) as client:
        info = await client.info()
        assert "janus.plugin.videoroom" in info["plugins"]
        admin = await (await client.create_session()).attach()
        room = await videoroom.create_room(admin, 4101, description="exam 1")
        assert await videoroom.room_exists(admin, room)
        assert any(r.room == room for r in await videoroom.list_rooms(admin))

        # A receive-only participant joined first learns of the publisher by an event.
        watcher = await (await client.create_session()).attach()
        joined = await videoroom.join_as_publisher(watcher, room, "bot-x")
        assert joined.publishers == ()

        sender = await publish(client, room, "student-7-main")
        event = await watcher.next_event(timeout=10)
        assert event is not None
        changes = videoroom.publisher_changes(event.data, my_id=joined.id)
        assert [p.display for p in changes.published] == ["student-7-main"]
        assert changes.published[0].kinds == {"audio", "video"}
        assert changes.published[0].id == sender.feed_id

        people = await videoroom.list_participants(admin, room)
        assert {(p.display, p.publisher) for p in people} == {
            ("student-7-main", True),
            ("bot-x", False),
        }

        receiver = await subscribe(client, room, sender.feed_id)
        await wait_until(
            lambda: receiver.frames["video"] >= 15 and receiver.frames["audio"] >= 50,
            20,
            f"frames through Janus (got {receiver.frames})",
        )
        assert sender.video.frames_sent > 0

        await sender.close()
        gone: set[int] = set()
        while sender.feed_id not in gone:
            event = await watcher.next_event(timeout=10)
            assert event is not None
            gone |= set(videoroom.publisher_changes(event.data).gone)
        await receiver.close()
        await videoroom.destroy_room(admin, room)
        assert not await videoroom.room_exists(admin, room)


async def test_errors_in_words(janus_factory) -> None:
    guarded = janus_factory(api_secret="s3cret")
    async with JanusClient(guarded.url) as client:
        with pytest.raises(JanusApiError) as refused:
            await client.create_session()
        assert refused.value.code == 403
        assert "wrong or missing api_secret" in str(refused.value)
    async with JanusClient(guarded.url, api_secret="s3cret") as client:
        handle = await (await client.create_session()).attach()
        with pytest.raises(JanusPluginError) as missing:
            await videoroom.subscribe(handle, 999_999, 1)
        assert missing.value.code == 426
        assert "no such room" in str(missing.value)
        await videoroom.create_room(handle, 77)
        with pytest.raises(JanusPluginError, match="already exists"):
            await videoroom.create_room(handle, 77)
    async with JanusClient(f"http://127.0.0.1:{free_port()}/janus") as client:
        with pytest.raises(JanusUnreachable, match="did not answer"):
            await client.create_session()


async def test_a_janus_that_dies_closes_the_session_and_its_handles(janus_factory) -> None:
    doomed = janus_factory()
    async with JanusClient(doomed.url) as client:
        session = await client.create_session()
        handle = await session.attach()
        waiting = asyncio.create_task(handle.next_event())
        doomed.stop()
        await asyncio.wait_for(session.closed.wait(), 15)
        assert "unreachable" in session.close_reason
        assert await asyncio.wait_for(waiting, 5) is None  # the handle's reader is told
        with pytest.raises(JanusUnreachable):
            await handle.message({"request": "list"})
