"""Reusable fixtures for tests that need a running server, signaling clients or Chromium.

Loaded for every test via ``pytest_plugins`` in tests/conftest.py, so a test only names
the fixtures:

    async def test_something(running_server, fake_media, playwright_async):
        browser = await launch_chromium(playwright_async, fake_media)
        page = await open_call(browser, running_server.link("student"))
        async with signaling_client(running_server, role="bot") as bot: ...

- ``running_server``: the real app (`build_app`) with the conference alone on
  127.0.0.1 at a free port, a migrated temporary database, the demo day seeded;
  ``running_server.session_id`` is the session that starts now.
- ``running_full_server``: the same with every area plugged in, as `proctorbot serve`
  (the bot service joins due sessions by itself); ``serve_app(ctx, areas=...)`` for more.
- ``fake_media``: a small .y4m (ffmpeg testsrc) and a spoken .wav (espeak-ng + sox).
- ``playwright_async``: an async Playwright instance (browser tests only).
- ``launch_chromium``, ``open_call``, ``wait_remote_video``: drive Debian's Chromium.
- ``signaling_client``: a WebSocket client speaking the signaling protocol (e.g. as the bot).

Browser tests need a loopback-only network (WebRTC must not touch other addresses):
`make test` provides one as root; elsewhere they are skipped with the reason, unless
PROCTORBOT_BROWSER_ANY_NETWORK=1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
    # Real addresses in ICE candidates instead of mDNS names (the bot cannot resolve them).
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
PHONE_VIEWPORT = {"width": 390, "height": 844}
DESKTOP_VIEWPORT = {"width": 1280, "height": 800}


# --- the server ---------------------------------------------------------------------


@dataclass
class RunningServer:
    """A live server on 127.0.0.1 with the demo exam day in its database."""

    url: str
    ctx: Any  # proctorbot.context.AppContext
    app: Any  # aiohttp.web.Application
    session_ids: list[str]
    session_id: str  # the demo session that starts now

    def token(self, role: str, session_id: str | None = None) -> str:
        """A call token for the demo person with `role` (or the bot) in a session."""
        from proctorbot.conference.links import bot_token, session_links

        sid = session_id or self.session_id
        if role == "bot":
            return bot_token(self.ctx, sid)
        for link in session_links(self.ctx, sid):
            if link.role == role:
                return link.token
        raise LookupError(f"no {role} in session {sid}")

    def link(self, role: str, session_id: str | None = None) -> str:
        """The call page URL a person of `role` opens."""
        from urllib.parse import quote

        return f"{self.url}/call?t={quote(self.token(role, session_id))}"

    def ws_url(self, token: str) -> str:
        return f"{self.url.replace('http', 'ws', 1)}/ws?t={token}"


@contextlib.asynccontextmanager
async def serve_app(
    ctx: Any, *, areas: Any = (), seed_demo: bool = True
) -> AsyncIterator[RunningServer]:
    """Run `build_app(ctx)` on 127.0.0.1:<free port> until the block ends.

    `areas=()` mounts the conference alone (no bot joins by itself: deterministic);
    `areas=Areas(checklist=True)` (proctorbot/app.py) the conference and those areas;
    `areas=None` wires every area, exactly like `proctorbot serve`.
    """
    import socket

    from aiohttp import web
    from proctorbot.storage.demo import seed_demo as seed

    from proctorbot.app import EVERY_AREA, Areas, build_app

    # Bind first, so the public URL is right before any area reads the settings.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    host, port = sock.getsockname()
    url = f"http://{host}:{port}"
    ctx.settings.server.host, ctx.settings.server.port = host, port
    ctx.settings.server.public_url = url
    ctx.settings.conference.allow_loopback = True
    session_ids: list[str] = []
    if seed_demo:
        session_ids = seed(ctx.db, profile=ctx.settings.default_profile, language="ru").session_ids
    app = await build_app(ctx, areas=EVERY_AREA if areas is None else areas or Areas())
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=2.0)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        yield RunningServer(url, ctx, app, session_ids, session_ids[0] if session_ids else "")
    finally:
        await runner.cleanup()


@pytest.fixture
async def running_server(app_context) -> AsyncIterator[RunningServer]:
    """The conference alone (call page + signaling) with the demo day seeded."""
    async with serve_app(app_context) as server:
        yield server


@pytest.fixture
async def running_full_server(app_context) -> AsyncIterator[RunningServer]:
    """Everything `proctorbot serve` plugs in (the bot joins sessions that are due)."""
    async with serve_app(app_context, areas=None) as server:
        yield server


# --- a signaling client (the bot's side, or a scripted participant) ---------------------


@dataclass
class SignalingClient:
    """A WebSocket peer; `welcome` is the first message the server sent it."""

    ws: Any  # aiohttp.ClientWebSocketResponse
    welcome: dict[str, Any]
    inbox: list[dict[str, Any]] = field(default_factory=list)

    @property
    def peer_id(self) -> str:
        return self.welcome["peer_id"]

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(message))

    async def receive(self, type_: str | None = None, timeout: float = 5.0) -> dict[str, Any]:
        """The next message (of `type_` if given); others are kept in `inbox`."""
        for i, message in enumerate(self.inbox):
            if type_ is None or message["type"] == type_:
                return self.inbox.pop(i)
        async with asyncio.timeout(timeout):
            while True:
                msg = await self.ws.receive()
                if msg.type.name != "TEXT":
                    raise ConnectionError(f"socket closed while waiting for {type_}: {msg}")
                message = json.loads(msg.data)
                if type_ is None or message["type"] == type_:
                    return message
                self.inbox.append(message)


async def offer_answer_ice_relayed(offerer: SignalingClient, answerer: SignalingClient) -> None:
    """An offer, its answer and an ICE candidate go through unchanged, each with the
    sender's ``from`` added (one node or across web nodes)."""
    await offerer.send({"type": "offer", "to": answerer.peer_id, "sdp": "v=0 offer"})
    offer = await answerer.receive("offer")
    assert offer == {
        "type": "offer",
        "to": answerer.peer_id,
        "sdp": "v=0 offer",
        "from": offerer.peer_id,
    }
    await answerer.send({"type": "answer", "to": offerer.peer_id, "sdp": "v=0 answer"})
    assert (await offerer.receive("answer"))["from"] == answerer.peer_id
    candidate = {"candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host", "sdpMid": "0"}
    await answerer.send({"type": "ice", "to": offerer.peer_id, "candidate": candidate})
    assert (await offerer.receive("ice"))["candidate"] == candidate


