"""WebSocket signaling `/ws?t=<call token>`: one file, read it top to bottom.

Life of a connection:
1. `signaling_handler` checks the token (`admission.admit`), joins the room, sends
   `welcome` to the newcomer and `peer-joined` to everyone else.
2. Every text message goes through `handle_message`: parsed, checked, then relayed by
   the function named after its type (`relay_to_peer`, `relay_media_state`, ...).
   The server adds `from` and never looks inside SDP or ICE candidates.
3. When the socket closes, the others get `peer-left`.

A message from the browser to the bot, e.g. the student's offer:
browser `{"type":"offer","to":"bot-1a2b3c","sdp":"v=0..."}` → `handle_message` →
`relay_to_peer` → bot gets `{"type":"offer","to":"bot-1a2b3c","sdp":"...","from":"student-..."}`.
Bad input never closes the connection: the sender gets `{"type":"error","code":...}`
and the socket's counters (`message_budget.MessageBudget`) one more; the log gets one
summary line per socket per interval. A socket that sends more than its budget
(burst 200, then 50/s) has the excess dropped unread, and is closed (4429) when it
goes on.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import WSMsgType, web
from proctorbot.conference.admission import ALL_ROLES, Admission, Refusal, admit
from proctorbot.conference.bad_message import BadMessage
from proctorbot.conference.janus_bridge import JANUS_BRIDGE
from proctorbot.conference.keys import ROOMS
from proctorbot.conference.message_budget import MessageBudget
from proctorbot.conference.rooms import (
    MAIN_DEVICE,
    Peer,
    Room,
    RoomRegistry,
    device_of,
    new_peer_id,
)
from proctorbot.conference.turn import ice_servers_for
from proctorbot.config.settings import ConferenceSettings

from proctorbot.context import CONTEXT

log = logging.getLogger(__name__)

# Close codes sent to a refused socket (4000 + the HTTP status of the refusal page).
CLOSE_REFUSED = 4403
CLOSE_ROOM_FULL = 4409
# (4001, a connection replaced by a newer one of the same person: rooms.CLOSE_REPLACED)
CLOSE_FLOODING = 4429


async def signaling_handler(request: web.Request) -> web.WebSocketResponse:
    ctx = request.app[CONTEXT]
    limit = ctx.settings.server.max_message_bytes
    # aiohttp itself closes the socket above max_msg_size; keep that far above our own
    # limit so an oversized message gets a friendly `error` and the call goes on.
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=max(4 * limit, 4 << 20))
    await ws.prepare(request)

    try:  # a database read: in a thread, so a locked database never stalls the loop
        admission = await asyncio.to_thread(admit, ctx, request.query.get("t", ""), roles=ALL_ROLES)
    except Refusal as refusal:
        log.warning("ws refused (%s): %s", refusal.reason, refusal)
        await send_error(ws, f"token_{refusal.reason}", str(refusal))
        await ws.close(code=CLOSE_REFUSED, message=refusal.reason.encode())
        return ws

    # a device's own link (the phone's QR) connects only as that device
    device = admission.device or device_of(request.query.get("device"))
    joined = await join_room(
        request.app[ROOMS],
        admission,
        ws,
        ctx.settings.conference,
        device=device,
        server_key=ctx.signer.secret,
    )
    if joined is None:
        return ws
    room, peer = joined
    # conference.mode = "janus": media through Janus (janus_bridge.py), its messages too
    bridge = request.app.get(JANUS_BRIDGE)
    relays = RELAYS if bridge is None else {**RELAYS, **bridge.relays()}
    budget = MessageBudget()
    try:
        if bridge is not None:
            await bridge.peer_joined(room, peer)
        async for msg in ws:
            if msg.type == WSMsgType.ERROR:
                log.warning(
                    "ws %s/%s closed with error: %s", room.session_id, peer.peer_id, ws.exception()
                )
            elif not budget.take():
                if await over_budget(room, peer, budget):
                    break
            elif msg.type == WSMsgType.TEXT:
                bad = await handle_message(room, peer, msg.data, limit, relays)
                if bad is not None:
                    budget.note_bad(bad.code)
            elif msg.type == WSMsgType.BINARY:
                await reject(peer, BadMessage("binary", "binary messages are not accepted"))
                budget.note_bad("binary")
            if budget.summary_due():
                log_summary(room, peer, budget)
    finally:
        log_summary(room, peer, budget)
        await leave_room(request.app, room, peer)
        if bridge is not None:
            await bridge.peer_left(room, peer)  # also when replaced: its own Janus session
    return ws


async def over_budget(room: Room, peer: Peer, budget: MessageBudget) -> bool:
    """A message dropped over the budget: warn once per interval; True once the socket
    is closed because the flood went on."""
    if budget.first_drop_of_interval():
        log.warning(
            "ws %s/%s sends faster than its budget (burst %d, %.0f/s): dropping the excess",
            room.session_id,
            peer.peer_id,
            budget.burst,
            budget.refill_per_s,
        )
    if not budget.exhausted:
        return False
    log.warning(
        "ws %s/%s closed: %d messages over budget", room.session_id, peer.peer_id, budget.dropped
    )
    await send_error(peer.ws, "flooding", "too many messages: the connection is closed")
    await peer.ws.close(code=CLOSE_FLOODING, message=b"flooding")
    return True


def log_summary(room: Room, peer: Peer, budget: MessageBudget) -> None:
    summary = budget.take_summary()
    if summary:
        log.warning("ws %s/%s: %s", room.session_id, peer.peer_id, summary)


async def join_room(
    rooms: RoomRegistry,
    admission: Admission,
    ws: web.WebSocketResponse,
    conf: ConferenceSettings,
    *,
    device: str = MAIN_DEVICE,
    server_key: bytes = b"",
) -> tuple[Room, Peer] | None:
    """Add the newcomer to its session's room, or refuse it when the room is full.

    The welcome's ``ice_servers`` carry TURN credentials made for this connection
    (conference/turn.py, from ``server_key`` unless ``turn_secret`` is set)."""
    off = admission.role in ("expert", "bot")  # an expert joins with camera and mic off
    peer = Peer(
        peer_id=new_peer_id(admission.role),
        role=admission.role,
        name=admission.name,
        person_id=admission.person_id,
        ws=ws,
        mic=not off,
        cam=not off,
        device=device,
    )
    welcome = {
        "type": "welcome",
        "peer_id": peer.peer_id,
        "role": peer.role,
        "name": peer.name,
        "person_id": peer.person_id,
        "device": peer.device,
        "session_id": admission.session_id,
        "title": admission.session_title,
        "peers": [],  # the others present as it enters (below)
        "ice_servers": ice_servers_for(conf, server_key, peer.peer_id),
        "ice_transport_policy": conf.ice_transport_policy,
        "language": admission.language,
        "media": conf.mode,  # "mesh": peer to peer; "janus": publish/subscribe via Janus
    }
    # rooms.enter: the older connection of the same person and device replaced, the
    # capacity checked, then `welcome` with the others present and `peer-joined` to them
    # (in one process, or across web nodes: conference/cluster_rooms.py)
    capacity = conf.max_participants_per_room
    room = await rooms.enter(
        peer,
        admission.session_id,
        capacity,
        lambda room: {**welcome, "peers": [p.describe() for p in room.peers.values()]},
    )
    if room is None:
        log.warning("room %s full: %s refused", admission.session_id, admission.name)
        await send_error(ws, "room_full", f"the room holds at most {capacity} people")
        await ws.close(code=CLOSE_ROOM_FULL, message=b"room_full")
        return None
    log.info("%s %s (%s) joined %s", peer.role, peer.peer_id, peer.name, room.session_id)
    return room, peer


async def leave_room(app: web.Application, room: Room, peer: Peer) -> None:
    reason = "left" if peer.ws.close_code in (1000, 1001, None) else f"closed-{peer.ws.close_code}"
    if not await app[ROOMS].leave(room, peer, reason):
        return  # already replaced by a newer connection of the same person
    log.info("%s %s left %s (%s)", peer.role, peer.peer_id, room.session_id, reason)


async def handle_message(
    room: Room, sender: Peer, raw: str, limit: int, relays: Mapping[str, Relay] | None = None
) -> BadMessage | None:
    """Parse one text message and relay it; any problem becomes an `error` to the sender
    (and is returned, for the socket's counters)."""
    try:
        if len(raw.encode()) > limit:
            raise BadMessage("too_large", f"message of {len(raw.encode())} bytes, limit {limit}")
        try:
            message = json.loads(raw)
        except ValueError:
            raise BadMessage("bad_json", "the message is not valid JSON") from None
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise BadMessage("not_object", "a message must be a JSON object with a string 'type'")
        relay = (RELAYS if relays is None else relays).get(message["type"])
        if relay is None:
            raise BadMessage("unknown_type", f"unknown message type {message['type'][:40]!r}")
        message["from"] = sender.peer_id
        log.debug(
            "%s: %s from %s to %s",
            room.session_id,
            message["type"],
            sender.peer_id,
            message.get("to", "all"),
        )
        await relay(room, sender, message)
    except BadMessage as bad:
        await reject(sender, bad)
        return bad
    return None


async def reject(sender: Peer, bad: BadMessage) -> None:
    """The sender hears why; the log only in the socket's summary (see `log_summary`)."""
    log.debug("bad message from %s (%s): %s", sender.peer_id, bad.code, bad)
    await send_error(sender.ws, bad.code, str(bad))


# --- one relay per message type ----------------------------------------------------


async def relay_to_peer(room: Room, sender: Peer, message: dict[str, Any]) -> None:
    """offer / answer / ice: to exactly one peer, named in `to`."""
    if message["type"] in ("offer", "answer"):
        require(message, "sdp", str)
    elif "candidate" not in message or not isinstance(message["candidate"], dict | None):
        raise BadMessage("bad_field", "'candidate' must be an RTCIceCandidateInit object or null")
    await room_peer(room, message).send(message)


async def relay_media_state(room: Room, sender: Peer, message: dict[str, Any]) -> None:
    """media-state: remember the sender's mic/cam and tell everyone else."""
    sender.mic = bool(require(message, "mic", bool))
    sender.cam = bool(require(message, "cam", bool))
    state = {"type": "media-state", "from": sender.peer_id, "mic": sender.mic, "cam": sender.cam}
    await room.media_state_changed(sender)  # web nodes sharing rooms record it
    await room.broadcast(state, exclude=sender.peer_id)


async def relay_prompt(room: Room, sender: Peer, message: dict[str, Any]) -> None:
    """prompt: only the bot speaks (in text) to one peer or to everyone."""
    if sender.role != "bot":
        raise BadMessage("forbidden", "only the bot sends prompts")
    require(message, "text", str)
    message.setdefault("key", "")
    message.setdefault("level", "info")
    await send_to_or_all(room, sender, message)


async def relay_panel(room: Room, sender: Peer, message: dict[str, Any]) -> None:
    """panel: area messages (checklist). People → bot and examiners; bot → `to` or all."""
    require(message, "area", str)
    require(message, "action", str)
    if sender.role == "bot":
        await send_to_or_all(room, sender, message)
        return
    for peer in room.with_role("bot", "examiner"):
        if peer.peer_id != sender.peer_id:
            await peer.send(message)
    if not room.with_role("bot"):
        raise BadMessage(
            "bot_absent", "the bot is not in the room; the panel message reached only examiners"
        )


Relay = Callable[[Room, Peer, dict[str, Any]], Awaitable[None]]
RELAYS: dict[str, Relay] = {
    "offer": relay_to_peer,
    "answer": relay_to_peer,
    "ice": relay_to_peer,
    "media-state": relay_media_state,
    "prompt": relay_prompt,
    "panel": relay_panel,
}


# --- small helpers -------------------------------------------------------------------


def require(message: dict[str, Any], field: str, kind: type) -> Any:
    value = message.get(field)
    if not isinstance(value, kind):
        raise BadMessage("bad_field", f"'{field}' must be a {kind.__name__}")
    return value


def room_peer(room: Room, message: dict[str, Any]) -> Peer:
    target = room.peers.get(require(message, "to", str))
    if target is None:
        raise BadMessage("unknown_peer", f"no peer {str(message['to'])[:40]!r} in this room")
    return target


async def send_to_or_all(room: Room, sender: Peer, message: dict[str, Any]) -> None:
    if message.get("to") is None:
        await room.broadcast(message, exclude=sender.peer_id)
    else:
        await room_peer(room, message).send(message)


async def send_error(ws: web.WebSocketResponse, code: str, message: str) -> None:
    if not ws.closed:
        await ws.send_str(json.dumps({"type": "error", "code": code, "message": message}))
