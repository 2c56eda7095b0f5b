"""A scripted participant made of real aiortc senders, for tests and the benchmark.

It speaks the signaling protocol like the call page does (later joiner offers, the
other answers), but only connects to the bot, and counts every frame it hands to
aiortc's encoders (``frames_sent``). ICE is loopback only.
"""

from __future__ import annotations

import asyncio
import fractions
import json
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import av
import numpy as np
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AUDIO_PTIME, MediaStreamTrack
from proctorbot.bot.loopback import loopback_only_sdp, restrict_to_loopback


def moving_pattern(width: int, height: int, count: int) -> list[np.ndarray]:
    """Frames with a moving bar and noise, so VP8 has real work to do."""
    rng = np.random.default_rng(7)
    base = (rng.random((height, width, 3)) * 60).astype(np.uint8)
    frames = []
    for i in range(count):
        frame = base.copy()
        x = (i * 8) % width
        frame[:, x : x + 24] = (0, 200, 255)
        frame[(i * 4) % height : (i * 4) % height + 16, :] = (255, 255, 255)
        frames.append(frame)
    return frames


async def wait_turn(track: Any, period: float) -> None:
    """Pace frames in real time; while paused hand nothing to the encoder, then go on."""
    now = time.time()
    if track._start is None:
        track._start = track._origin = now
        track._counted = 0
    due = track._start + (track.frames_sent - track._counted) * period
    await asyncio.sleep(max(0.0, due - now))
    if not track.running:
        paused = time.time()
        while not track.running:
            await asyncio.sleep(0.02)
        track._paused += time.time() - paused  # a capture clock runs on while paused
        track._start, track._counted = time.time(), track.frames_sent  # resume from now


def capture_pts(track: Any, period: float, clock: int) -> int:
    """Timestamp of the next frame on the source's own clock (pauses show as jumps)."""
    return round((track.frames_sent * period + track._paused) * clock)


class PatternVideoTrack(MediaStreamTrack):
    kind = "video"

    def __init__(self, width: int = 320, height: int = 240, fps: int = 15) -> None:
        super().__init__()
        self.fps = fps
        self.frames_sent = 0
        self.running = True
        self._images = moving_pattern(width, height, 30)
        self._start: float | None = None
        self._origin = 0.0
        self._counted = 0
        self._paused = 0.0

    async def recv(self) -> av.VideoFrame:
        await wait_turn(self, 1.0 / self.fps)
        frame = av.VideoFrame.from_ndarray(self._images[self.frames_sent % 30], format="bgr24")
        frame.pts = capture_pts(self, 1.0 / self.fps, 90000)
        frame.time_base = fractions.Fraction(1, 90000)
        self.frames_sent += 1
        return frame


class PcmAudioTrack(MediaStreamTrack):
    """Plays int16 mono 48 kHz samples in 20 ms frames, looping."""

    kind = "audio"

    def __init__(self, samples: np.ndarray | None = None) -> None:
        super().__init__()
        if samples is None:
            t = np.arange(48000) / 48000
            samples = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
        self.samples = samples.astype(np.int16)
        self.frames_sent = 0
        self.running = True
        self._start: float | None = None
        self._origin = 0.0
        self._counted = 0
        self._paused = 0.0

    async def recv(self) -> av.AudioFrame:
        await wait_turn(self, AUDIO_PTIME)
        n = int(48000 * AUDIO_PTIME)
        offset = (self.frames_sent * n) % len(self.samples)
        chunk = np.resize(np.roll(self.samples, -offset)[:n], n)
        frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = 48000
        frame.pts = capture_pts(self, AUDIO_PTIME, 48000)
        frame.time_base = fractions.Fraction(1, 48000)
        self.frames_sent += 1
        return frame


@dataclass
class ScriptedParticipant:
    ws_url: str
    fps: int = 15
    size: tuple[int, int] = (320, 240)
    audio_samples: np.ndarray | None = None
    welcome: dict[str, Any] = field(default_factory=dict)
    video: PatternVideoTrack | None = None
    audio: PcmAudioTrack | None = None

    def __post_init__(self) -> None:
        self.inbox: list[dict[str, Any]] = []  # every other message (prompt, panel, ...)
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._pcs: dict[str, RTCPeerConnection] = {}
        self._reader: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        self.video = PatternVideoTrack(*self.size, fps=self.fps)
        self.audio = PcmAudioTrack(self.audio_samples)

    @property
    def frames_sent(self) -> int:
        return self.video.frames_sent + self.audio.frames_sent  # type: ignore[union-attr]

    async def join(self) -> None:
        self._http = aiohttp.ClientSession()
        self._ws = await self._http.ws_connect(self.ws_url)
        self.welcome = json.loads((await self._ws.receive(timeout=10)).data)
        assert self.welcome["type"] == "welcome", self.welcome
        for peer in self.welcome["peers"]:
            if peer["role"] == "bot":
                await self._offer(peer["peer_id"])
        self._reader = asyncio.create_task(self._read())

    def _new_pc(self, peer_id: str) -> RTCPeerConnection:
        pc = RTCPeerConnection()
        pc.addTrack(self.video)
        pc.addTrack(self.audio)
        self._pcs[peer_id] = pc

        @pc.on("connectionstatechange")
        def _changed() -> None:
            if pc.connectionState == "connected":
                self.connected.set()

        return pc

    async def _offer(self, peer_id: str) -> None:
        pc = self._new_pc(peer_id)
        restrict_to_loopback(pc)
        await pc.setLocalDescription(await pc.createOffer())
        await self._send({"type": "offer", "to": peer_id, "sdp": pc.localDescription.sdp})

    async def _send(self, message: dict[str, Any]) -> None:
        assert self._ws is not None
        await self._ws.send_str(json.dumps(message))

    async def _read(self) -> None:
        assert self._ws is not None
        async for msg in self._ws:
            message = json.loads(msg.data)
            sender = message.get("from")
            if message["type"] == "offer":
                pc = self._new_pc(sender)
                await pc.setRemoteDescription(
                    RTCSessionDescription(loopback_only_sdp(message["sdp"]), "offer")
                )
                restrict_to_loopback(pc)
                await pc.setLocalDescription(await pc.createAnswer())
                await self._send({"type": "answer", "to": sender, "sdp": pc.localDescription.sdp})
            elif message["type"] == "answer" and sender in self._pcs:
                await self._pcs[sender].setRemoteDescription(
                    RTCSessionDescription(loopback_only_sdp(message["sdp"]), "answer")
                )
            else:
                self.inbox.append(message)

    async def send_panel(self, area: str, action: str, data: Any) -> None:
        await self._send({"type": "panel", "area": area, "action": action, "data": data})

    def pause_media(self) -> None:
        """Stop handing frames to the encoders (the counts freeze)."""
        self.video.running = False  # type: ignore[union-attr]
        self.audio.running = False  # type: ignore[union-attr]

    def resume_media(self) -> None:
        self.video.running = True  # type: ignore[union-attr]
        self.audio.running = True  # type: ignore[union-attr]

    async def leave(self) -> None:
        self.pause_media()
        if self._reader is not None:
            self._reader.cancel()
        for pc in self._pcs.values():
            await pc.close()
        if self._ws is not None:
            await self._ws.close()
        if self._http is not None:
            await self._http.close()
