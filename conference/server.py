"""Mounts the conference on the app: call page, signaling, static files."""

from __future__ import annotations

from aiohttp import WSCloseCode, web
from proctorbot.conference.cluster_rooms import ClusterRooms
from proctorbot.conference.extra_sources import phone_link_handler
from proctorbot.conference.janus_bridge import mount_janus_bridge
from proctorbot.conference.keys import PANEL_SCRIPTS, ROOMS
from proctorbot.conference.off_loop import database_busy_answer
from proctorbot.conference.pages import STATIC_DIR, call_page
from proctorbot.conference.presence import PresenceStore
from proctorbot.conference.room_relay import NodeRelay
from proctorbot.conference.rooms import RoomRegistry
from proctorbot.conference.security_headers import add_security_headers
from proctorbot.conference.signaling import signaling_handler

from proctorbot.context import AppContext


async def index(request: web.Request) -> web.Response:
    return web.Response(text="proctorbot: open the call link you received.\n")


async def health(request: web.Request) -> web.Response:
    rooms = request.app[ROOMS].rooms
    return web.json_response(
        {"ok": True, "rooms": len(rooms), "peers": sum(len(r.peers) for r in rooms.values())}
    )


async def close_all_sockets(app: web.Application) -> None:
    """On shutdown, say goodbye (1001 going away) so browsers reconnect to the next server."""
    for room in list(app[ROOMS].rooms.values()):
        for peer in room.local_peers():  # (web nodes sharing rooms: only this node's)
            await peer.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


def room_registry(ctx: AppContext, relay: NodeRelay | None) -> RoomRegistry:
    """Rooms in this process's memory, or, given a relay between web nodes, rooms shared
    with the other nodes through the database (conference/cluster_rooms.py)."""
    if relay is None:
        return RoomRegistry()
    cluster = ctx.settings.cluster
    return ClusterRooms(
        store=PresenceStore(ctx.db),
        relay=relay,
        heartbeat_s=cluster.node_heartbeat_s,
        timeout_s=cluster.heartbeat_timeout_s,
    )


async def setup(
    app: web.Application, ctx: AppContext, *, relay: NodeRelay | None = None
) -> RoomRegistry:
    """The call page, the signaling and the static files; the room registry it keeps
    (shared with other web nodes through ``relay`` when given)."""
    rooms = app[ROOMS] = room_registry(ctx, relay)

    async def start_rooms(app: web.Application) -> None:
        await rooms.start()

    async def stop_rooms(app: web.Application) -> None:
        await rooms.stop()

    app.on_startup.append(start_rooms)
    app.on_cleanup.append(stop_rooms)
    app[PANEL_SCRIPTS] = []
    app.router.add_get("/", index)
    app.router.add_get("/healthz", health)
    app.router.add_get("/call", call_page)
    app.router.add_get("/call/phone-link", phone_link_handler)
    app.router.add_get("/ws", signaling_handler)
    app.router.add_static("/static", STATIC_DIR)
    app.on_shutdown.append(close_all_sockets)
    app.on_response_prepare.append(add_security_headers)  # CSP, no framing, no banner
    app.middlewares.append(database_busy_answer)  # a locked database: 503, not 500
    if ctx.settings.conference.mode == "janus":  # media through Janus, not a mesh
        mount_janus_bridge(app, ctx)
    return rooms
