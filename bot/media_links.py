"""The bot's media links: one receive-only ``PeerLink`` per participant's connection, and
what each received track is recorded into.

``SessionBot`` hands the signaling here (offers, answers, ICE) and asks what it needs
(the link of a peer, the keys being recorded); this module opens and closes links, keeps
them through a drop of the signaling (media is peer to peer) and matches them to their
participants again when it comes back, gives up on links that never connect or answer,
notices media that stopped (a gap) and wires every received track to the recorder.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiortc import RTCConfiguration
from proctorbot.bot.media_feeds import MediaFeeds
from proctorbot.bot.peer_directory import PeerDirectory
from proctorbot.bot.peer_link import NegotiationError, PeerLink
from proctorbot.bot.peers import PeerInfo
from proctorbot.config.settings import Settings
from proctorbot.recording.frames import EncodedFrame
from proctorbot.recording.receiver_tap import ReceivedTrack
from proctorbot.recording.session_recorder import SessionRecorder, TrackRecording

logger = logging.getLogger(__name__)


class MediaLinks:
    def __init__(
        self,
        session_id: str,
        settings: Settings,
        *,
        recorder: SessionRecorder,
        feeds: MediaFeeds,
        peers: PeerDirectory,
        key: Callable[[PeerInfo], str],
        send: Callable[[dict[str, Any]], Awaitable[bool]],
        spawn: Callable[[Awaitable[Any], str], asyncio.Task[Any]],
    ) -> None:
        self.session_id = session_id
        self.settings = settings
        self.recorder = recorder
        self.feeds = feeds
        self.peers = peers
        self.key = key
        self.send = send
        self.spawn = spawn
        self.links: dict[str, PeerLink] = {}
        self.recordings: dict[int, TrackRecording] = {}  # by id() of the ReceivedTrack
        # STUN/TURN and the transport policy of the latest `welcome` (SessionBot sets it):
        # TURN credentials expire, so each reconnect's fresh ones serve the new links.
        self.ice: RTCConfiguration | None = None

    def recorded_keys(self) -> set[str]:
        """The participants whose connection is being recorded right now."""
        return {self.key(link.peer) for link in self.links.values() if link.in_recording}

    def kinds_recording(self, key: str, fresh_s: float, now: float) -> set[str]:
        """The kinds ("audio", "video") of ``key``'s tracks that got a frame within
        ``fresh_s`` seconds of ``now`` (held in memory: no file is looked at)."""
        return {
            recording.kind
            for recording in list(self.recordings.values())  # asked from a worker thread
            if recording.key == key
            and not recording.closed
            and recording.last_arrival is not None
            and now - recording.last_arrival <= fresh_s
        }

    async def accept_answer(self, sender: str, sdp: Any) -> None:
        link = self.links.get(sender)
        if link is None:
            logger.warning("session %s: answer from %s without an offer", self.session_id, sender)
            return
        await link.accept_answer(sdp)

    async def add_candidate(self, sender: str, candidate: Any) -> None:
        link = self.links.get(sender)
        if link is not None:
            await link.add_candidate(candidate)

    def kept_link_of(self, peer: PeerInfo) -> PeerLink | None:
        """A link to the same participant under a peer id the server no longer has (the
        signaling dropped and came back), or None."""
        for peer_id, link in self.links.items():
            if (
                peer_id not in self.peers
                and peer_id != peer.peer_id
                and link.peer.role == peer.role
                and self.key(link.peer) == self.key(peer)
            ):
                return link
        return None

    def media_flowing(self, link: PeerLink) -> bool:
        """Connected, and media arrived within ``bot.media_timeout_seconds``."""
        arrivals = [t.last_arrival for t in link.tracks if t.last_arrival]
        return (
            link.state == "connected"
            and bool(arrivals)
            and time.time() - max(arrivals) < self.settings.bot.media_timeout_seconds
        )

    async def rekey(self, link: PeerLink, peer: PeerInfo) -> None:
        """The same link under the participant's new peer id. Plug-ins following the old
        id see its feeds end and pick the new id up, as after a reload."""
        old = link.peer.peer_id
        self.links.pop(old, None)
        current = self.links.get(peer.peer_id)
        if current is not None and current is not link:
            await self.close_link(peer.peer_id, "replaced", participant_left=False)
        link.peer.peer_id = peer.peer_id
        link.peer.name, link.peer.mic, link.peer.cam = peer.name, peer.mic, peer.cam
        self.peers[peer.peer_id] = link.peer
        self.links[peer.peer_id] = link
        self.feeds.end_video(old)
        self.feeds.end_audio(old)
        logger.info(
            "session %s: %s is back as %s; its media link was kept",
            self.session_id,
            old,
            peer.peer_id,
        )

    async def close_unclaimed_links(self) -> None:
        """After a reconnect: a kept link whose participant did not come back within
        ``bot.rejoin_grace_seconds`` is a departure."""
        await asyncio.sleep(self.settings.bot.rejoin_grace_seconds)
        for peer_id in list(self.links):
            if peer_id not in self.peers:
                logger.info(
                    "session %s: %s did not come back to the signaling; link closed",
                    self.session_id,
                    peer_id,
                )
                await self.close_link(peer_id, "left")

    def new_link(self, peer: PeerInfo, link: PeerLink | None = None) -> PeerLink:
        """A peer-to-peer link to ``peer`` (or ``link``, made elsewhere: a Janus one,
        bot/janus_media.py), watched for failure and for its connect deadline."""
        link = link or PeerLink(
            peer,
            send=self.send,
            on_track=self.track_started,
            ice=self.ice,
            loopback_only=self.settings.conference.allow_loopback,
            segment_seconds=self.settings.recording.segment_seconds,
        )
        self.links[peer.peer_id] = link

        @link.pc.on("connectionstatechange")
        async def _state_changed() -> None:
            if link.state == "failed" and self.links.get(peer.peer_id) is link:
                logger.warning("session %s: connection to %s failed", self.session_id, peer.peer_id)
                await self.close_link(peer.peer_id, "connection_failed", participant_left=True)

        self.spawn(self.connect_deadline(link), f"deadline-{peer.peer_id}")
        return link

    async def offer(self, peer: PeerInfo, carried: bool = False) -> None:
        link = self.new_link(peer)
        link.in_recording = carried  # a new connection of someone already being recorded
        await link.offer()
        try:
            await asyncio.wait_for(link.answered.wait(), self.settings.bot.answer_timeout_seconds)
        except TimeoutError:
            logger.error(
                "session %s: %s (%s) never answered the bot's offer within %.0f s; "
                "its media is not recorded until it reconnects",
                self.session_id,
                peer.peer_id,
                peer.role,
                self.settings.bot.answer_timeout_seconds,
            )
            await self.close_link(peer.peer_id, "no_answer")

    async def accept_offer(self, sender: str, sdp: Any) -> None:
        peer = self.peers.get(sender)
        if peer is None:
            logger.warning("session %s: offer from unknown peer %s", self.session_id, sender)
            return
        carried = False
        kept = self.kept_link_of(peer)
        if kept is not None:  # its new connection replaces the one kept since the drop
            carried = kept.in_recording
            await self.close_link(kept.peer.peer_id, "renegotiated", participant_left=False)
        if sender in self.links:  # a renegotiation: start a fresh link (a new recording run)
            carried = self.links[sender].in_recording
            await self.close_link(sender, "renegotiated", participant_left=False)
        link = self.new_link(peer)
        link.in_recording = carried
        if not isinstance(sdp, str):
            raise NegotiationError(f"offer from {sender} has no SDP")
        await link.accept_offer(sdp)

    async def connect_deadline(self, link: PeerLink) -> None:
        await asyncio.sleep(self.settings.bot.connect_timeout_seconds)
        if self.links.get(link.peer.peer_id) is link and link.state != "connected":
            logger.error(
                "session %s: no media connection to %s after %.0f s (state %s); link closed",
                self.session_id,
                link.peer.peer_id,
                self.settings.bot.connect_timeout_seconds,
                link.state,
            )
            await self.close_link(link.peer.peer_id, "connect_timeout")

    async def close_link(self, peer_id: str, reason: str, participant_left: bool = True) -> None:
        link = self.links.pop(peer_id, None)
        if link is None:
            return
        for received in link.tracks:
            if received.sinks:
                received.flush()
            recording = self.recordings.pop(id(received), None)
            if recording is not None:
                recording.close()
        self.feeds.end_video(peer_id)
        if participant_left or peer_id not in self.peers:  # gone, or now under a new id
            self.feeds.end_audio(peer_id)
        peer = link.peer
        if participant_left and link.in_recording:
            last = max((t.last_arrival or 0.0 for t in link.tracks), default=0.0) or None
            self.recorder.participant_left(self.key(peer), reason, last)
        logger.info("session %s: link to %s closed (%s)", self.session_id, peer_id, reason)
        await link.close()

    async def drop_links(self, reason: str) -> None:
        for peer_id in list(self.links):
            await self.close_link(peer_id, reason)

    def track_started(self, link: PeerLink, received: ReceivedTrack) -> None:
        peer = link.peer
        slot = id(received)

        def record(frame: EncodedFrame) -> None:
            recording = self.recordings.get(slot)
            if recording is None:
                if self.links.get(peer.peer_id) is not link:
                    return  # a frame racing the link's close
                recording = self.recorder.open_track(
                    self.key(peer), frame.kind, frame.codec, peer.role
                )
                self.recordings[slot] = recording
            recording.push(frame)

        received.sinks.append(record)
        if not link.in_recording:  # one join per connection, one leave when it closes
            link.in_recording = True
            self.recorder.participant_joined(self.key(peer), peer.role, peer.name, peer.person_id)
        logger.info(
            "session %s: receiving %s from %s", self.session_id, received.kind, peer.peer_id
        )

    async def media_watchdog(self) -> None:
        timeout = self.settings.bot.media_timeout_seconds
        while True:
            await asyncio.sleep(min(1.0, timeout / 2))
            now = time.time()
            for link in list(self.links.values()):
                arrivals = [t.last_arrival for t in link.tracks if t.last_arrival]
                if arrivals and now - max(arrivals) > timeout:
                    self.recorder.media_stalled(self.key(link.peer), max(arrivals))
