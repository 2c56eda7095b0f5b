"""Two web nodes sharing rooms, as real processes: PostgreSQL, Redis, `cluster_node` x 2.

Without PostgreSQL server binaries the nodes share one SQLite file instead (same code).

Each service is started by the fixture in a temporary folder on a free port and killed at
the end; a test skips (with the reason) when redis-server or PostgreSQL is not installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.browser_helpers import SignalingClient

ROOT = Path(__file__).resolve().parents[2]
SECRET = "web-nodes-test-secret-key-0123456789"
HEARTBEAT_S = 0.5
TIMEOUT_S = 2.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A throwaway PostgreSQL (tests/scheduling/test_postgres_jobstore.py) when its server
    is installed; else one SQLite file the node processes share (the room lock is then
    SQLite's write lock): the same code, so the test runs either way."""
    from tests.scheduling.test_postgres_jobstore import PG_BIN

    if (PG_BIN / "initdb").exists():
        return request.getfixturevalue("postgres_url")
    (tmp_path / "var").mkdir(exist_ok=True)
    return f"sqlite:///{tmp_path / 'var' / 'shared.sqlite3'}"


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A throwaway redis-server (deploy/services.py, what cluster-demo starts)."""
    from proctorbot.deploy.services import ServiceMissing, start_redis

    try:
        service = start_redis(tmp_path / "redis")
    except ServiceMissing as exc:
        pytest.skip(str(exc))
    except RuntimeError as exc:
        pytest.skip(f"redis-server did not start: {exc}")
    try:
        yield service.url
    finally:
        service.kill_9()


@dataclass
class Node:
    port: int
    process: subprocess.Popen
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, token: str) -> str:
        return f"ws://127.0.0.1:{self.port}/ws?t={token}"

    def kill(self) -> None:
        """kill -9: no goodbye, no cleanup; its rows stay until another node reaps them."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


@dataclass
class Cluster:
    ctx: Any  # AppContext on the shared PostgreSQL
    session_id: str
    nodes: list[Node] = field(default_factory=list)

    def token(self, role: str) -> str:
        from proctorbot.conference.links import bot_token, session_links

        if role == "bot":
            return bot_token(self.ctx, self.session_id)
        return next(
            link.token for link in session_links(self.ctx, self.session_id) if link.role == role
        )

    def person(self, role: str) -> str:
        from proctorbot.conference.links import session_links

        return next(
            link.person_id for link in session_links(self.ctx, self.session_id) if link.role == role
        )


def cluster_env(tmp_path: Path, database_url: str, redis_url: str, capacity: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROCTORBOT_")}
    env.update(
        PYTHONPATH=str(ROOT),
        PYANNOTE_METRICS_ENABLED="0",
        PROCTORBOT_DATA_DIR=str(tmp_path / "var"),
        PROCTORBOT_DATABASE_URL=database_url,
        PROCTORBOT_SERVER__SECRET_KEY=SECRET,
        PROCTORBOT_CLUSTER__REDIS_URL=redis_url,
        PROCTORBOT_CLUSTER__NODE_HEARTBEAT_S=str(HEARTBEAT_S),
        PROCTORBOT_CLUSTER__HEARTBEAT_TIMEOUT_S=str(TIMEOUT_S),
        PROCTORBOT_CONFERENCE__MAX_PARTICIPANTS_PER_ROOM=str(capacity),
    )
    return env


def start_node(tmp_path: Path, env: dict[str, str], name: str) -> Node:
    port = free_port()
    log = tmp_path / f"node-{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.conference.cluster_node", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Node(port, process, log)


async def wait_ready(node: Node, timeout: float = 60.0) -> None:
    import aiohttp

    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while True:
            if node.process.poll() is not None:
                raise RuntimeError(f"node exited: {node.log.read_text()[-3000:]}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{node.url}/healthz") as response:
                    if response.status == 200:
                        return
            if time.monotonic() > deadline:
                raise TimeoutError(f"node not ready: {node.log.read_text()[-3000:]}")
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def web_nodes(
    tmp_path: Path, database_url: str, redis_url: str, *, count: int = 2, capacity: int = 8
) -> AsyncIterator[Cluster]:
    """`count` web nodes on one database (PostgreSQL) and one Redis, the demo day seeded."""
    from proctorbot.config.settings import load_settings
    from proctorbot.storage.demo import seed_demo

    from proctorbot.context import AppContext

    env = cluster_env(tmp_path, database_url, redis_url, capacity)
    settings = load_settings(
        data_dir=tmp_path / "var", database_url=database_url, server={"secret_key": SECRET}
    )
    ctx = AppContext.build(settings)  # migrates once, before the nodes start
    day = seed_demo(ctx.db, profile=settings.default_profile, language="ru")
    cluster = Cluster(ctx, day.session_ids[0])
    try:
        cluster.nodes = [start_node(tmp_path, env, str(i)) for i in range(count)]
        await asyncio.gather(*(wait_ready(node) for node in cluster.nodes))
        yield cluster
    finally:
        for node in cluster.nodes:
            if node.process.poll() is None:
                node.process.terminate()
        for node in cluster.nodes:
            try:
                node.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                node.kill()
        ctx.engine.dispose()


@contextlib.asynccontextmanager
async def client(node: Node, token: str) -> AsyncIterator[SignalingClient]:
    """A scripted participant on `node`, after its `welcome`."""
    import aiohttp

    async with aiohttp.ClientSession() as http, http.ws_connect(node.ws_url(token)) as ws:
        first = json.loads((await ws.receive(timeout=10)).data)
        if first.get("type") != "welcome":
            raise ConnectionError(f"no welcome: {first}")
        yield SignalingClient(ws, first)


async def closed_with(sc: SignalingClient, timeout: float = 10.0) -> int | None:
    """Read until the socket closes; its close code."""
    async with asyncio.timeout(timeout):
        while True:
            msg = await sc.ws.receive()
            if msg.type.name == "CLOSE":
                return msg.data
            if msg.type.name in ("CLOSED", "CLOSING", "ERROR"):
                raise ConnectionError(f"closed without a close frame: {msg}")
            if msg.type.name == "TEXT":
                sc.inbox.append(json.loads(msg.data))
