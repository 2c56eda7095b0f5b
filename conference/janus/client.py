"""An async client of Janus's HTTP API (aiohttp): sessions, plugin handles, messages, events.

One ``JanusClient`` per Janus instance (its base URL, e.g. ``http://10.77.0.1:8088/janus``)::

    async with JanusClient(url, api_secret=secret) as janus:
        session = await janus.create_session()       # long-poll + keepalive tasks start
        handle = await session.attach("janus.plugin.videoroom")
        reply = await handle.message({"request": "list"})     # sync request: answered at once
        reply = await handle.message({"request": "join", ...}, jsep=offer)  # async: the event
        event = await handle.next_event(timeout=10)            # unsolicited plugin events
        await handle.trickle(None)                             # end of candidates
        await handle.detach(); await session.destroy()

Every request carries a fresh transaction id. A plugin request Janus acknowledges
(``ack``) is answered later on the session's long poll (``GET /janus/<session>``) by an
event with the same transaction: ``message`` waits for it. Other events of a handle
(``webrtcup``, ``media``, ``hangup``, ``slowlink``, ``detached``, the plugin's own
``event``\\s) go to its queue (``next_event``). Errors are typed: ``JanusUnreachable``
(no answer), ``JanusApiError`` (Janus's own error codes, e.g. 458 no such session),
``JanusPluginError`` (the plugin's ``error_code``, e.g. the VideoRoom's 426 no such room),
each with a message in words. Nothing here is VideoRoom-specific (see videoroom.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

VIDEOROOM_PLUGIN = "janus.plugin.videoroom"
REQUEST_TIMEOUT_S = 10.0
EVENT_TIMEOUT_S = 20.0
# Janus answers a long poll after at most 30 s (with a keepalive when nothing happened).
LONG_POLL_TIMEOUT_S = 45.0
KEEPALIVE_EVERY_S = 25.0
MAX_EVENTS_PER_POLL = 10

# janus/apierror.h
JANUS_API_ERRORS: dict[int, str] = {
    403: "unauthorized (wrong or missing api_secret or token)",
    405: "the plugin is not allowed for this token",
    450: "transport error",
    452: "the request is missing",
    453: "unknown request",
    454: "invalid JSON",
    455: "the JSON is not an object",
    456: "a mandatory element is missing",
    457: "invalid request path",
    458: "no such session (it timed out or was destroyed)",
    459: "no such handle (it was detached)",
    460: "no such plugin (not loaded on this Janus)",
    461: "the plugin refused the attach",
    462: "the plugin could not handle the message",
    463: "the plugin refused the detach",
    464: "unknown JSEP type",
    465: "invalid SDP",
    466: "invalid trickle candidate",
    467: "an element has the wrong type",
    468: "session id already in use",
    469: "an answer was not expected",
    470: "token not found",
    471: "wrong WebRTC state",
    472: "not accepting new sessions",
    490: "unknown error",
}

# plugins/janus_videoroom.c
VIDEOROOM_ERRORS: dict[int, str] = {
    421: "no message",
    422: "invalid JSON",
    423: "invalid request",
    424: "join the room first",
    425: "already joined",
    426: "no such room",
    427: "the room already exists",
    428: "no such feed (the publisher is gone)",
    429: "a mandatory element is missing",
    430: "an element is invalid",
    431: "invalid SDP type",
    432: "the room has as many publishers as it allows",
    433: "unauthorized (room secret or pin)",
    434: "already published",
    435: "not published",
    436: "that participant id is already in use",
    437: "invalid SDP",
    499: "unknown error",
}


class JanusError(Exception):
    """Anything that went wrong talking to Janus; ``code`` is Janus's when it gave one."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class JanusUnreachable(JanusError):
    """No (valid) HTTP answer from the instance."""


class JanusApiError(JanusError):
    """Janus core refused the request (``{"janus": "error", "error": {code, reason}}``)."""


class JanusPluginError(JanusError):
    """The plugin answered with ``error_code`` / ``error``."""


