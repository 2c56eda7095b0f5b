"""The active web node's safety net: a due session that no bot holds is enqueued, once
per resend window; one a live bot holds is left alone."""

from __future__ import annotations

import datetime as dt

from proctorbot.storage.db import utcnow
from proctorbot.workers.leases import BotLeases
from proctorbot.workers.orphan_watch import OrphanWatch

from tests.scheduling.test_jobs import make_session


class SentBots:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send_bot(self, session_id: str, *, delay_s: float = 0.0) -> str:
        self.sent.append(session_id)
        return f"m{len(self.sent)}"


def test_a_due_session_without_a_bot_is_enqueued_once(app_context) -> None:
    due, _ = make_session(app_context, utcnow() - dt.timedelta(minutes=1))
    held, _ = make_session(app_context, utcnow() + dt.timedelta(minutes=5))
    make_session(app_context, utcnow() + dt.timedelta(hours=3))  # not due yet
    leases = BotLeases(app_context.engine, timeout_s=5)
    assert leases.take(held, "worker-a")
    queues = SentBots()
    watch = OrphanWatch(app_context, leases, queues, resend_after_s=60)

    assert watch.sweep() == [due] and queues.sent == [due]
    assert watch.sweep() == [], "still within the resend window"
    watch.sent_at[due] -= 61
    assert watch.sweep() == [due]
    watch.enqueue(held)  # the scheduler's bot_join goes through the watch: remembered
    leases.release(held, "worker-a")
    assert watch.sweep() == [] and queues.sent == [due, due, held]


def test_a_session_whose_bot_left_because_it_was_over_is_not_enqueued(app_context) -> None:
    """Seen in the cluster test: the emptied room's session stayed due until its slot's end
    and was enqueued every 2 minutes, each new bot holding back its hand-over."""
    over, _ = make_session(app_context, utcnow() - dt.timedelta(minutes=1))
    leases = BotLeases(app_context.engine, timeout_s=5)
    assert leases.take(over, "worker-a")
    assert leases.end(over, "worker-a", "room_empty")
    queues = SentBots()
    watch = OrphanWatch(app_context, leases, queues, resend_after_s=60)
    assert watch.sweep() == [] and queues.sent == []
