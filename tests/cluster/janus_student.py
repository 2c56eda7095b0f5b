"""An aiortc participant of a call in Janus mode, through our signaling only.

It does what the call page does when ``welcome`` says ``media: "janus"``: one sendonly
peer connection (synthetic VP8 + Opus) offered as ``publish``, the ``publish-answer``
set, nothing subscribed. When its WebSocket drops (its web node was killed) it connects
again through the same URL — the balancer — and publishes again on the new ``welcome``,
as the page does. ICE gathers on the test's veth address only (Janus refuses loopback).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import numpy as np
from aiortc import RTCPeerConnection, RTCSessionDescription
from proctorbot.bot.loopback import restrict_to_address

from tests.bot.participant import PatternVideoTrack, PcmAudioTrack

RECONNECT_DELAY_S = 0.5


def room_noise() -> PcmAudioTrack:
    """Quiet noise, no tone: the hand-over's Whisper pass has no speech to chew on (a
    30-s 440 Hz tone kept it busy for two minutes)."""
    noise = np.random.default_rng(1).integers(-60, 60, 48000)
    return PcmAudioTrack(noise.astype(np.int16))


@dataclass
class JanusStudent:
    ws_url: str  # ws://<balancer>/ws?t=<token>
    address: str  # the veth address ICE gathers on
    welcomes: list[dict[str, Any]] = field(default_factory=list)
    published: list[float] = field(default_factory=list)  # when each publish-answer came
    drops: list[float] = field(default_factory=list)  # when its socket dropped
    errors: list[dict[str, Any]] = field(default_factory=list)
    video: PatternVideoTrack = field(default_factory=PatternVideoTrack)
    audio: PcmAudioTrack = field(default_factory=room_noise)
    _pc: RTCPeerConnection | None = None
    _task: asyncio.Task[None] | None = None
    _leaving: bool = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="janus-student")

    async def leave(self) -> None:
        self._leaving = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._close_pc()

    async def wait_published(self, count: int = 1, timeout: float = 40.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.published) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"not published {count}x in {timeout:.0f} s: welcomes {len(self.welcomes)},"
                    f" errors {self.errors[-3:]}"
                )
            await asyncio.sleep(0.1)

    async def _close_pc(self) -> None:
        if self._pc is not None:
            with contextlib.suppress(Exception):
                await self._pc.close()
            self._pc = None

    async def _run(self) -> None:
        async with aiohttp.ClientSession() as http:
            while not self._leaving:
                try:
                    async with http.ws_connect(self.ws_url, heartbeat=5.0) as ws:
                        await self._talk(ws)
                except (aiohttp.ClientError, ConnectionError, OSError):
                    pass
                if self._leaving:
                    return
                self.drops.append(time.time())
                await asyncio.sleep(RECONNECT_DELAY_S)

    async def _talk(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            message = json.loads(msg.data)
            kind = message.get("type")
            if kind == "welcome":
                self.welcomes.append(message)
                await self._publish(ws)
            elif kind == "publish-answer" and self._pc is not None:
                answer = RTCSessionDescription(sdp=message["sdp"], type="answer")
                await self._pc.setRemoteDescription(answer)
                self.published.append(time.time())
            elif kind == "error":
                self.errors.append(message)

    async def _publish(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        await self._close_pc()  # a new welcome: a new publication, as the page does
        pc = RTCPeerConnection()
        pc.addTransceiver(self.audio, direction="sendonly")
        pc.addTransceiver(self.video, direction="sendonly")
        restrict_to_address(pc, self.address)
        await pc.setLocalDescription(await pc.createOffer())
        self._pc = pc
        await ws.send_str(json.dumps({"type": "publish", "sdp": pc.localDescription.sdp}))