@contextlib.asynccontextmanager
async def signaling_client(
    server: RunningServer,
    role: str = "bot",
    *,
    token: str | None = None,
    session_id: str | None = None,
) -> AsyncIterator[SignalingClient]:
    """Connect to `/ws` as `role` of the demo session and wait for `welcome`."""
    import aiohttp

    url = server.ws_url(token or server.token(role, session_id))
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        first = json.loads((await ws.receive(timeout=10)).data)
        if first.get("type") != "welcome":
            raise ConnectionError(f"no welcome: {first}")
        yield SignalingClient(ws, first)


# --- fake media for Chromium -------------------------------------------------------------


@dataclass(frozen=True)
class FakeMedia:
    video: Path  # .y4m, Chromium loops it
    audio: Path  # .wav 48 kHz mono s16, Chromium loops it


def make_fake_media(
    directory: Path,
    *,
    text: str = "Здравствуйте. Меня зовут Анна Смирнова. Я готова отвечать.",
    voice: str = "ru",
    seconds: float = 6.0,
    size: str = "320x240",
    fps: int = 15,
    name: str = "fake",
) -> FakeMedia:
    """A testsrc video and a spoken WAV padded to `seconds` (ffmpeg, espeak-ng, sox)."""
    for tool in ("ffmpeg", "espeak-ng", "sox"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    directory.mkdir(parents=True, exist_ok=True)
    video, audio = directory / f"{name}.y4m", directory / f"{name}.wav"
    raw = directory / f"{name}-espeak.wav"
    run = lambda *cmd: subprocess.run(cmd, check=True, capture_output=True)  # noqa: E731
    run(
        "ffmpeg",
        "-y",
        "-loglevel",
        "error",
        "-f",
        "lavfi",
        "-i",
        f"testsrc=size={size}:rate={fps}",
        "-t",
        str(seconds),
        "-pix_fmt",
        "yuv420p",
        str(video),
    )
    run("espeak-ng", "-v", voice, "-w", str(raw), text)
    run(
        "sox",
        str(raw),
        "-r",
        "48000",
        "-c",
        "1",
        "-b",
        "16",
        str(audio),
        "pad",
        "0.3",
        "0",
        "trim",
        "0",
        str(seconds),
    )
    raw.unlink()
    return FakeMedia(video, audio)


@pytest.fixture(scope="session")
def fake_media(tmp_path_factory: pytest.TempPathFactory) -> FakeMedia:
    return make_fake_media(tmp_path_factory.mktemp("fake-media"))


# --- Chromium ------------------------------------------------------------------------------


def loopback_only_network() -> bool:
    import psutil

    return set(psutil.net_if_addrs()) <= {"lo"}


@pytest.fixture
async def playwright_async() -> AsyncIterator[Any]:
    """Async Playwright, or a skip when Chromium or a loopback-only network is missing."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    if not loopback_only_network() and os.environ.get("PROCTORBOT_BROWSER_ANY_NETWORK") != "1":
        pytest.skip(
            "browser tests run only in a loopback-only network namespace "
            "(`make test` as root, or `unshare -n sh -c 'ip link set lo up; pytest ...'`)"
        )
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        yield pw


async def launch_chromium(
    playwright: Any, media: FakeMedia | None = None, *, extra_args: tuple[str, ...] = ()
) -> Any:
    """Headless Debian Chromium whose camera and microphone play `media` in a loop."""
    args = list(CHROMIUM_ARGS)
    if media is not None:
        args += [
            f"--use-file-for-fake-video-capture={media.video}",
            f"--use-file-for-fake-audio-capture={media.audio}",
        ]
    return await playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=[*args, *extra_args]
    )


async def open_call(
    browser: Any,
    url: str,
    *,
    viewport: dict[str, int] | None = None,
    join: bool = True,
    timeout_s: float = 20.0,
) -> Any:
    """Open a call link in a new context; with `join`, click Join and wait for `welcome`."""
    # Playwright's wait_for_function polls with eval(), which the pages' CSP forbids (no
    # 'unsafe-eval'): bypassed here; tests/conference/test_security_browser.py drives the
    # pages with the CSP in force.
    context = await browser.new_context(viewport=viewport or DESKTOP_VIEWPORT, bypass_csp=True)
    page = await context.new_page()
    page.on("console", lambda m: print(f"[{url[-6:]} console.{m.type}] {m.text}"))
    await page.goto(url)
    await page.wait_for_selector("body[data-ready='1']", timeout=timeout_s * 1000)
    if join:
        await page.click("#join")
        await page.wait_for_function("window.proctorbot.peerId !== null", timeout=timeout_s * 1000)
    return page


async def remote_video_state(page: Any, role: str) -> dict[str, float]:
    """`videoWidth` and `currentTime` of the tile of the first remote peer with `role`."""
    return await page.evaluate(
        """(role) => {
            const v = document.querySelector(`.tile.remote[data-role="${role}"] video`);
            return v ? {width: v.videoWidth, time: v.currentTime, paused: v.paused} : null;
        }""",
        role,
    )


async def wait_remote_video(page: Any, role: str, timeout_s: float = 30.0) -> dict[str, float]:
    """Wait until the remote `role` video has a size and its time advances."""
    async with asyncio.timeout(timeout_s):
        while True:
            first = await remote_video_state(page, role)
            if first and first["width"] > 0:
                await asyncio.sleep(1.0)
                second = await remote_video_state(page, role)
                if second and second["time"] > first["time"]:
                    return second
            await asyncio.sleep(0.3)
