"""The session lease on PostgreSQL: one holder among racing workers, a duplicate is
refused while the holder heartbeats, a silent holder is taken over; and the load a
worker reports."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from proctorbot.config.settings import ClusterSettings
from proctorbot.storage.db import make_engine, utcnow
from proctorbot.storage.migrate import upgrade
from proctorbot.workers.leases import BotLeases
from proctorbot.workers.load import LoadMeter

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(postgres_url: str):
    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    yield engine
    engine.dispose()


def test_one_of_many_racing_workers_holds_the_lease(engine) -> None:
    leases = BotLeases(engine, timeout_s=5)
    won: list[str] = []
    start = threading.Barrier(8)

    def race(worker: str) -> None:
        start.wait()
        if leases.take("s-1", worker):
            won.append(worker)

    threads = [threading.Thread(target=race, args=(f"w{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1 and leases.holder("s-1").worker_id == won[0]


def test_a_live_holder_keeps_it_a_silent_one_loses_it(engine) -> None:
    leases = BotLeases(engine, timeout_s=5)
    now = utcnow()
    assert leases.take("s-2", "a", now=now)
    assert leases.take("s-2", "a", now=now)  # its own again (a retried message): still its
    assert not leases.take("s-2", "b", now=now + dt.timedelta(seconds=4))
    assert leases.renew("s-2", "a", now=now + dt.timedelta(seconds=4))
    assert not leases.take("s-2", "b", now=now + dt.timedelta(seconds=8)), "renewed at 4 s"
    assert leases.take("s-2", "b", now=now + dt.timedelta(seconds=9.5))
    holder = leases.holder("s-2")
    assert holder.worker_id == "b" and holder.takeovers == 1
    assert not leases.renew("s-2", "a"), "the old holder learns it lost the lease"
    leases.release("s-2", "a")  # not its own any more: nothing happens
    assert leases.holder("s-2").worker_id == "b"
    leases.release("s-2", "b")
    assert leases.holder("s-2") is None and leases.take("s-2", "c")


def test_the_load_counts_the_host_s_bots(engine) -> None:
    settings = ClusterSettings(redis_url="redis://x", max_bots_per_worker=4, load_threshold=0.75)
    one = LoadMeter(engine, settings, "h-1", host="h")
    two = LoadMeter(engine, settings, "h-2", host="h")
    elsewhere = LoadMeter(engine, settings, "g-1", host="g")
    elsewhere.report(running_bots=1)
    one.report(running_bots=1)
    reading = two.report(running_bots=1)
    assert reading.host_bots == 2 and reading.load >= 0.5
    assert not two.over_threshold(reading) or reading.cpu_load > 0.75  # a 3rd bot: 0.75
    one.report(running_bots=1)
    assert one.over_threshold(one.report(running_bots=2)), "a 4th bot: 1.0 > 0.75"
    one.forget()
    assert two.report(running_bots=0).host_bots == 0


def test_a_lease_ended_with_its_session_is_never_taken_again(engine) -> None:
    """The bot left because the session was over (room_empty): a late or duplicate message,
    even long after, starts no bot; its own release does not free it either."""
    leases = BotLeases(engine, timeout_s=5)
    now = utcnow()
    assert leases.take("s-4", "a", now=now)
    assert not leases.end("s-4", "b", "room_empty"), "only the holder ends it"
    assert leases.end("s-4", "a", "room_empty")
    leases.release("s-4", "a")
    holder = leases.holder("s-4")
    assert holder is not None and holder.ended_at is not None
    assert holder.ended_reason == "room_empty" and not leases.is_fresh(holder)
    assert not leases.take("s-4", "b", now=now + dt.timedelta(hours=1))
    assert not leases.take("s-4", "a", now=now + dt.timedelta(hours=1))
