"""aiortc peers of a Janus VideoRoom for tests: a publisher (synthetic VP8 + Opus) and a
receive-only subscriber, both gathering ICE on the fixture's veth address only."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from proctorbot.bot.loopback import restrict_to_address
from proctorbot.conference.janus import videoroom
from proctorbot.conference.janus.client import JanusClient, JanusHandle, JanusSession

from tests.bot.participant import PatternVideoTrack, PcmAudioTrack
from tests.conference.janus_fixture import JANUS_ICE_ADDRESS


def jsep(pc: RTCPeerConnection) -> dict[str, str]:
    return {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp}


@dataclass
class JanusPublisher:
    """An aiortc sender published into a room under ``display`` (a participant key)."""

    session: JanusSession
    handle: JanusHandle
    pc: RTCPeerConnection
    feed_id: int
    video: PatternVideoTrack
    audio: PcmAudioTrack

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.handle.detach()
        await self.pc.close()


async def publish(
    client: JanusClient,
    room: int,
    display: str,
    *,
    address: str = JANUS_ICE_ADDRESS,
    fps: int = 15,
    size: tuple[int, int] = (320, 240),
) -> JanusPublisher:
    session = await client.create_session()
    handle = await session.attach()
    joined = await videoroom.join_as_publisher(handle, room, display)
    video = PatternVideoTrack(*size, fps=fps)
    audio = PcmAudioTrack()
    pc = RTCPeerConnection()
    pc.addTransceiver(audio, direction="sendonly")
    pc.addTransceiver(video, direction="sendonly")
    restrict_to_address(pc, address)
    await pc.setLocalDescription(await pc.createOffer())
    answer = await videoroom.publish(handle, jsep(pc))
    await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
    return JanusPublisher(session, handle, pc, joined.id, video, audio)


@dataclass
class JanusSubscriber:
    """A receive-only aiortc peer on one feed; counts the frames it decodes per kind."""

    session: JanusSession
    handle: JanusHandle
    pc: RTCPeerConnection
    frames: dict[str, int] = field(default_factory=lambda: {"audio": 0, "video": 0})
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def _count(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                self.frames[track.kind] += 1

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await self.handle.detach()
        await self.pc.close()


async def subscribe(
    client: JanusClient, room: int, feed: int, *, address: str = JANUS_ICE_ADDRESS
) -> JanusSubscriber:
    session = await client.create_session()
    handle = await session.attach()
    reply = await videoroom.subscribe(handle, room, feed)
    pc = RTCPeerConnection()
    subscriber = JanusSubscriber(session, handle, pc)

    @pc.on("track")
    def _track(track: Any) -> None:
        subscriber.tasks.append(asyncio.create_task(subscriber._count(track)))

    offer = reply.jsep
    assert offer is not None
    await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], offer["type"]))
    restrict_to_address(pc, address)
    await pc.setLocalDescription(await pc.createAnswer())
    await videoroom.start(handle, jsep(pc))
    return subscriber
