"""Headless Chromium through a real Janus (``conference.mode = "janus"``): the student and the
examiner each publish once and see each other by subscription (conference/janus_bridge.py),
the bot (a real SessionBot in janus mode) records the student's camera and microphone from
the same room, a leave removes the tile and the Janus handles, an expert's camera switched on
later reaches the student, and a dropped socket comes back publishing anew.

Janus runs in the test's loopback-only namespace on the fixture's veth pair (10.77.0.1):
Chromium's host candidate on that address is the one Janus accepts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from proctorbot.bot.manager import bot_signaling_url
from proctorbot.bot.session_bot import SessionBot
from proctorbot.conference.janus import videoroom
from proctorbot.conference.janus.client import JanusClient
from proctorbot.conference.janus.placement import JanusRooms
from proctorbot.conference.janus_bridge import JANUS_BRIDGE
from proctorbot.conference.keys import ROOMS

from tests.browser_helpers import (
    CHROMIUM,
    launch_chromium,
    make_fake_media,
    open_call,
    serve_app,
    wait_remote_video,
)
from tests.conference import janus_fixture
from tests.conference.janus_fixture import JANUS_ICE_ADDRESS, JanusProcess

janus_network = janus_fixture.janus_network
janus_factory = janus_fixture.janus_factory
janus = janus_fixture.janus

pytestmark = [pytest.mark.browser, pytest.mark.timeout(150)]


@pytest.fixture
async def janus_server(app_context, janus: JanusProcess):
    app_context.settings.conference.mode = "janus"
    app_context.settings.janus.urls = [janus.url]
    app_context.settings.janus.bot_ice_address = JANUS_ICE_ADDRESS
    async with serve_app(app_context) as server:
        yield server


@pytest.fixture
async def chromium_pw(janus: JanusProcess) -> AsyncIterator[Any]:
    """Playwright in the Janus fixture's namespace (lo and the veth pair only: checked by
    the fixture, so the loopback-only check of browser_helpers does not apply)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        yield pw


# A moving canvas sent by source.js as the student's "screen" device; its peer id.
SHARE_A_CANVAS = """async () => {
  const canvas = document.createElement("canvas");
  canvas.width = 320; canvas.height = 180;
  const g = canvas.getContext("2d");
  let n = 0;
  setInterval(() => { g.fillStyle = `hsl(${(n += 7) % 360} 80% 50%)`; g.fillRect(0, 0, 320, 180); }, 66);
  const track = canvas.captureStream(15).getVideoTracks()[0];
  const source = window.ProctorSource.create({
    token: window.proctorbot.token, wsPath: "/ws", device: "screen", track,
  });
  window.__screen = source.start();
  while (!source.peerId) await new Promise((r) => setTimeout(r, 50));
  return source.peerId;
}"""


async def frames_decoded(page: Any, peer_id: str) -> int:
    stats = await page.evaluate("(id) => window.proctorbot.stats(id)", peer_id)
    return (stats.get("video") or {}).get("framesDecoded", 0)


async def wait_frames_grow(page: Any, peer_id: str, timeout_s: float = 20.0) -> int:
    """framesDecoded of `peer_id`'s feed on `page` grows (read twice, 1 s apart)."""
    async with asyncio.timeout(timeout_s):
        while True:
            first = await frames_decoded(page, peer_id)
            if first > 0:
                await asyncio.sleep(1.0)
                second = await frames_decoded(page, peer_id)
                if second > first:
                    return second
            await asyncio.sleep(0.3)


