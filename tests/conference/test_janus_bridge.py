"""conference/janus_bridge.py: who sees whom (as in the mesh), and the signaling of the Janus
mode against a real Janus with aiortc pages (no browser): publish once, one subscription per
feed a peer may see, the screen only to the watchers, a leave detaching the handles, and
Janus unreachable said in an ``error``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from proctorbot.bot.loopback import restrict_to_address
from proctorbot.conference.janus_bridge import JANUS_BRIDGE, sees
from proctorbot.conference.rooms import Peer

from tests.bot.participant import PatternVideoTrack, PcmAudioTrack
from tests.browser_helpers import SignalingClient, serve_app, signaling_client
from tests.conference import janus_fixture
from tests.conference.janus_fixture import JANUS_ICE_ADDRESS, JanusProcess, free_port

janus_network = janus_fixture.janus_network
janus_factory = janus_fixture.janus_factory
janus = janus_fixture.janus

pytestmark = pytest.mark.timeout(90)


def peer(role: str, person: str, device: str = "main") -> Peer:
    return Peer(f"{role}-{person}-{device}", role, person, person, ws=None, device=device)  # type: ignore[arg-type]


def test_who_sees_whom_is_the_mesh_rule() -> None:
    student, examiner = peer("student", "s"), peer("examiner", "e")
    screen, phone = peer("student", "s", "screen"), peer("student", "s", "phone")
    expert, bot = peer("expert", "x"), peer("bot", "b")
    assert sees(student, examiner) and sees(examiner, student) and sees(expert, student)
    assert sees(examiner, screen) and sees(expert, phone)
    assert not sees(student, screen) and not sees(student, phone)  # own other devices
    assert not sees(screen, examiner) and not sees(phone, student)  # sources receive nothing
    assert not sees(bot, student) and not sees(student, bot)  # the bot subscribes itself
    assert not sees(student, student)


@dataclass
class AiortcPage:
    """A call page's Janus side in aiortc: one sendonly publication, one recvonly per feed."""

    client: SignalingClient
    publisher: RTCPeerConnection = field(default_factory=RTCPeerConnection)
    feeds: dict[str, RTCPeerConnection] = field(default_factory=dict)
    frames: dict[str, int] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def publish(self, *, audio: bool = True) -> None:
        if audio:
            self.publisher.addTransceiver(PcmAudioTrack(), direction="sendonly")
        self.publisher.addTransceiver(PatternVideoTrack(), direction="sendonly")
        restrict_to_address(self.publisher, JANUS_ICE_ADDRESS)
        await self.publisher.setLocalDescription(await self.publisher.createOffer())
        await self.client.send({"type": "publish", "sdp": self.publisher.localDescription.sdp})
        answer = await self.client.receive("publish-answer", timeout=10)
        await self.publisher.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))

    async def accept_feed(self, timeout: float = 10) -> str:
        """The next subscribe-offer answered; the feed's peer id."""
        offer = await self.client.receive("subscribe-offer", timeout=timeout)
        feed = offer["feed"]
        pc = self.feeds[feed] = RTCPeerConnection()
        self.frames[feed] = 0

        @pc.on("track")
        def _track(track: Any) -> None:
            if track.kind == "video":
                self.tasks.append(asyncio.create_task(self._count(feed, track)))

        await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
        restrict_to_address(pc, JANUS_ICE_ADDRESS)
        await pc.setLocalDescription(await pc.createAnswer())
        await self.client.send(
            {"type": "subscribe-answer", "feed": feed, "sdp": pc.localDescription.sdp}
        )
        return feed

    async def _count(self, feed: str, track: Any) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                self.frames[feed] += 1

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for pc in [self.publisher, *self.feeds.values()]:
            await pc.close()


@contextlib.asynccontextmanager
async def aiortc_page(server: Any, role: str, device: str = "") -> AsyncIterator[AiortcPage]:
    token = server.token(role) + (f"&device={device}" if device else "")
    async with signaling_client(server, role, token=token) as client:
        page = AiortcPage(client)
        try:
            yield page
        finally:
            await page.close()


@pytest.fixture
async def janus_server(app_context, janus: JanusProcess):
    app_context.settings.conference.mode = "janus"
    app_context.settings.janus.urls = [janus.url]
    async with serve_app(app_context) as server:
        yield server


async def wait_for(condition: Any, what: str, timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.1)


async def test_publish_once_and_subscribe_by_the_mesh_rule(janus_server) -> None:
    bridge = janus_server.app[JANUS_BRIDGE]
    async with (
        aiortc_page(janus_server, "student") as student,
        aiortc_page(janus_server, "examiner") as examiner,
    ):
        assert student.client.welcome["media"] == "janus"
        await student.publish()
        await examiner.publish()
        assert await examiner.accept_feed() == student.client.peer_id
        assert await student.accept_feed() == examiner.client.peer_id
        await wait_for(
            lambda: (
                examiner.frames[student.client.peer_id] > 5
                and student.frames[examiner.client.peer_id] > 5
            ),
            "video both ways through Janus",
        )

        # The student's screen: the examiner is offered it, the student's own page is not.
        async with aiortc_page(janus_server, "student", "screen") as screen:
            await screen.publish(audio=False)
            assert await examiner.accept_feed() == screen.client.peer_id
            await wait_for(lambda: examiner.frames[screen.client.peer_id] > 5, "the screen")
            assert screen.client.peer_id not in bridge.media[student.client.peer_id].subscriptions
            assert not screen.client.inbox or all(
                m["type"] != "subscribe-offer" for m in screen.client.inbox
            )
        # The screen left: the examiner's subscription to it is detached.
        await wait_for(
            lambda: (
                screen.client.peer_id not in bridge.media[examiner.client.peer_id].subscriptions
            ),
            "the screen's subscription gone",
        )
        assert set(bridge.media[examiner.client.peer_id].subscriptions) == {student.client.peer_id}
    await wait_for(lambda: not bridge.media, "every Janus session closed")


async def test_janus_unreachable_is_said_in_an_error(app_context, janus_network) -> None:
    app_context.settings.conference.mode = "janus"
    app_context.settings.janus.urls = [f"http://127.0.0.1:{free_port()}/janus"]
    async with serve_app(app_context) as server, signaling_client(server, "student") as student:
        error = await student.receive("error", timeout=15)
        assert error["code"] == "janus_unavailable"
        await student.send({"type": "publish", "sdp": "v=0"})
        assert (await student.receive("error"))["code"] == "janus_unavailable"
        # the call's signaling goes on: prompts and panels still pass
        await student.send({"type": "media-state", "mic": True, "cam": False})
