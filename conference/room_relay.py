"""How web nodes hand each other signaling: one inbox per node, messages in order.

A node (a `proctorbot serve` process sharing rooms, conference/cluster_rooms.py) reads
its own inbox and sends to another node's by that node's id. Envelopes are small JSON
objects (a membership change, or a signaling message for one peer).

- ``RedisRelay``: Redis pub/sub, one channel per node (``proctorbot:node:<id>``). Chosen
  over PostgreSQL LISTEN/NOTIFY because a NOTIFY payload is limited to 8000 bytes while
  an SDP offer of a browser with a camera, a microphone and a shared screen passes that
  (our own limit is ``server.max_message_bytes``, 256 KiB); Redis takes up to 512 MB a
  message. Redis delivers a channel's messages in the order it processed the
  publishes, whoever sent them: the membership changes of a room, published while its
  lock is held, reach every node in one order.
- ``LocalRelay``: the same contract in one process (a ``LocalHub`` of queues): several
  nodes in one test, no Redis.

Pub/sub delivers at most once: a node whose subscription breaks gets ``RelayLost`` and
starts over (its sockets closed, the browsers reconnect and get a fresh welcome).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from proctorbot.config.settings import ClusterSettings

log = logging.getLogger(__name__)

Envelope = dict[str, Any]
CHANNEL_PREFIX = "proctorbot:node:"


class RelayLost(Exception):
    """The node's inbox is gone (Redis went away): what was in flight may be lost."""


class NodeRelay(Protocol):
    async def open(self, node_id: str) -> None:
        """Start receiving this node's envelopes (before anyone may send it one)."""

    async def receive(self) -> Envelope:
        """The next envelope for this node, in order; raises RelayLost."""

    async def send(self, node_id: str, envelope: Envelope) -> None:
        """To another node's inbox (or this node's own), from the event loop."""

    def send_blocking(self, node_id: str, envelope: Envelope) -> None:
        """The same from a worker thread (inside a database transaction)."""

    async def close(self) -> None: ...


def node_relay(cluster: ClusterSettings) -> NodeRelay | None:
    """The relay between web nodes for these settings; None = rooms in memory (the
    one-process default, or ``cluster.shared_rooms = false``)."""
    if not (cluster.enabled and cluster.shared_rooms):
        return None
    return RedisRelay(cluster.redis_url)


def channel_of(node_id: str) -> str:
    return CHANNEL_PREFIX + node_id


def encode(envelope: Envelope) -> str:
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))


class RedisRelay:
    """Redis pub/sub: a subscription for this node's channel, publishes to the others'."""

    def __init__(self, url: str) -> None:
        import redis
        import redis.asyncio

        self.url = url
        self._redis = redis.asyncio.Redis.from_url(url)
        self._blocking = redis.Redis.from_url(url)
        self._pubsub: Any = None
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)

    async def open(self, node_id: str) -> None:
        if self._pubsub is not None:
            pubsub, self._pubsub = self._pubsub, None
            with contextlib.suppress(Exception):
                await pubsub.aclose()
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(channel_of(node_id))
        except self._errors as exc:
            raise RelayLost(f"cannot subscribe at {self.url}: {exc}") from exc
        self._pubsub = pubsub

    async def receive(self) -> Envelope:
        if self._pubsub is None:
            raise RelayLost("not subscribed")
        while True:
            try:
                message = await self._pubsub.get_message(timeout=5.0)
            except (*self._errors, RuntimeError) as exc:
                self._pubsub = None  # subscribe again (open) before reading on
                raise RelayLost(f"Redis subscription lost: {exc}") from exc
            if message is not None and message.get("type") == "message":
                return json.loads(message["data"])

    async def send(self, node_id: str, envelope: Envelope) -> None:
        await self._redis.publish(channel_of(node_id), encode(envelope))

    def send_blocking(self, node_id: str, envelope: Envelope) -> None:
        self._blocking.publish(channel_of(node_id), encode(envelope))

    async def close(self) -> None:
        if self._pubsub is not None:
            await self._pubsub.aclose()
        await self._redis.aclose()
        self._blocking.close()


@dataclass
class LocalHub:
    """The inboxes of the nodes of one process (tests): node id → (loop, queue)."""

    inboxes: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Queue[str]]] = field(
        default_factory=dict
    )

    def put(self, node_id: str, envelope: Envelope) -> None:
        """From the loop or any thread; an envelope for a node that is gone is dropped."""
        target = self.inboxes.get(node_id)
        if target is not None:
            loop, queue = target
            loop.call_soon_threadsafe(queue.put_nowait, encode(envelope))


@dataclass
class LocalRelay:
    hub: LocalHub
    node_id: str = ""

    async def open(self, node_id: str) -> None:
        self.node_id = node_id
        self.hub.inboxes[node_id] = (asyncio.get_running_loop(), asyncio.Queue())

    async def receive(self) -> Envelope:
        target = self.hub.inboxes.get(self.node_id)
        if target is None:
            raise RelayLost("this node's inbox is closed")
        return json.loads(await target[1].get())

    async def send(self, node_id: str, envelope: Envelope) -> None:
        self.hub.put(node_id, envelope)

    def send_blocking(self, node_id: str, envelope: Envelope) -> None:
        self.hub.put(node_id, envelope)

    async def close(self) -> None:
        self.hub.inboxes.pop(self.node_id, None)