async def test_student_and_examiner_through_janus(
    janus_server, janus: JanusProcess, fake_media, chromium_pw, tmp_path: Path
) -> None:
    examiner_media = make_fake_media(tmp_path / "examiner", text="Добрый день.", name="examiner")
    ctx, sid = janus_server.ctx, janus_server.session_id
    bridge = janus_server.app[JANUS_BRIDGE]
    # The bot, as the BotManager runs it in janus mode: it follows the room by itself.
    bot = SessionBot(
        sid,
        bot_signaling_url(ctx, sid, janus_server.url),
        ctx.settings,
        janus_place=JanusRooms(ctx.db, ctx.settings),
    )
    bot_task = asyncio.create_task(bot.run())
    student_browser = await launch_chromium(chromium_pw, fake_media)
    examiner_browser = await launch_chromium(chromium_pw, examiner_media)
    try:
        assert bot.janus is not None
        await asyncio.wait_for(bot.janus.joined.wait(), 15)
        student = await open_call(student_browser, janus_server.link("student"))
        examiner = await open_call(examiner_browser, janus_server.link("examiner"))
        student_id = await student.evaluate("window.proctorbot.peerId")
        examiner_id = await examiner.evaluate("window.proctorbot.peerId")
        assert bot.peer_id is not None and bot.peer_id not in bridge.media  # not bridged

        # Each sees the other's video, by subscription, and the stats by peer id grow.
        assert (await wait_remote_video(examiner, "student"))["width"] == 320
        assert (await wait_remote_video(student, "examiner"))["width"] > 0
        assert await wait_frames_grow(examiner, student_id) > 0
        assert await wait_frames_grow(student, examiner_id) > 0
        assert set(bridge.media[student_id].subscriptions) == {examiner_id}
        assert set(bridge.media[examiner_id].subscriptions) == {student_id}
        # ... one upload each: one publisher connection, one receiving one per feed.
        for page, other in ((student, examiner_id), (examiner, student_id)):
            assert await page.evaluate("window.proctorbot.peers().length") == 2  # + the bot
            heard = await page.evaluate("(id) => window.proctorbot.stats(id)", other)
            assert heard["audio"]["bytesReceived"] > 0

        # The bot records the student's camera and microphone from the same room.
        async with asyncio.timeout(20):
            while bot.sources_recording(student_id, 1.0) != {"camera": True, "microphone": True}:
                await asyncio.sleep(0.2)

        # A second source of the student (source.js, as the screen share sends it):
        # published once, the examiner receives it, the student's own page does not.
        screen_id = await student.evaluate(SHARE_A_CANVAS)
        await examiner.wait_for_function(
            "(id) => window.proctorbot.peers().some((p) => p.peer_id === id)", arg=screen_id
        )
        assert await wait_frames_grow(examiner, screen_id) > 0
        assert screen_id in bridge.media[examiner_id].subscriptions
        assert screen_id not in bridge.media[student_id].subscriptions
        await student.evaluate("window.__screen.stop()")
        await examiner.wait_for_function(
            "(id) => !window.proctorbot.peers().some((p) => p.peer_id === id)", arg=screen_id
        )

        # The examiner leaves: its tile goes, and its Janus handles with it.
        room_id = bridge.media[student_id].place.room
        await examiner.click("#leave")
        await student.wait_for_function(
            """() => !document.querySelector('.tile.remote[data-role="examiner"]')"""
        )
        async with asyncio.timeout(10):
            while examiner_id in bridge.media or bridge.media[student_id].subscriptions:
                await asyncio.sleep(0.1)
        async with JanusClient(janus.url) as client:
            admin = await (await client.create_session()).attach()
            left = {p.display for p in await videoroom.list_participants(admin, room_id)}
        assert student_id in left and examiner_id not in left

        # An expert joins with camera and microphone off (published, nothing sent);
        # switching the camera on is a replaceTrack: the student sees it through Janus.
        expert = await open_call(examiner_browser, janus_server.link("expert"))
        assert await expert.evaluate("window.proctorbot.media()") == {"mic": False, "cam": False}
        await expert.click("#toggle-cam")
        assert (await wait_remote_video(student, "expert"))["width"] > 0

        # The student's socket drops: the page comes back with a new peer id, publishes
        # anew, and the expert receives it again; the old Janus session is gone.
        room = janus_server.app[ROOMS].get(sid)
        await room.peers[student_id].ws.close(code=1011, message=b"test drop")
        await student.wait_for_function(
            f"window.proctorbot.peerId && window.proctorbot.peerId !== {student_id!r}"
        )
        again = await student.evaluate("window.proctorbot.peerId")
        assert await wait_frames_grow(expert, again) > 0
        assert student_id not in bridge.media
    finally:
        await student_browser.close()
        await examiner_browser.close()
        await bot.stop()
        await asyncio.wait_for(bot_task, 30)
