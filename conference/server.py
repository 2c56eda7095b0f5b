"""Mounts the conference on the app: call page, signaling, static files."""

from __future__ import annotations

from aiohttp import WSCloseCode, web
from proctorbot.conference.extra_sources import phone_link_handler
from proctorbot.conference.keys import PANEL_SCRIPTS, ROOMS
from proctorbot.conference.off_loop import database_busy_answer
from proctorbot.conference.pages import STATIC_DIR, call_page
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
        for peer in list(room.peers.values()):
            await peer.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


async def setup(app: web.Application, ctx: AppContext) -> RoomRegistry:
    """The call page, the signaling and the static files; the room registry it keeps."""
    rooms = app[ROOMS] = RoomRegistry()
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
    return rooms
