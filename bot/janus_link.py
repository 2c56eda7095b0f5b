"""The bot's receive-only link to one publisher of the session's Janus VideoRoom.

The same ``PeerLink`` as in a mesh (its tracks tapped at the RTP receiver and recorded by
participant), negotiated with Janus instead of the participant: a subscriber handle
joins the publisher's feed, Janus offers, the bot answers recvonly and ``start``s. Janus
puts its candidates in its SDP (half trickle), so nothing is trickled. With
``ice_address`` the bot gathers on that address only (a test's veth address: Janus
refuses loopback candidates), per connection, as bot/loopback.py does for 127.0.0.1.
"""

from __future__ import annotations

import contextlib
from typing import Any

from aiortc import RTCConfiguration, RTCSessionDescription
from proctorbot.bot.loopback import restrict_to_address
from proctorbot.bot.peer_link import NegotiationError, PeerLink, TrackStarted
from proctorbot.bot.peers import PeerInfo
from proctorbot.conference.janus import videoroom
from proctorbot.conference.janus.client import JanusError, JanusHandle


async def _nothing_to_send(_: dict[str, Any]) -> None:
    """Janus links never use the signaling: negotiation goes through Janus's API."""


class JanusLink(PeerLink):
    def __init__(
        self,
        peer: PeerInfo,
        *,
        handle: JanusHandle,
        room: int,
        feed: int,
        on_track: TrackStarted,
        ice: RTCConfiguration | None = None,
        ice_address: str = "",
        segment_seconds: float = 10.0,
    ) -> None:
        super().__init__(
            peer,
            send=_nothing_to_send,
            on_track=on_track,
            ice=RTCConfiguration(iceServers=[]) if ice_address else ice,
            loopback_only=False,
            segment_seconds=segment_seconds,
        )
        self.handle = handle
        self.room = room
        self.feed = feed
        self.ice_address = ice_address

    async def _set_local(self, description: RTCSessionDescription) -> None:
        if self.ice_address:
            restrict_to_address(self.pc, self.ice_address)
        await self.pc.setLocalDescription(description)

    async def subscribe(self) -> None:
        """Janus's offer for every stream of the feed, our recvonly answer, ``start``."""
        try:
            reply = await videoroom.subscribe(self.handle, self.room, self.feed)
        except (JanusError, ValueError) as exc:
            raise NegotiationError(f"Janus subscription to {self.peer.peer_id}: {exc}") from exc
        offer = reply.jsep or {}
        await self._set_remote(str(offer.get("sdp")), "offer")
        for transceiver in self.pc.getTransceivers():
            transceiver.direction = "recvonly"
        await self._set_local(await self.pc.createAnswer())
        answer = {"type": "answer", "sdp": self.pc.localDescription.sdp}
        try:
            await videoroom.start(self.handle, answer)
        except JanusError as exc:
            raise NegotiationError(f"Janus start for {self.peer.peer_id}: {exc}") from exc
        self.answered.set()

    async def offer(self) -> None:
        raise NegotiationError("a Janus link is offered by Janus (subscribe), never by the bot")

    async def close(self) -> None:
        if self.closed:
            return
        await super().close()
        with contextlib.suppress(JanusError):
            await self.handle.detach()
