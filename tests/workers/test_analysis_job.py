"""The ``analysis`` job decides whether to hand a session over: not while a bot holds its
lease, not twice at once (a per-session advisory lock on PostgreSQL), not once complete."""

from __future__ import annotations

import asyncio
import threading
import time
from types import SimpleNamespace

import pytest
from proctorbot.storage.db import make_engine
from proctorbot.storage.migrate import upgrade
from proctorbot.workers.analysis_job import AnalysisJob
from proctorbot.workers.leases import BotLeases

pytestmark = pytest.mark.postgres


def test_hand_over_waits_for_the_bot_and_runs_once(tmp_path, postgres_url: str) -> None:
    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    leases = BotLeases(engine, timeout_s=5)
    ctx = SimpleNamespace(engine=engine, settings=SimpleNamespace(recordings_dir=tmp_path))
    runs: list[str] = []

    async def hand_over(session_id: str) -> None:
        runs.append(session_id)
        await asyncio.sleep(1.0)  # long enough for the second delivery to meet the lock

    job = AnalysisJob(ctx, hand_over=hand_over, leases=leases)
    try:
        assert leases.take("s-1", "worker-a")
        assert job("s-1").startswith("skipped: a bot is in the call") and runs == []
        leases.release("s-1", "worker-a")

        outcomes: list[str] = []
        threads = [threading.Thread(target=lambda: outcomes.append(job("s-1"))) for _ in range(2)]
        for thread in threads:
            thread.start()
            time.sleep(0.2)
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == ["handed over", "skipped: another worker is handing it over"]
        assert runs == ["s-1"]
    finally:
        engine.dispose()
