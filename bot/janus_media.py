"""The bot in a Janus VideoRoom (``conference.mode = "janus"``): one receive-only
``JanusLink`` per publisher, so every participant is recorded as in a mesh.

``JanusRoomWatch.run`` (a task of the session's bot) finds the session's room through
the placement (``place(session_id)``, conference/janus/placement.py: the same call the
web nodes make), joins it as a publisher that never publishes (how a participant learns
of publishers), and subscribes to each publisher. A publisher's ``display`` is the
participant's signaling peer id (the bridge publishes under it), so its tracks get the
participant key of the peer the signaling announced, and the recorder, manifest, live
watch and checklist see no difference. Janus's "unpublished"/"leaving" closes the link
(a ``left`` gap, as when a mesh peer leaves); a link whose ICE fails closes as
``connection_failed`` (MediaLinks). If Janus or the bot's session there goes away, its
links close with a ``bot_down`` gap (the recording's fault, never the participant's) and
the watch joins again after ``bot.reconnect_delay_seconds`` and subscribes to whoever
publishes.

Each feed's owner is written once to ``janus/feeds/<room>-<feed>.json`` in the session
folder (never read during the session): Janus's own recordings are named by room and
feed id, and the hand-over (conference/janus/recordings.py) names their participant
from it even if the bot crashed later.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from proctorbot.bot.janus_link import JanusLink
from proctorbot.bot.media_links import MediaLinks
from proctorbot.bot.peer_directory import PeerDirectory
from proctorbot.bot.peer_link import NegotiationError
from proctorbot.bot.peers import PeerInfo
from proctorbot.conference.janus import videoroom
from proctorbot.conference.janus.client import JanusClient, JanusError, JanusHandle, JanusSession
from proctorbot.config.settings import Settings
from proctorbot.storage.session_folder import JANUS_FEEDS_DIR

logger = logging.getLogger(__name__)

# A publisher may appear in Janus before the signaling announced its peer to the bot.
PEER_WAIT_S = 10.0

PlaceRoom = Callable[[str], Awaitable[Any]]  # session id -> a place with .url and .room


def write_feed_owner(session_dir: Path, room: int, feed: int, owner: dict[str, Any]) -> None:
    """``janus/feeds/<room>-<feed>.json`` written whole (temporary file + rename)."""
    folder = session_dir / JANUS_FEEDS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{room}-{feed}.json"
    temporary = target.with_suffix(".tmp")
    temporary.write_text(json.dumps(owner, ensure_ascii=False))
    os.replace(temporary, target)


class JanusRoomWatch:
    def __init__(
        self,
        session_id: str,
        settings: Settings,
        *,
        place: PlaceRoom,
        media: MediaLinks,
        peers: PeerDirectory,
        key: Callable[[PeerInfo], str],
        session_dir: Path,
        spawn: Callable[[Awaitable[Any], str], asyncio.Task[Any]],
    ) -> None:
        self.session_id = session_id
        self.settings = settings
        self.place = place
        self.media = media
        self.peers = peers
        self.key = key
        self.session_dir = session_dir
        self.spawn = spawn
        secret = settings.janus.api_secret
        self.api_secret = secret.get_secret_value() if secret is not None else None
        self.ice_address = settings.janus.bot_ice_address
        self.room: int | None = None
        self.joined = asyncio.Event()  # in the room (tests wait on it)
        self._session: JanusSession | None = None

    async def run(self) -> None:
        """Stay in the room until cancelled; join again when Janus drops the session."""
        while True:
            try:
                await self._watch_once()
            except asyncio.CancelledError:
                raise
            except JanusError as exc:
                logger.warning("session %s: Janus room: %s", self.session_id, exc)
            except Exception:  # noqa: BLE001 - the watch must go on
                logger.exception("session %s: Janus room watch failed", self.session_id)
            self.joined.clear()
            await self._drop_janus_links()
            await asyncio.sleep(self.settings.bot.reconnect_delay_seconds)

    async def _drop_janus_links(self) -> None:
        """The bot's Janus session is gone, and with it its subscriptions: each link
        closes with a ``bot_down`` gap (the recording's fault: Janus itself may well go
        on receiving and recording, conference/janus/recordings.py), closed again when
        the watch is back in the room and subscribes anew."""
        for link in [link for link in self.media.links.values() if isinstance(link, JanusLink)]:
            await self.media.close_link(link.peer.peer_id, "bot_down")

    async def _watch_once(self) -> None:
        place = await self.place(self.session_id)
        self.room = int(place.room)
        async with JanusClient(place.url, api_secret=self.api_secret) as janus:
            session = self._session = await janus.create_session()
            try:
                watcher = await session.attach(opaque_id=f"bot-{self.session_id}")
                joined = await videoroom.join_as_publisher(
                    watcher, self.room, f"bot-{self.session_id}"
                )
                self.joined.set()
                logger.info(
                    "session %s: bot in VideoRoom %s on %s (%d publishers)",
                    self.session_id,
                    self.room,
                    place.url,
                    len(joined.publishers),
                )
                for publisher in joined.publishers:
                    self._follow(session, publisher)
                await self._events(session, watcher, joined.id)
            finally:
                self._session = None
                with contextlib.suppress(JanusError, asyncio.CancelledError):
                    await asyncio.shield(session.destroy())

    async def _events(self, session: JanusSession, watcher: JanusHandle, my_id: int) -> None:
        while True:
            event = await watcher.next_event()
            if event is None:
                raise JanusError(f"Janus session closed ({session.close_reason or 'detached'})")
            if event.janus != "event":
                continue
            changes = videoroom.publisher_changes(event.data, my_id=my_id)
            for feed in changes.gone:
                await self._feed_gone(feed)
            for publisher in changes.published:
                self._follow(session, publisher)
            if changes.kicked_me:
                raise JanusError("the room was destroyed or the bot was kicked")

    def _follow(self, session: JanusSession, publisher: videoroom.Publisher) -> None:
        self.spawn(self._subscribe(session, publisher), f"janus-feed-{publisher.id}")

    def _link_of_feed(self, feed: int) -> JanusLink | None:
        for link in self.media.links.values():
            if isinstance(link, JanusLink) and link.feed == feed:
                return link
        return None

    async def _feed_gone(self, feed: int) -> None:
        link = self._link_of_feed(feed)
        if link is not None:
            await self.media.close_link(link.peer.peer_id, "left")

    async def _peer_of(self, display: str) -> PeerInfo | None:
        deadline = time.monotonic() + PEER_WAIT_S
        while time.monotonic() < deadline:
            peer = self.peers.get(display)
            if peer is not None:
                return peer
            await asyncio.sleep(0.1)
        return None

    async def _subscribe(self, session: JanusSession, publisher: videoroom.Publisher) -> None:
        if self._link_of_feed(publisher.id) is not None:
            return  # already received (a repeated publishers event)
        peer = await self._peer_of(publisher.display)
        if peer is None or peer.role == "bot":
            if peer is None:
                logger.warning(
                    "session %s: Janus publisher %r (feed %s) is no peer of this session; "
                    "not recorded by the bot",
                    self.session_id,
                    publisher.display,
                    publisher.id,
                )
            return
        carried = False
        existing = self.media.links.get(peer.peer_id)
        if existing is not None:  # the same connection published again: a fresh link
            carried = existing.in_recording
            await self.media.close_link(peer.peer_id, "renegotiated", participant_left=False)
        handle = await session.attach(opaque_id=f"bot-{self.session_id}")
        link = JanusLink(
            peer,
            handle=handle,
            room=int(self.room or 0),
            feed=publisher.id,
            on_track=self.media.track_started,
            ice=self.media.ice,
            ice_address=self.ice_address,
            segment_seconds=self.settings.recording.segment_seconds,
        )
        self.media.new_link(peer, link)
        link.in_recording = carried
        owner = {
            "participant": self.key(peer),
            "role": peer.role,
            "name": peer.name,
            "person_id": peer.person_id,
            "peer_id": peer.peer_id,
            "feed": publisher.id,
            "room": self.room,
            "kinds": sorted(publisher.kinds),
        }
        await asyncio.to_thread(
            write_feed_owner, self.session_dir, int(self.room or 0), publisher.id, owner
        )
        try:
            await link.subscribe()
        except NegotiationError as exc:
            logger.error("session %s: %s", self.session_id, exc)
            await self.media.close_link(peer.peer_id, "negotiation_failed")
            return
        logger.info(
            "session %s: receiving %s through Janus (feed %s)",
            self.session_id,
            peer.peer_id,
            publisher.id,
        )
