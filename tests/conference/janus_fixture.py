"""Real Janus processes for tests, inside the test's loopback-only network namespace.

Janus 1.1.2 refuses loopback ICE candidates, and this machine has no ``dummy`` link, so
the fixture makes a veth pair (``jv0`` 10.77.0.1/24 ↔ ``jv1``, both up) in the test's
own namespace — never on a host network: it refuses unless the namespace held only
``lo`` (or its own pair) — and gives Janus ``ice_enforce_list = "jv0"``. aiortc peers in
the test gather on 10.77.0.1 too (``janus.bot_ice_address`` for the bot,
``JANUS_ICE_ADDRESS`` for a test's own peer). Each Janus gets a config folder of its own
in tmp: the HTTP transport on a free port of 127.0.0.1, the VideoRoom plugin only (its
plugins and transports folders hold just those two libraries, so no other plugin,
transport, event handler or logger loads), its recordings in ``record_dir``.

Use::

    pytest_plugins = ("tests.conference.janus_fixture",)  # or import the fixtures

    async def test_x(janus):            # one Janus (module scope)
        janus.url                       # http://127.0.0.1:<port>/janus
    async def test_y(janus_factory):    # more: janus_factory() -> JanusProcess

Skips cleanly (with the reason) when not root, without ``ip``, without ``janus``, or
outside a loopback-only namespace (``make test`` runs in one).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from proctorbot.deploy.janus_config import janus_lib_dir, write_janus_config

JANUS_BIN = "/usr/bin/janus"
JANUS_PP_REC = "/usr/bin/janus-pp-rec"
VETH = "jv0"
VETH_PEER = "jv1"
JANUS_ICE_ADDRESS = "10.77.0.1"
VETH_PREFIX = 24
START_TIMEOUT_S = 15.0


@dataclass
class JanusProcess:
    """One running Janus: its HTTP API base URL, folders and process."""

    url: str
    port: int
    config_dir: Path
    record_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def skip_reason() -> str | None:
    """Why Janus tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "Janus tests need root (a veth pair in the test's network namespace)"
    if shutil.which("ip") is None:
        return "no `ip` command (iproute2) for the veth pair Janus needs"
    if not Path(JANUS_BIN).exists():
        return f"{JANUS_BIN} is not installed (apt-get install janus)"
    if janus_lib_dir() is None:
        return "the Janus VideoRoom plugin / HTTP transport libraries are not installed"
    interfaces = {name for _, name in socket.if_nameindex()}
    if not interfaces <= {"lo", VETH, VETH_PEER}:
        return (
            "Janus tests run only in a loopback-only network namespace (`make test` as root, "
            "or `unshare --net sh -c 'ip link set lo up && pytest ...'`)"
        )
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def _link_flags(name: str) -> str:
    shown = subprocess.run(["ip", "-o", "link", "show", name], capture_output=True, timeout=10)
    return shown.stdout.decode(errors="replace")


@dataclass
class VethPair:
    """The veth pair Janus gathers on; removed at the end unless it was there before."""

    address: str = JANUS_ICE_ADDRESS
    made_here: bool = False

    @classmethod
    def up(cls) -> VethPair:
        names = {name for _, name in socket.if_nameindex()}
        if VETH in names:
            return cls(made_here=False)
        _ip("link", "add", VETH, "type", "veth", "peer", "name", VETH_PEER)
        _ip("addr", "add", f"{JANUS_ICE_ADDRESS}/{VETH_PREFIX}", "dev", VETH)
        _ip("link", "set", VETH, "up")
        _ip("link", "set", VETH_PEER, "up")
        _ip("link", "set", "lo", "up")
        deadline = time.monotonic() + 5.0
        while "LOWER_UP" not in _link_flags(VETH) and time.monotonic() < deadline:
            time.sleep(0.05)
        return cls(made_here=True)

    def down(self) -> None:
        if self.made_here:
            # Deleting one end removes both; browser tests want a loopback-only namespace.
            subprocess.run(["ip", "link", "del", VETH], capture_output=True, timeout=10)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def write_config(
    folder: Path, *, port: int, record_dir: Path, api_secret: str | None = None
) -> Path:
    """A minimal Janus config folder: HTTP on 127.0.0.1:<port>, VideoRoom only, ICE on jv0
    (the product's own writer, deploy/janus_config.py, which cluster-demo uses too)."""
    return write_janus_config(
        folder,
        http_port=port,
        ice_address=JANUS_ICE_ADDRESS,
        ice_interface=VETH,
        record_dir=record_dir,
        api_secret=api_secret,
    )


def janus_info(url: str, timeout: float = 2.0) -> dict[str, object]:
    with urllib.request.urlopen(f"{url}/info", timeout=timeout) as response:  # noqa: S310
        return json.loads(response.read())


def start_janus(folder: Path, *, api_secret: str | None = None) -> JanusProcess:
    """Start one Janus with its own config folder; returns once /janus/info answers."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    record_dir = folder / "recordings"
    config = write_config(folder, port=port, record_dir=record_dir, api_secret=api_secret)
    log_path = folder / "janus.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603
            [JANUS_BIN, "-C", str(config), "-F", str(folder), "-o"],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=folder,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}/janus"
    janus = JanusProcess(url, port, folder, record_dir, log_path, process)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"janus exited with {process.returncode}:\n{janus.log()[-3000:]}")
        try:
            info = janus_info(url)
            if "janus.plugin.videoroom" in info.get("plugins", {}):  # type: ignore[operator]
                return janus
        except (OSError, urllib.error.URLError, ValueError):
            pass
        if time.monotonic() > deadline:
            janus.stop()
            raise RuntimeError(
                f"janus did not answer in {START_TIMEOUT_S} s:\n{janus.log()[-3000:]}"
            )
        time.sleep(0.1)


@pytest.fixture(scope="module")
def janus_network() -> Iterator[VethPair]:
    """The veth pair (10.77.0.1 on jv0) for the module, or a skip with the reason."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    pair = VethPair.up()
    try:
        yield pair
    finally:
        pair.down()


@pytest.fixture(scope="module")
def janus_factory(
    janus_network: VethPair, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., JanusProcess]]:
    """``janus_factory(api_secret=None) -> JanusProcess``; every one is killed at the end."""
    started: list[JanusProcess] = []

    def make(api_secret: str | None = None) -> JanusProcess:
        folder = tmp_path_factory.mktemp("janus")
        janus = start_janus(folder, api_secret=api_secret)
        started.append(janus)
        return janus

    try:
        yield make
    finally:
        for janus in started:
            janus.stop()


@pytest.fixture(scope="module")
def janus(janus_factory: Callable[..., JanusProcess]) -> JanusProcess:
    """One Janus for the module."""
    return janus_factory()
