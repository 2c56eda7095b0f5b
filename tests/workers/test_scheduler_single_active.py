"""One active scheduler among the web nodes of a cluster (scheduling/active_lock.py):
two real `proctorbot serve` nodes on one PostgreSQL job store and one Redis; only the
lock holder's jobs run, and they only enqueue (a `bots` message at the bot's join time);
after `kill -9` of the holder the other node takes over and enqueues the next session."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from proctorbot.config.settings import load_settings
from proctorbot.scheduling.hooks import JobHooks, JobRuntime
from proctorbot.scheduling.scheduler import make_scheduler, schedule_session_jobs
from proctorbot.storage.db import utcnow
from proctorbot.storage.models import ExamSession

from proctorbot.context import AppContext
from tests.scheduling.test_jobs import make_session
from tests.workers.cluster_helpers import cluster_env
from tests.workers.conftest import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(120)]
ACTIVE = "this node's scheduler is the active one"


def bot_messages(redis_url: str) -> list[str]:
    """Session ids of the `bots` messages waiting in Redis."""
    import redis

    client = redis.Redis.from_url(redis_url)
    stored = client.hgetall("proctorbot:bots.msgs")
    client.close()
    return sorted(json.loads(data)["args"][0] for data in stored.values())


def plan_bot_join(ctx: AppContext, in_seconds: float) -> str:
    """A session whose bot is due in ``in_seconds``, its jobs written to the job store."""
    now = utcnow()
    start = now + dt.timedelta(minutes=15, seconds=in_seconds)
    session_id, _ = make_session(ctx, start)
    scheduler = make_scheduler(JobRuntime(ctx, JobHooks()))
    scheduler.start(paused=True)
    with ctx.db() as db:
        schedule_session_jobs(
            scheduler,
            db.get(ExamSession, session_id),
            reminder_offsets_minutes=[],
            bot_join_minutes_before=15,
            now=now,
        )
    scheduler.shutdown(wait=False)
    return session_id


async def wait_until(check, timeout: float, what: str) -> float:  # noqa: ANN001
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        await asyncio.sleep(0.2)
    return time.monotonic() - started


async def test_one_active_scheduler_and_a_takeover_after_kill_9(
    tmp_path: Path, postgres_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PROCTORBOT_CONFIG", raising=False)
    settings = load_settings(data_dir=tmp_path / "var", database_url=postgres_url)
    ctx = AppContext.build(settings)  # migrated once here, before the nodes start
    env = cluster_env(
        settings.data_dir,
        postgres_url,
        redis_url,
        "http://127.0.0.1:1",
        PROCTORBOT_SCHEDULING__STORE_POLL_SECONDS="1",
    )
    nodes: list[tuple[subprocess.Popen, Path]] = []
    try:
        for name in ("a", "b"):
            log = tmp_path / f"node-{name}.log"
            process = subprocess.Popen(
                [sys.executable, "-m", "proctorbot", "serve", "--port", str(free_port())],
                env=env,
                cwd=tmp_path,
                stdout=log.open("wb"),
                stderr=subprocess.STDOUT,
            )
            nodes.append((process, log))

        def active() -> list[int]:
            return [i for i, (_, log) in enumerate(nodes) if ACTIVE in log.read_text()]

        await wait_until(lambda: len(active()) == 1, 60, "one node's scheduler is active")
        await asyncio.sleep(3.0)  # both nodes up and polling: still one
        assert len(active()) == 1, [log.read_text()[-2000:] for _, log in nodes]
        holder, other = active()[0], 1 - active()[0]

        first = plan_bot_join(ctx, 1.0)
        await wait_until(lambda: first in bot_messages(redis_url), 20, "the bot join enqueued")

        nodes[holder][0].kill()  # SIGKILL
        nodes[holder][0].wait(10)
        killed = time.monotonic()
        took = await wait_until(lambda: ACTIVE in nodes[other][1].read_text(), 20, "takeover")
        print(f"scheduler takeover after kill -9: {time.monotonic() - killed:.1f} s")
        assert took < 10

        second = plan_bot_join(ctx, 1.0)
        await wait_until(lambda: second in bot_messages(redis_url), 20, "enqueued by the other")
        await asyncio.sleep(2.0)
        assert bot_messages(redis_url) == sorted([first, second]), "each job ran once"
        # the web nodes run no bot of their own in cluster mode
        for _, log in nodes:
            assert "the bot joins" not in log.read_text()
    finally:
        for process, _ in nodes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
        ctx.engine.dispose()