def transaction_id() -> str:
    return secrets.token_urlsafe(12)


def _api_error(request: str, answer: dict[str, Any]) -> JanusApiError:
    error = answer.get("error") or {}
    code = error.get("code")
    reason = error.get("reason") or ""
    meaning = JANUS_API_ERRORS.get(code, "error") if isinstance(code, int) else "error"
    return JanusApiError(f"Janus refused {request}: {meaning} ({code}: {reason})", code)


def plugin_error(plugin: str, request: str, data: dict[str, Any]) -> JanusPluginError | None:
    """The plugin's error in ``data`` (plugindata.data), or None."""
    code = data.get("error_code")
    if code is None and "error" not in data:
        return None
    reason = data.get("error") or ""
    table = VIDEOROOM_ERRORS if plugin == VIDEOROOM_PLUGIN else {}
    meaning = table.get(code, "error") if isinstance(code, int) else "error"
    return JanusPluginError(f"{plugin} refused {request}: {meaning} ({code}: {reason})", code)


@dataclass(frozen=True)
class JanusEvent:
    """One event of a handle: ``janus`` kind (``event``, ``webrtcup``, ``media``, ``hangup``,
    ``slowlink``, ``detached``...), the plugin's data (``plugindata.data``) and JSEP."""

    janus: str
    data: dict[str, Any]
    jsep: dict[str, Any] | None
    raw: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class PluginReply:
    """A plugin's answer to ``message``: its data and the JSEP (offer/answer) if any."""

    data: dict[str, Any]
    jsep: dict[str, Any] | None


