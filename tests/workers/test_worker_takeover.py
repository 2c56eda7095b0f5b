"""The work plane end to end with real processes: a web node (the conference, on
PostgreSQL), redis-server, and ``python -m proctorbot.worker`` processes consuming
``bots``. One scenario, so each process starts once:

1. a worker above ``load_threshold`` refuses the session's message; a second worker
   takes it (the message came back on the queue) and its bot joins the web node;
2. an aiortc student is recorded by that bot;
3. the same message delivered again reaches a third worker, which finds the lease held
   by a live heartbeat and drops it: one bot in the room throughout;
4. ``kill -9`` of the bot's worker: Redis hands its message to the third worker after
   the heartbeat timeout, it takes the stale lease and its bot continues the folder;
   manifest.json has a ``bot_down`` gap for the student, and never were two bots in the room.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from proctorbot.conference.keys import ROOMS
from proctorbot.config.settings import load_settings
from proctorbot.recording.manifest import read_manifest

from proctorbot.context import AppContext
from tests.bot.participant import ScriptedParticipant
from tests.browser_helpers import serve_app
from tests.workers.cluster_helpers import HEARTBEAT_TIMEOUT_S, WorkerProcess, cluster_env

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(150)]


def bots_in_room(server) -> int:  # noqa: ANN001
    room = server.app[ROOMS].get(server.session_id)
    return len(room.with_role("bot")) if room else 0


async def wait_until(check, timeout: float, what: str) -> float:  # noqa: ANN001
    """Seconds it took for ``check()`` to hold."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def test_bots_refused_leased_and_taken_over_after_kill_9(
    tmp_path: Path, postgres_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from proctorbot.workers.leases import BotLeases
    from proctorbot.workers.queues import job_queues

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PROCTORBOT_CONFIG", raising=False)
    settings = load_settings(
        data_dir=tmp_path / "var",
        database_url=postgres_url,
        cluster={"redis_url": redis_url, "heartbeat_timeout_s": HEARTBEAT_TIMEOUT_S},
    )
    ctx = AppContext.build(settings)
    leases = BotLeases(ctx.engine, HEARTBEAT_TIMEOUT_S)
    queues = job_queues(settings.cluster)
    workers: list[WorkerProcess] = []
    student = None
    most_bots = 0
    try:
        async with serve_app(ctx) as server:
            env = cluster_env(settings.data_dir, postgres_url, redis_url, server.url)

            async def watch_room() -> None:
                nonlocal most_bots
                while True:
                    most_bots = max(most_bots, bots_in_room(server))
                    await asyncio.sleep(0.05)

            watcher = asyncio.create_task(watch_room())
            busy = WorkerProcess.start(
                {**env, "PROCTORBOT_CLUSTER__LOAD_THRESHOLD": "0.000001"}, tmp_path / "busy.log"
            )
            workers.append(busy)
            await busy.wait_for("worker consuming")
            queues.send_bot(server.session_id)
            # two more workers boot (seconds) while the busy one refuses the message
            pair = [WorkerProcess.start(env, tmp_path / f"w{i}.log") for i in (1, 2)]
            workers += pair
            await busy.wait_for("refused: load")

            # 1. another worker takes it
            await wait_until(lambda: bots_in_room(server) == 1, 40, "a bot joins")
            holder = leases.holder(server.session_id)
            assert holder is not None
            first, second = pair if holder.worker_id.endswith(f"-{pair[0].pid}") else pair[::-1]
            assert holder.worker_id.endswith(f"-{first.pid}")
            busy.stop()
            assert "bot_job: " in busy.text() and "session is over" not in busy.text()

            # 2. a student is recorded
            student = ScriptedParticipant(server.ws_url(server.token("student")))
            await student.join()
            await asyncio.wait_for(student.connected.wait(), 20)
            await asyncio.sleep(4.0)

            # 3. the same message again: the other worker sees a live lease, drops it
            await second.wait_for("worker consuming")
            queues.send_bot(server.session_id)
            await second.wait_for("dropped: another worker's bot", timeout=HEARTBEAT_TIMEOUT_S + 20)
            assert leases.holder(server.session_id).worker_id.endswith(f"-{first.pid}")

            # 4. kill -9 of the bot's worker: the other takes over
            first.kill_9()
            killed = time.monotonic()
            await wait_until(lambda: bots_in_room(server) == 0, 15, "the killed bot leaves")
            await wait_until(
                lambda: bots_in_room(server) == 1, HEARTBEAT_TIMEOUT_S + 20, "a new bot joins"
            )
            takeover = time.monotonic() - killed
            holder = leases.holder(server.session_id)
            assert holder is not None and holder.worker_id.endswith(f"-{second.pid}")
            assert holder.takeovers == 1
            print(
                f"takeover after kill -9: {takeover:.1f} s (heartbeat timeout {HEARTBEAT_TIMEOUT_S} s)"
            )
            assert takeover <= HEARTBEAT_TIMEOUT_S + 12
            await asyncio.sleep(5.0)  # the new bot records the student again
            second.stop()
            assert "given back: the worker stops" in second.text()
            watcher.cancel()
            assert most_bots == 1, "never two bots in the session at once"

            manifest = read_manifest(settings.recordings_dir / server.session_id)
            student_key = next(p.participant for p in manifest.participants if p.role == "student")
            down = [g for g in manifest.gaps if g.reason == "bot_down"]
            assert [g.participant for g in down] == [student_key], manifest.gaps
            assert down[0].end is not None and down[0].end > down[0].start
            folder = settings.recordings_dir / server.session_id / student_key
            assert list(folder.glob("video-01-*.ivf")) and list(folder.glob("video-02-*.ivf"))
    finally:
        if student is not None:
            await student.leave()
        for worker in workers:
            worker.stop(timeout=10)
        ctx.engine.dispose()
