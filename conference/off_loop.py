"""HTTP handlers that touch the database run in a thread, never on the server's loop.

A database call waits when another connection holds SQLite's write lock (up to the
busy timeout, 15 s). On the event loop that wait would stall every socket of the
server: signaling, ``/healthz``, the bot's media. ``in_thread(handler)`` runs an
ordinary ``async def handler(request)`` whole in a worker thread, on a small event
loop of its own, so its database calls, templates and file checks never block the
server's loop. The request body is read first, on the server's loop; the handler's
``await request.post()`` / ``read()`` / ``json()`` find it already read.

A handler run this way may use the request, the settings and the database, and
``asyncio.to_thread``; it must not use objects bound to the server's loop (the room
registry, the bot manager, queues or locks made at start-up).

``database_busy_answer`` turns a database that stayed locked longer than a request can
wait into a 503 page with ``Retry-After``, instead of a 500: nothing was done, the
person is told to try again.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web
from proctorbot.storage.db_retry import DatabaseBusy, is_lock_error
from sqlalchemy.exc import OperationalError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
RETRY_AFTER_S = 10


def in_thread(handler: Handler) -> Handler:
    """The same handler, run in a worker thread on its own event loop."""

    @functools.wraps(handler)
    async def run(request: web.Request) -> web.StreamResponse:
        if request.body_exists:
            if request.content_type in FORM_TYPES:
                await request.post()  # cached on the request
            else:
                await request.read()  # cached on the request
        return await asyncio.to_thread(asyncio.run, handler(request))

    return run


def routes_in_thread(routes: Iterable[web.RouteDef]) -> list[web.RouteDef]:
    """``in_thread`` for each handler of a route table."""
    return [web.RouteDef(r.method, r.path, in_thread(r.handler), r.kwargs) for r in routes]


@web.middleware
async def database_busy_answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except (DatabaseBusy, OperationalError) as exc:
        if isinstance(exc, OperationalError) and not is_lock_error(exc):
            raise
        log.warning("%s %s: database locked, answered 503", request.method, request.path)
        return web.Response(
            status=503,
            text="The database is busy; nothing was changed. Try again in a minute.\n"
            "База данных занята; ничего не изменено. Повторите через минуту.\n",
            headers={"Retry-After": str(RETRY_AFTER_S), "Cache-Control": "no-store"},
        )
