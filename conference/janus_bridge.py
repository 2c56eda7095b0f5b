"""Calls through Janus (``conference.mode = "janus"``): each browser publishes once to the
session's VideoRoom and receives every other participant from Janus, not from a mesh.

The browser keeps its one WebSocket to us (`/ws`) and never talks to Janus: admission,
tokens and who sees whom stay ours, and Janus's API is not exposed. Per connected peer
the bridge holds a Janus session with a publisher handle (``display`` = our peer id) and
one subscriber handle per publisher that peer may see. The bot is not bridged: it
subscribes to the room by itself (conference/janus/).

One publication, page to Janus and back to a watcher (docs/architecture.md, Signaling):
1. the page's sendonly offer ``{"type": "publish", "sdp"}`` → `publish`: VideoRoom
   ``configure`` with the offer → ``{"type": "publish-answer", "sdp"}``;
2. once its media is up, Janus tells every publisher handle of the room (``publishers``,
   ``display`` = peer id; also in each newcomer's ``joined``): for each peer allowed to
   see it (`sees`) a subscriber handle joins the feed →
   ``{"type": "subscribe-offer", "feed": <publisher's peer id>, "sdp"}`` to that peer
   (driven by Janus's events, so a viewer on another web node is served by its own node);
3. its recvonly answer ``{"type": "subscribe-answer", "feed", "sdp"}`` → VideoRoom
   ``start``;
4. the page's ICE candidates ``{"type": "janus-ice", "feed"?, "candidate"}`` are trickled
   to the handle they belong to (no ``feed``: its own publication). Janus puts its own
   candidates in its SDP (no full trickle), so nothing is trickled to the page.
When a peer leaves (or its socket drops) its Janus session is destroyed; the others'
subscriptions to it are detached (Janus says ``leaving`` / ``unpublished``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from proctorbot.conference.bad_message import BadMessage
from proctorbot.conference.janus import videoroom
from proctorbot.conference.janus.client import JanusClient, JanusError, JanusHandle, JanusSession
from proctorbot.conference.janus.placement import JanusRooms, RoomPlace
from proctorbot.conference.rooms import MAIN_DEVICE, Peer, Room

log = logging.getLogger(__name__)

# Who may see a person's other devices (the phone, the screen share): as in the mesh.
WATCHERS = frozenset({"bot", "examiner", "expert", "organizer"})
JANUS_UNAVAILABLE = "janus_unavailable"
# A publisher Janus names may be a peer this node has not heard of yet (another web
# node's newcomer): wait this long for it.
PEER_KNOWN_WITHIN_S = 3.0

# session id → its room (conference/janus/placement.py JanusRooms, or a test's own).
PlaceRoom = Callable[[str], Awaitable[RoomPlace]]


def sees(viewer: Peer, publisher: Peer) -> bool:
    """Whether `viewer`'s page receives `publisher`: everyone sees everyone's main device;
    a phone or a screen only the watchers see (never the person's own other devices);
    a phone or a screen page receives nothing; the bot subscribes by itself."""
    if viewer.peer_id == publisher.peer_id or viewer.role == "bot":
        return False
    if viewer.device != MAIN_DEVICE or publisher.role == "bot":
        return False
    if publisher.device != MAIN_DEVICE:
        return viewer.role in WATCHERS and viewer.person_id != publisher.person_id
    return True


@dataclass
class Subscription:
    feed_id: int
    handle: JanusHandle | None = None  # None while it is being made


@dataclass
class PeerMedia:
    """One peer's side of the call in Janus."""

    peer_id: str
    session: JanusSession
    place: RoomPlace
    publisher: JanusHandle
    feed_id: int  # Janus's id of our publisher in the room
    offered: bool = False  # the page sent its publication
    # publisher's peer id → our subscription to its feed
    subscriptions: dict[str, Subscription] = field(default_factory=dict)


@dataclass
class JanusBridge:
    """The call's media through Janus for this server's connected peers."""

    place: PlaceRoom
    api_secret: str | None = None
    media: dict[str, PeerMedia] = field(default_factory=dict)
    clients: dict[str, JanusClient] = field(default_factory=dict)  # one per instance URL
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def relays(self) -> dict[str, Callable[[Room, Peer, dict[str, Any]], Awaitable[None]]]:
        """The signaling messages of the Janus mode, beside signaling.RELAYS."""
        return {
            "publish": self.publish,
            "subscribe-answer": self.subscribe_answer,
            "janus-ice": self.ice,
        }

    # --- join / leave -----------------------------------------------------------------

    async def peer_joined(self, room: Room, peer: Peer) -> None:
        """The peer's publisher in the session's room (not publishing yet); its
        subscriptions follow Janus's events (`watch`). Janus unreachable: the page hears
        it (``error`` janus_unavailable) and the call's signaling goes on."""
        if peer.role == "bot":
            return
        try:
            place = await self.place(room.session_id)
            session = await self.client(place.url).create_session()
        except JanusError as exc:
            log.warning("Janus for %s/%s: %s", room.session_id, peer.peer_id, exc)
            await peer.send(unavailable_error(exc))
            return
        try:
            handle = await session.attach()
            joined = await videoroom.join_as_publisher(handle, place.room, peer.peer_id)
        except JanusError as exc:
            await destroy(session)
            log.warning("Janus for %s/%s: %s", room.session_id, peer.peer_id, exc)
            await peer.send(unavailable_error(exc))
            return
        if room.peers.get(peer.peer_id) is not peer or peer.ws.closed:
            await destroy(session)  # gone while Janus answered
            return
        media = self.media[peer.peer_id] = PeerMedia(
            peer.peer_id, session, place, handle, joined.id
        )
        self.spawn(self.watch(room, peer, media, joined.publishers))

    async def peer_left(self, room: Room, peer: Peer) -> None:
        media = self.media.pop(peer.peer_id, None)
        if media is None:
            return
        for other in list(self.media.values()):  # at once here; Janus says it too
            subscription = other.subscriptions.pop(peer.peer_id, None)
            if subscription is not None and subscription.handle is not None:
                self.spawn(detach(subscription.handle))
        await destroy(media.session)  # Janus hangs up its publisher and subscribers
        log.info("Janus session of %s in %s closed", peer.peer_id, room.session_id)

    async def watch(
        self,
        room: Room,
        viewer: Peer,
        media: PeerMedia,
        publishing: tuple[videoroom.Publisher, ...],
    ) -> None:
        """The viewer's publisher handle's events until it is gone: each publisher Janus
        names is subscribed to (when the viewer may see it), each one gone is dropped."""
        self.offer_feeds(room, viewer, media, publishing)
        while (event := await media.publisher.next_event()) is not None:
            if event.janus != "event":
                continue
            changes = videoroom.publisher_changes(event.data, my_id=media.feed_id)
            self.offer_feeds(room, viewer, media, changes.published)
            for feed_id in changes.gone:
                self.drop_feed(media, feed_id)

    def offer_feeds(
        self,
        room: Room,
        viewer: Peer,
        media: PeerMedia,
        publishers: tuple[videoroom.Publisher, ...],
    ) -> None:
        for publisher in publishers:
            if publisher.id != media.feed_id:
                self.spawn(self.subscribe(room, viewer, media, publisher))

    def drop_feed(self, media: PeerMedia, feed_id: int) -> None:
        for peer_id, subscription in list(media.subscriptions.items()):
            if subscription.feed_id == feed_id:
                del media.subscriptions[peer_id]
                if subscription.handle is not None:
                    self.spawn(detach(subscription.handle))

    # --- the relays -------------------------------------------------------------------

    async def publish(self, room: Room, sender: Peer, message: dict[str, Any]) -> None:
        """publish: the page's sendonly offer → Janus's answer (the others hear of the
        feed from Janus once its media is up)."""
        sdp = required(message, "sdp", str)
        media = self.media_of(sender)
        if media.offered:
            raise BadMessage("bad_field", "already published (a new connection publishes anew)")
        media.offered = True
        try:
            answer = await videoroom.publish(media.publisher, {"type": "offer", "sdp": sdp})
        except (JanusError, ValueError) as exc:
            media.offered = False  # the page may offer again
            raise BadMessage(JANUS_UNAVAILABLE, f"Janus refused the publication: {exc}") from None
        await sender.send({"type": "publish-answer", "sdp": answer["sdp"]})

    async def subscribe_answer(self, room: Room, sender: Peer, message: dict[str, Any]) -> None:
        feed = required(message, "feed", str)
        sdp = required(message, "sdp", str)
        handle = self.handle_for(sender, feed)
        try:
            await videoroom.start(handle, {"type": "answer", "sdp": sdp})
        except JanusError as exc:
            raise BadMessage(JANUS_UNAVAILABLE, f"Janus refused the answer: {exc}") from None

    async def ice(self, room: Room, sender: Peer, message: dict[str, Any]) -> None:
        candidate = message.get("candidate")
        if not isinstance(candidate, dict | None):
            raise BadMessage("bad_field", "'candidate' must be an RTCIceCandidateInit or null")
        feed = message.get("feed")
        if feed is not None and not isinstance(feed, str):
            raise BadMessage("bad_field", "'feed' must be a peer id or absent")
        handle = self.handle_for(sender, feed)
        with contextlib.suppress(JanusError):  # a late candidate of a closed handle
            await handle.trickle(candidate)

    # --- subscriptions ----------------------------------------------------------------

    async def subscribe(
        self, room: Room, viewer: Peer, mine: PeerMedia, publisher: videoroom.Publisher
    ) -> None:
        """A subscriber handle of `viewer` on one feed, its offer to the page; nothing
        when the viewer may not see that publisher."""
        theirs = await known_peer(room, publisher.display)
        if theirs is None or not sees(viewer, theirs) or self.media.get(viewer.peer_id) is not mine:
            return
        known = mine.subscriptions.get(theirs.peer_id)
        if known is not None and known.feed_id == publisher.id:
            return  # told twice
        subscription = mine.subscriptions[theirs.peer_id] = Subscription(publisher.id)
        if known is not None and known.handle is not None:
            await detach(known.handle)  # an older feed of the same peer
        try:
            subscription.handle = handle = await mine.session.attach()
            reply = await videoroom.subscribe(handle, mine.place.room, publisher.id)
        except (JanusError, ValueError) as exc:
            log.warning("%s cannot subscribe to %s: %s", viewer.peer_id, theirs.peer_id, exc)
            if mine.subscriptions.get(theirs.peer_id) is subscription:
                del mine.subscriptions[theirs.peer_id]
            return
        if mine.subscriptions.get(theirs.peer_id) is not subscription:
            await detach(handle)  # gone meanwhile
            return
        sdp = (reply.jsep or {}).get("sdp", "")
        await viewer.send({"type": "subscribe-offer", "feed": theirs.peer_id, "sdp": sdp})

    # --- plumbing ---------------------------------------------------------------------

    def media_of(self, peer: Peer) -> PeerMedia:
        media = self.media.get(peer.peer_id)
        if media is None:
            raise BadMessage(JANUS_UNAVAILABLE, "no media server for this connection")
        return media

    def handle_for(self, peer: Peer, feed: str | None) -> JanusHandle:
        """The peer's publisher handle (no feed), or its subscriber handle of `feed`."""
        media = self.media_of(peer)
        if feed is None:
            return media.publisher
        subscription = media.subscriptions.get(feed)
        if subscription is None or subscription.handle is None:
            raise BadMessage("unknown_peer", f"no subscription to {feed[:40]!r}")
        return subscription.handle

    def client(self, url: str) -> JanusClient:
        if url not in self.clients:
            self.clients[url] = JanusClient(url, api_secret=self.api_secret)
        return self.clients[url]

    def spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        task.add_done_callback(log_failure)

    async def close(self) -> None:
        for media in list(self.media.values()):
            await destroy(media.session)
        self.media.clear()
        for task in list(self.tasks):
            task.cancel()
        for client in self.clients.values():
            await client.close()
        self.clients.clear()


async def known_peer(room: Room, peer_id: str) -> Peer | None:
    """The room's peer `peer_id`, waiting a little for one this node has not heard of."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PEER_KNOWN_WITHIN_S
    while (peer := room.peers.get(peer_id)) is None and loop.time() < deadline:
        await asyncio.sleep(0.1)
    return peer


async def detach(handle: JanusHandle) -> None:
    with contextlib.suppress(JanusError):
        await handle.detach()


async def destroy(session: JanusSession) -> None:
    with contextlib.suppress(JanusError):
        await session.destroy()


def unavailable_error(exc: Exception) -> dict[str, str]:
    return {"type": "error", "code": JANUS_UNAVAILABLE, "message": f"media server: {exc}"}


def required(message: dict[str, Any], name: str, kind: type) -> Any:
    value = message.get(name)
    if not isinstance(value, kind):
        raise BadMessage("bad_field", f"'{name}' must be a {kind.__name__}")
    return value


def log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("Janus bridge task failed: %r", task.exception())


JANUS_BRIDGE = web.AppKey("proctorbot.conference.janus_bridge", JanusBridge)


def mount_janus_bridge(
    app: web.Application, ctx: Any, place: PlaceRoom | None = None
) -> JanusBridge:
    """``conference.mode = "janus"``: the bridge the signaling uses, closed with the app.
    `place` (session → instance and room) defaults to the placement over ``[janus] urls``."""
    secret = ctx.settings.janus.api_secret
    bridge = JanusBridge(
        place=place or JanusRooms(ctx.db, ctx.settings),
        api_secret=secret.get_secret_value() if secret is not None else None,
    )
    app[JANUS_BRIDGE] = bridge

    async def close(_: web.Application) -> None:
        await bridge.close()

    app.on_cleanup.append(close)
    return bridge
