"""The VideoRoom plugin's requests on a ``JanusHandle`` (Janus 1.x, multistream).

Room management (synchronous answers): ``create_room``, ``destroy_room``, ``room_exists``,
``list_rooms``, ``list_participants``. A publisher: ``join_as_publisher`` (also how a
receive-only participant learns of publishers: it joins and never publishes), then
``publish`` with its offer (Janus answers). A subscriber, one handle per feed:
``subscribe`` (Janus offers) then ``start`` with the answer. ``publisher_changes`` reads
the publisher handle's events: who started publishing, who stopped or left.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .client import JanusHandle, PluginReply

AUDIO_CODEC = "opus"
VIDEO_CODEC = "vp8"


@dataclass(frozen=True)
class RoomInfo:
    room: int
    description: str
    num_participants: int
    record: bool
    rec_dir: str


@dataclass(frozen=True)
class Participant:
    id: int
    display: str
    publisher: bool


@dataclass(frozen=True)
class Publisher:
    """A publishing participant: its feed id, ``display`` (our participant key), streams."""

    id: int
    display: str
    streams: tuple[dict[str, Any], ...] = field(default=())

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> Publisher:
        streams = tuple(s for s in item.get("streams") or () if not s.get("disabled"))
        return cls(int(item["id"]), str(item.get("display") or ""), streams)

    @property
    def kinds(self) -> set[str]:
        return {str(s.get("type")) for s in self.streams}


@dataclass(frozen=True)
class Joined:
    """A publisher handle's ``joined`` answer."""

    room: int
    id: int
    private_id: int
    publishers: tuple[Publisher, ...]


@dataclass(frozen=True)
class PublisherChanges:
    """What one VideoRoom event says about publishers."""

    published: tuple[Publisher, ...] = ()
    gone: tuple[int, ...] = ()  # feed ids that unpublished or left
    kicked_me: bool = False


async def create_room(
    handle: JanusHandle,
    room: int,
    *,
    description: str = "",
    publishers: int = 16,
    record: bool = False,
    rec_dir: str = "",
    secret: str = "",
    bitrate: int = 0,
) -> int:
    """``create`` a room with VP8/Opus publishers (not permanent); its id."""
    body: dict[str, Any] = {
        "request": "create",
        "room": room,
        "description": description or f"room {room}",
        "publishers": publishers,
        "audiocodec": AUDIO_CODEC,
        "videocodec": VIDEO_CODEC,
        "record": record,
        "permanent": False,
        "notify_joining": False,
        "fir_freq": 5,
    }
    if rec_dir:
        body["rec_dir"] = rec_dir
    if secret:
        body["secret"] = secret
    if bitrate:
        body["bitrate"] = bitrate
    reply = await handle.message(body)
    return int(reply.data["room"])


async def destroy_room(handle: JanusHandle, room: int, *, secret: str = "") -> None:
    body: dict[str, Any] = {"request": "destroy", "room": room}
    if secret:
        body["secret"] = secret
    await handle.message(body)


async def room_exists(handle: JanusHandle, room: int) -> bool:
    reply = await handle.message({"request": "exists", "room": room})
    return bool(reply.data.get("exists"))


async def list_rooms(handle: JanusHandle) -> list[RoomInfo]:
    reply = await handle.message({"request": "list"})
    return [
        RoomInfo(
            room=int(item["room"]),
            description=str(item.get("description") or ""),
            num_participants=int(item.get("num_participants") or 0),
            record=bool(item.get("record")),
            rec_dir=str(item.get("rec_dir") or ""),
        )
        for item in reply.data.get("list") or ()
    ]


async def list_participants(handle: JanusHandle, room: int) -> list[Participant]:
    reply = await handle.message({"request": "listparticipants", "room": room})
    return [
        Participant(int(p["id"]), str(p.get("display") or ""), bool(p.get("publisher")))
        for p in reply.data.get("participants") or ()
    ]


async def join_as_publisher(handle: JanusHandle, room: int, display: str) -> Joined:
    """``join`` as a publisher (without publishing yet): the room's current publishers."""
    reply = await handle.message(
        {"request": "join", "ptype": "publisher", "room": room, "display": display}
    )
    data = reply.data
    return Joined(
        room=int(data["room"]),
        id=int(data["id"]),
        private_id=int(data.get("private_id") or 0),
        publishers=tuple(Publisher.from_json(p) for p in data.get("publishers") or ()),
    )


async def publish(
    handle: JanusHandle, offer: dict[str, Any], *, display: str | None = None
) -> dict[str, Any]:
    """``publish`` with the offer (``{"type": "offer", "sdp": ...}``); Janus's answer JSEP."""
    body: dict[str, Any] = {"request": "publish"}
    if display is not None:
        body["display"] = display
    reply = await handle.message(body, jsep=offer)
    if reply.jsep is None:
        raise ValueError("VideoRoom accepted the publish but sent no answer")
    return reply.jsep


async def subscribe(
    handle: JanusHandle, room: int, feed: int, *, private_id: int | None = None
) -> PluginReply:
    """``join`` as a subscriber to every stream of ``feed``; the reply holds Janus's offer."""
    body: dict[str, Any] = {
        "request": "join",
        "ptype": "subscriber",
        "room": room,
        "streams": [{"feed": feed}],
    }
    if private_id:
        body["private_id"] = private_id
    reply = await handle.message(body)
    if reply.jsep is None:
        raise ValueError(f"VideoRoom sent no offer for feed {feed}")
    return reply


async def start(handle: JanusHandle, answer: dict[str, Any]) -> None:
    """``start`` a subscription with our answer to Janus's offer."""
    await handle.message({"request": "start"}, jsep=answer)


async def leave(handle: JanusHandle) -> None:
    await handle.message({"request": "leave"})


def publisher_changes(data: dict[str, Any], *, my_id: int | None = None) -> PublisherChanges:
    """Read a publisher handle's VideoRoom event (``plugindata.data``)."""
    published = tuple(Publisher.from_json(p) for p in data.get("publishers") or ())
    gone: list[int] = []
    for key in ("unpublished", "leaving"):
        value = data.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            gone.append(value)
    kicked_me = data.get("videoroom") == "destroyed" or (
        my_id is not None and data.get("kicked") == my_id
    )
    if isinstance(data.get("kicked"), int) and data.get("kicked") != my_id:
        gone.append(int(data["kicked"]))
    return PublisherChanges(published=published, gone=tuple(gone), kicked_me=kicked_me)
