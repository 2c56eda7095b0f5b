"""An aiortc participant whose media to the bot outlives its signaling, like a phone on a
train: the camera and microphone of tests/bot/participant.py, one peer connection to the
bot, and a WebSocket that reconnects by itself when the server goes away.

* The socket drops (the server was killed): the peer connection is kept, the socket
  reconnects every ``retry_s``.
* A ``welcome`` that lists a bot while a connection to a bot is still up: that
  connection is the same bot's (its media never stopped), nothing is offered again.
  Without a live connection it offers, as the later joiner does.
* An ``offer`` from a bot (a new bot process joined): answered on a fresh connection,
  and any connection to an earlier bot is closed (its senders would share the tracks).
* ``peer-left`` of the bot it is connected to (the bot was killed): that connection closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import aiohttp
from aiortc import RTCPeerConnection, RTCSessionDescription
from proctorbot.bot.loopback import loopback_only_sdp, restrict_to_loopback

from tests.bot.participant import PatternVideoTrack, PcmAudioTrack


class SteadyParticipant:
    def __init__(self, ws_url: str, *, retry_s: float = 0.3) -> None:
        self.ws_url = ws_url
        self.retry_s = retry_s
        self.video = PatternVideoTrack(320, 240, fps=15)
        self.audio = PcmAudioTrack()
        self.pcs: dict[str, RTCPeerConnection] = {}
        self.connected = asyncio.Event()
        self.signaling_up = asyncio.Event()
        self.welcomes: list[dict[str, Any]] = []
        self.offers_made = 0
        self.drops: list[float] = []  # when the socket dropped
        self._leaving = False
        self._task: asyncio.Task[None] | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="steady-participant")

    async def leave(self) -> None:
        self._leaving = True
        self.video.running = self.audio.running = False
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for pc in list(self.pcs.values()):
            await pc.close()

    def bot_connected(self) -> bool:
        return any(pc.connectionState == "connected" for pc in self.pcs.values())

    async def _run(self) -> None:
        async with aiohttp.ClientSession() as http:
            while not self._leaving:
                try:
                    async with http.ws_connect(self.ws_url, heartbeat=2.0) as ws:
                        self._ws = ws
                        self.signaling_up.set()
                        async for msg in ws:
                            if msg.type == aiohttp.WSMsgType.TEXT:
                                await self._handle(json.loads(msg.data))
                except (aiohttp.ClientError, OSError, TimeoutError):
                    pass
                self._ws = None
                if self.signaling_up.is_set():
                    self.signaling_up.clear()
                    self.drops.append(time.time())
                await asyncio.sleep(self.retry_s)

    async def _send(self, message: dict[str, Any]) -> None:
        if self._ws is not None and not self._ws.closed:
            await self._ws.send_str(json.dumps(message))

    async def _handle(self, message: dict[str, Any]) -> None:
        kind, sender = message.get("type"), message.get("from")
        if kind == "welcome":
            self.welcomes.append(message)
            for peer in message["peers"]:
                if peer["role"] == "bot":
                    await self._bot_listed(peer["peer_id"])
        elif kind == "offer" and sender:
            await self._answer(sender, message["sdp"])
        elif kind == "answer" and sender in self.pcs:
            await self.pcs[sender].setRemoteDescription(
                RTCSessionDescription(loopback_only_sdp(message["sdp"]), "answer")
            )
        elif kind == "peer-left" and message.get("peer_id") in self.pcs:
            await self.pcs.pop(message["peer_id"]).close()

    async def _bot_listed(self, bot_id: str) -> None:
        if bot_id in self.pcs:
            return
        live = [pid for pid, pc in self.pcs.items() if pc.connectionState == "connected"]
        if live:  # the same bot after the signaling came back: its media never stopped
            self.pcs[bot_id] = self.pcs.pop(live[0])
            return
        pc = self._new_pc(bot_id)
        restrict_to_loopback(pc)
        await pc.setLocalDescription(await pc.createOffer())
        self.offers_made += 1
        await self._send({"type": "offer", "to": bot_id, "sdp": pc.localDescription.sdp})

    async def _answer(self, sender: str, sdp: str) -> None:
        for old in [pid for pid in self.pcs if pid != sender]:
            await self.pcs.pop(old).close()  # an earlier bot's connection
        if sender in self.pcs:
            await self.pcs.pop(sender).close()
        pc = self._new_pc(sender)
        await pc.setRemoteDescription(RTCSessionDescription(loopback_only_sdp(sdp), "offer"))
        restrict_to_loopback(pc)
        await pc.setLocalDescription(await pc.createAnswer())
        await self._send({"type": "answer", "to": sender, "sdp": pc.localDescription.sdp})

    def _new_pc(self, peer_id: str) -> RTCPeerConnection:
        pc = RTCPeerConnection()
        pc.addTrack(self.video)
        pc.addTrack(self.audio)
        self.pcs[peer_id] = pc

        @pc.on("connectionstatechange")
        def _changed() -> None:
            if pc.connectionState == "connected":
                self.connected.set()

        return pc
