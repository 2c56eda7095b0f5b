"""A local stand-in for Telegram's Bot API, enough for python-telegram-bot 22.

``POST /bot<token>/<method>`` with form, JSON or multipart bodies; answers with the real
shapes (``{"ok": true, "result": ...}``). Tests steer it: a run of 502s (an outage),
429 with ``retry_after``, chats that blocked the bot, updates for ``getUpdates``.
Listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_USER = {
    "id": 7000000001,
    "is_bot": True,
    "first_name": "Proctor",
    "username": "proctor_test_bot",
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
SEND_METHODS = ("sendMessage", "sendPhoto", "sendDocument", "sendVideo")


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)


class FakeBotApi:
    def __init__(self, token: str = "123456:TEST-token") -> None:
        self.token = token
        self.calls: list[Call] = []
        self.fail_next: deque[int] = deque()  # HTTP statuses to answer sends with
        self.outage_sends = 0  # the next N sends answer 502
        self.retry_after: dict[int, int] = {}  # chat -> seconds, answered once
        self.blocked_chats: set[int] = set()
        self.updates: asyncio.Queue[dict] = asyncio.Queue()
        self._update_id = 100
        self._message_id = 1
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- what tests look at -------------------------------------------------------
    def down_at(self, port: int) -> FakeBotApi:
        """Its address before it listens: the Bot API unreachable until ``start``."""
        self.port = port
        return self

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    def delivered(self, chat_id: int | None = None) -> list[Call]:
        """Sends that Telegram accepted, in arrival order."""
        return [
            c
            for c in self.calls
            if c.method in SEND_METHODS
            and c.params.get("_accepted")
            and (chat_id is None or int(c.params["chat_id"]) == chat_id)
        ]

    def texts(self, chat_id: int | None = None) -> list[str]:
        return [
            c.params.get("text") or c.params.get("caption") or "" for c in self.delivered(chat_id)
        ]

    def push_command(self, chat_id: int, text: str, *, first_name: str = "Anna") -> None:
        self._update_id += 1
        command = text.split()[0]
        self.updates.put_nowait(
            {
                "update_id": self._update_id,
                "message": {
                    "message_id": self._next_message_id(),
                    "date": int(time.time()),
                    "chat": {"id": chat_id, "type": "private", "first_name": first_name},
                    "from": {"id": chat_id, "is_bot": False, "first_name": first_name},
                    "text": text,
                    "entities": [{"type": "bot_command", "offset": 0, "length": len(command)}],
                },
            }
        )

    # --- server -------------------------------------------------------------------
    async def start(self, port: int = 0) -> FakeBotApi:
        """Listen (again, after ``stop``: an outage that ended) on ``port`` (0: any free)."""
        app = web.Application(client_max_size=200 * 2**20)
        app.router.add_post("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port or self.port, reuse_address=True)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        token, method = request.match_info["token"], request.match_info["method"]
        params, files = await _read_params(request)
        call = Call(method, params, files)
        self.calls.append(call)
        if token != self.token:
            return _error(401, "Unauthorized")
        if method == "getMe":
            return _ok(BOT_USER)
        if method == "getUpdates":
            return _ok(await self._updates(params))
        if method in ("deleteWebhook", "setMyCommands", "close", "logOut"):
            return _ok(True)
        if method in SEND_METHODS:
            return self._send(call)
        return _error(404, "Not Found: method not found")

    async def _updates(self, params: dict[str, Any]) -> list[dict]:
        timeout = min(float(params.get("timeout") or 0), 0.3)
        batch: list[dict] = []
        try:
            batch.append(await asyncio.wait_for(self.updates.get(), timeout=timeout or 0.01))
        except TimeoutError:
            return []
        while not self.updates.empty():
            batch.append(self.updates.get_nowait())
        return batch

    def _send(self, call: Call) -> web.Response:
        chat_id = int(call.params["chat_id"])
        if self.outage_sends > 0:
            self.outage_sends -= 1
            return web.Response(status=502, text="<html>502 Bad Gateway</html>")
        if self.fail_next:
            return _error(self.fail_next.popleft(), "Internal Server Error")
        if chat_id in self.retry_after:
            seconds = self.retry_after.pop(chat_id)
            return _error(
                429, f"Too Many Requests: retry after {seconds}", {"retry_after": seconds}
            )
        if chat_id in self.blocked_chats:
            return _error(403, "Forbidden: bot was blocked by the user")
        call.params["_accepted"] = True
        message: dict[str, Any] = {
            "message_id": self._next_message_id(),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "User"},
            "from": {k: BOT_USER[k] for k in ("id", "is_bot", "first_name", "username")},
        }
        file_id = f"file{message['message_id']}"
        if call.method == "sendMessage":
            message["text"] = call.params["text"]
        elif call.method == "sendPhoto":
            message["photo"] = [
                {
                    "file_id": file_id,
                    "file_unique_id": file_id,
                    "width": 640,
                    "height": 480,
                    "file_size": len(call.files.get("photo", b"")),
                }
            ]
        elif call.method == "sendVideo":
            message["video"] = {
                "file_id": file_id,
                "file_unique_id": file_id,
                "width": 640,
                "height": 480,
                "duration": 5,
            }
        else:
            message["document"] = {
                "file_id": file_id,
                "file_unique_id": file_id,
                "file_name": call.params.get("_filename", "file"),
            }
        if call.params.get("caption"):
            message["caption"] = call.params["caption"]
        return _ok(message)

    def _next_message_id(self) -> int:
        self._message_id += 1
        return self._message_id


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, bytes]]:
    params: dict[str, Any] = {}
    files: dict[str, bytes] = {}
    content_type = request.content_type
    if content_type == "application/json":
        params = await request.json() if request.can_read_body else {}
    elif content_type == "multipart/form-data":
        reader = await request.multipart()
        async for part in reader:
            data = await part.read()
            if part.filename:
                files[part.name] = data
                params["_filename"] = part.filename
            else:
                params[part.name] = data.decode()
    elif request.can_read_body:
        params = dict(await request.post())
    for key, value in list(params.items()):
        if isinstance(value, str) and value[:1] in "{[":
            try:
                params[key] = json.loads(value)
            except ValueError:
                pass
    return params, files


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(code: int, description: str, parameters: dict | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=code)