class JanusClient:
    """One Janus instance's HTTP API. Use as ``async with`` or call ``close()``."""

    def __init__(
        self,
        base_url: str,
        *,
        api_secret: str | None = None,
        http: aiohttp.ClientSession | None = None,
        request_timeout: float = REQUEST_TIMEOUT_S,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_secret = api_secret or None
        self._http = http
        self._own_http = http is None
        self.request_timeout = request_timeout
        self._sessions: list[JanusSession] = []

    async def __aenter__(self) -> JanusClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _session_http(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        return self._http

    async def close(self) -> None:
        """Destroy the sessions still open (best effort) and close the HTTP session."""
        for session in list(self._sessions):
            with contextlib.suppress(JanusError, asyncio.TimeoutError):
                await session.destroy()
        if self._own_http and self._http is not None:
            await self._http.close()
        self._http = None

    async def info(self) -> dict[str, Any]:
        """``GET /janus/info``: version, plugins, transports."""
        return await self._get("/info", timeout=self.request_timeout)

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST a Janus request (a transaction id and the api secret added); the answer,
        or JanusApiError when Janus answers ``error``."""
        body = {**body, "transaction": body.get("transaction") or transaction_id()}
        if self.api_secret:
            body["apisecret"] = self.api_secret
        url = self.base_url + path
        try:
            async with self._session_http().post(
                url, json=body, timeout=aiohttp.ClientTimeout(total=self.request_timeout)
            ) as response:
                answer = await response.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            raise JanusUnreachable(f"Janus at {self.base_url} did not answer: {exc!r}") from exc
        if not isinstance(answer, dict):
            raise JanusUnreachable(f"Janus at {self.base_url} answered no JSON object")
        if answer.get("janus") == "error":
            raise _api_error(str(body.get("janus")), answer)
        return answer

    async def _get(self, path: str, *, timeout: float, params: dict[str, str] | None = None) -> Any:
        query = dict(params or {})
        if self.api_secret:
            query["apisecret"] = self.api_secret
        try:
            async with self._session_http().get(
                self.base_url + path, params=query, timeout=aiohttp.ClientTimeout(total=timeout)
            ) as response:
                answer = await response.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            raise JanusUnreachable(f"Janus at {self.base_url} did not answer: {exc!r}") from exc
        if isinstance(answer, dict) and answer.get("janus") == "error":
            raise _api_error("GET " + path, answer)
        return answer

    async def create_session(self, *, keepalive_every: float = KEEPALIVE_EVERY_S) -> JanusSession:
        """``create``: a Janus session with its long-poll and keepalive tasks running."""
        answer = await self.post("", {"janus": "create"})
        session = JanusSession(self, int(answer["data"]["id"]), keepalive_every)
        self._sessions.append(session)
        session.start()
        return session

    def _forget(self, session: JanusSession) -> None:
        if session in self._sessions:
            self._sessions.remove(session)


class JanusSession:
    """A Janus session: plugin handles, the event long poll, keepalives."""

    def __init__(self, client: JanusClient, session_id: int, keepalive_every: float) -> None:
        self.client = client
        self.id = session_id
        self.keepalive_every = keepalive_every
        self.handles: dict[int, JanusHandle] = {}
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.closed = asyncio.Event()
        self.close_reason = ""
        self._stopper: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._poll(), name=f"janus-poll-{self.id}"),
            asyncio.create_task(self._keepalives(), name=f"janus-keepalive-{self.id}"),
        ]

    async def attach(self, plugin: str = VIDEOROOM_PLUGIN, *, opaque_id: str = "") -> JanusHandle:
        body: dict[str, Any] = {"janus": "attach", "plugin": plugin}
        if opaque_id:
            body["opaque_id"] = opaque_id
        answer = await self.client.post(f"/{self.id}", body)
        handle = JanusHandle(self, int(answer["data"]["id"]), plugin)
        self.handles[handle.id] = handle
        return handle

    async def keepalive(self) -> None:
        await self.client.post(f"/{self.id}", {"janus": "keepalive"})

    async def destroy(self) -> None:
        """``destroy`` (best effort when Janus is gone) and stop the session's tasks."""
        try:
            if not self.closed.is_set():
                await self.client.post(f"/{self.id}", {"janus": "destroy"})
        finally:
            await self._stop("destroyed")

    def _stop_soon(self, reason: str) -> None:
        """From the session's own tasks: stop in a task of its own (kept referenced)."""
        if self._stopper is None:
            self._stopper = asyncio.create_task(self._stop(reason), name=f"janus-stop-{self.id}")

    async def _stop(self, reason: str) -> None:
        if not self.close_reason:
            self.close_reason = reason
        self.closed.set()
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        for task in self._tasks:
            if task is not current:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        error = JanusError(f"Janus session {self.id} closed: {self.close_reason}")
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(error)
        self._waiting.clear()
        for handle in self.handles.values():
            handle._close(self.close_reason)
        self.client._forget(self)

    def _expect(self, transaction: str) -> asyncio.Future[dict[str, Any]]:
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[transaction] = future
        return future

    def _forget_transaction(self, transaction: str) -> None:
        self._waiting.pop(transaction, None)

    async def _keepalives(self) -> None:
        while True:
            await asyncio.sleep(self.keepalive_every)
            try:
                await self.keepalive()
            except JanusApiError as exc:
                log.warning("janus session %s: %s", self.id, exc)
                self._stop_soon(str(exc))
                return
            except JanusUnreachable as exc:
                log.warning("janus session %s keepalive: %s", self.id, exc)

    async def _poll(self) -> None:
        failures = 0
        while True:
            try:
                answer = await self.client._get(
                    f"/{self.id}",
                    timeout=LONG_POLL_TIMEOUT_S,
                    params={"maxev": str(MAX_EVENTS_PER_POLL), "rid": transaction_id()},
                )
                failures = 0
            except JanusApiError as exc:
                log.warning("janus session %s long poll: %s", self.id, exc)
                self._stop_soon(str(exc))
                return
            except JanusUnreachable as exc:
                failures += 1
                if failures >= 3:
                    log.warning("janus session %s: %s", self.id, exc)
                    self._stop_soon(f"unreachable: {exc}")
                    return
                await asyncio.sleep(1.0)
                continue
            for message in answer if isinstance(answer, list) else [answer]:
                if isinstance(message, dict):
                    self._route(message)

    def _route(self, message: dict[str, Any]) -> None:
        kind = message.get("janus")
        if kind == "keepalive":
            return
        if kind == "timeout":
            self._stop_soon("timed out")
            return
        transaction = message.get("transaction")
        if kind == "event" and transaction in self._waiting:
            future = self._waiting.pop(transaction)
            if not future.done():
                future.set_result(message)
            return
        sender = message.get("sender")
        handle = self.handles.get(int(sender)) if isinstance(sender, int) else None
        if handle is None:
            log.debug("janus session %s: event for no handle: %s", self.id, message)
            return
        handle._deliver(message)


class JanusHandle:
    """A handle attached to a plugin: messages, trickle, its events."""

    def __init__(self, session: JanusSession, handle_id: int, plugin: str) -> None:
        self.session = session
        self.id = handle_id
        self.plugin = plugin
        self._events: asyncio.Queue[JanusEvent | None] = asyncio.Queue()
        self.detached = False

    @property
    def _path(self) -> str:
        return f"/{self.session.id}/{self.id}"

    async def message(
        self,
        body: dict[str, Any],
        jsep: dict[str, Any] | None = None,
        *,
        timeout: float = EVENT_TIMEOUT_S,
    ) -> PluginReply:
        """Send a plugin request; its answer (synchronous ``success`` or, after ``ack``,
        the event with this transaction). Raises JanusPluginError on the plugin's error."""
        transaction = transaction_id()
        request: dict[str, Any] = {"janus": "message", "transaction": transaction, "body": body}
        if jsep is not None:
            request["jsep"] = jsep
        future = self.session._expect(transaction)
        try:
            answer = await self.session.client.post(self._path, request)
            if answer.get("janus") == "ack":
                try:
                    answer = await asyncio.wait_for(future, timeout)
                except TimeoutError as exc:
                    raise JanusError(
                        f"{self.plugin} did not answer {body.get('request')!r} in {timeout:.0f} s"
                    ) from exc
        finally:
            self.session._forget_transaction(transaction)
        data = (answer.get("plugindata") or {}).get("data") or {}
        error = plugin_error(self.plugin, str(body.get("request")), data)
        if error is not None:
            raise error
        return PluginReply(data=data, jsep=answer.get("jsep"))

    async def trickle(self, candidate: dict[str, Any] | None) -> None:
        """One ICE candidate (``{candidate, sdpMid, sdpMLineIndex}``), or None: the end."""
        body: dict[str, Any] = {"janus": "trickle"}
        body["candidate"] = candidate if candidate is not None else {"completed": True}
        await self.session.client.post(self._path, body)

    async def next_event(self, timeout: float | None = None) -> JanusEvent | None:
        """The handle's next unsolicited event; None once it is detached or its session
        closed. Raises asyncio.TimeoutError after ``timeout``."""
        if self.detached and self._events.empty():
            return None
        return await asyncio.wait_for(self._events.get(), timeout)

    async def hangup(self) -> None:
        await self.session.client.post(self._path, {"janus": "hangup"})

    async def detach(self) -> None:
        """``detach`` (best effort when the session is gone)."""
        try:
            if not self.detached and not self.session.closed.is_set():
                await self.session.client.post(self._path, {"janus": "detach"})
        except JanusApiError as exc:
            if exc.code not in (458, 459):
                raise
        finally:
            self.session.handles.pop(self.id, None)
            self._close("detached")

    def _deliver(self, message: dict[str, Any]) -> None:
        data = (message.get("plugindata") or {}).get("data") or {}
        self._events.put_nowait(
            JanusEvent(str(message.get("janus")), data, message.get("jsep"), message)
        )
        if message.get("janus") == "detached":
            self._close("detached")

    def _close(self, reason: str) -> None:
        if not self.detached:
            self.detached = True
            self._events.put_nowait(None)
