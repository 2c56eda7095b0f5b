"""The bot's receive-only RTCPeerConnection to one participant.

Each remote track is tapped at the RTP receiver (recording/receiver_tap.py) the
moment aiortc announces it, so frames go to the recorder exactly as encoded. The
bot never adds a track: its offers and answers are ``recvonly``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamTrack
from aiortc.sdp import candidate_from_sdp
from proctorbot.bot.loopback import is_loopback_candidate, loopback_only_sdp, restrict_to_loopback
from proctorbot.bot.peers import PeerInfo
from proctorbot.recording.receiver_tap import ReceivedTrack

logger = logging.getLogger(__name__)

SendMessage = Callable[[dict[str, Any]], Awaitable[None]]
TrackStarted = Callable[["PeerLink", ReceivedTrack], None]


class NegotiationError(Exception):
    """The peer sent something the bot cannot use (corrupt SDP, bad candidate)."""


def ice_configuration(welcome: dict[str, Any]) -> RTCConfiguration:
    """The RTCConfiguration a signaling ``welcome`` asks for: its ``ice_servers`` (STUN,
    and TURN with credentials made for this connection: a reconnect's welcome brings
    fresh ones) and its ``ice_transport_policy`` ("relay": TURN candidates only, which
    aioice honours). An entry that is not a dict with ``urls`` is left out."""
    servers = []
    for raw in welcome.get("ice_servers") or []:
        if not isinstance(raw, dict) or not raw.get("urls"):
            continue
        servers.append(
            RTCIceServer(
                urls=raw["urls"],
                username=raw.get("username"),
                credential=raw.get("credential"),
            )
        )
    relay = welcome.get("ice_transport_policy") == "relay"
    policy = RTCIceTransportPolicy.RELAY if relay else RTCIceTransportPolicy.ALL
    return RTCConfiguration(iceServers=servers, iceTransportPolicy=policy)


class PeerLink:
    def __init__(
        self,
        peer: PeerInfo,
        *,
        send: SendMessage,
        on_track: TrackStarted,
        ice: RTCConfiguration | None = None,
        loopback_only: bool = False,
        segment_seconds: float = 10.0,
    ) -> None:
        self.peer = peer
        self.loopback_only = loopback_only
        self.tracks: list[ReceivedTrack] = []
        self.answered = asyncio.Event()
        self.closed = False
        self.in_recording = False  # the recorder counts this connection as the participant's
        self._send = send
        self._on_track = on_track
        self._segment_seconds = segment_seconds
        self._tasks: list[asyncio.Task[None]] = []
        # loopback-only gathers host 127.0.0.1 and nothing else: no STUN, no TURN
        self.pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[]) if loopback_only or ice is None else ice
        )
        self.pc.on("track", self._track_arrived)

    @property
    def state(self) -> str:
        return self.pc.connectionState

    def _track_arrived(self, track: MediaStreamTrack) -> None:
        receiver = next(t.receiver for t in self.pc.getTransceivers() if t.receiver.track is track)
        received = ReceivedTrack(receiver, track.kind, segment_seconds=self._segment_seconds)
        self.tracks.append(received)
        self._tasks.append(asyncio.ensure_future(received.run_keyframe_policy()))
        self._on_track(self, received)

    async def _set_local(self, description: RTCSessionDescription) -> None:
        if self.loopback_only:
            restrict_to_loopback(self.pc)
        await self.pc.setLocalDescription(description)

    async def offer(self) -> None:
        """The bot joined after this peer: offer to receive its audio and video."""
        self.pc.addTransceiver("audio", direction="recvonly")
        self.pc.addTransceiver("video", direction="recvonly")
        await self._set_local(await self.pc.createOffer())
        await self._send(
            {"type": "offer", "to": self.peer.peer_id, "sdp": self.pc.localDescription.sdp}
        )

    async def accept_offer(self, sdp: str) -> None:
        await self._set_remote(sdp, "offer")
        for transceiver in self.pc.getTransceivers():
            transceiver.direction = "recvonly"
        await self._set_local(await self.pc.createAnswer())
        self.answered.set()
        await self._send(
            {"type": "answer", "to": self.peer.peer_id, "sdp": self.pc.localDescription.sdp}
        )

    async def accept_answer(self, sdp: str) -> None:
        await self._set_remote(sdp, "answer")
        self.answered.set()

    async def _set_remote(self, sdp: str, kind: str) -> None:
        if not isinstance(sdp, str) or "v=0" not in sdp:
            raise NegotiationError(f"{kind} from {self.peer.peer_id} is not an SDP")
        if self.loopback_only:
            sdp = loopback_only_sdp(sdp)
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=kind))
        except Exception as exc:  # aiortc raises ValueError, OperationError, KeyError...
            raise NegotiationError(f"{kind} from {self.peer.peer_id} rejected: {exc!r}") from exc

    async def add_candidate(self, candidate: dict[str, Any] | None) -> None:
        if candidate is None or not candidate.get("candidate"):
            return  # end of candidates; aiortc needs no marker
        line = str(candidate["candidate"])
        line = line.split(":", 1)[1] if line.startswith("candidate:") else line
        if self.loopback_only and not is_loopback_candidate(line):
            return
        try:
            ice = candidate_from_sdp(line)
        except (ValueError, IndexError) as exc:
            raise NegotiationError(f"bad ICE candidate from {self.peer.peer_id}: {exc}") from exc
        ice.sdpMid = candidate.get("sdpMid")
        ice.sdpMLineIndex = candidate.get("sdpMLineIndex")
        if ice.sdpMid is None and ice.sdpMLineIndex is None:
            ice.sdpMLineIndex = 0
        await self.pc.addIceCandidate(ice)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for task in self._tasks:
            task.cancel()
        await self.pc.close()
