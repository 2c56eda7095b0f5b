"""The two actors a worker process runs, declared on its broker (no global broker).

``bots`` runs a session's bot for the whole slot, so its time limit is the longest a
bot may stay: the slot, the join ahead of it and the overrun, with a margin (Dramatiq's
default of 10 minutes would kill a bot mid-exam). ``analysis`` is the hand-over: the
full audio pass of a long session takes a while, an hour is its limit.
"""

from __future__ import annotations

from collections.abc import Callable

import dramatiq
from dramatiq.broker import Broker
from proctorbot.config.settings import Settings
from proctorbot.workers.broker import MAX_RETRIES
from proctorbot.workers.queues import ANALYSIS_ACTOR, BOT_ACTOR

MINUTE_MS = 60_000
MARGIN_MINUTES = 15
ANALYSIS_TIME_LIMIT_MS = 60 * MINUTE_MS


def bot_time_limit_ms(settings: Settings) -> int:
    """Longer than any bot stays: join ahead + slot + overrun + a margin."""
    s = settings.scheduling
    slot = s.instruction_minutes + s.technical_minutes + s.exam_minutes + s.buffer_minutes
    minutes = s.bot_join_minutes_before + slot + settings.bot.max_overrun_minutes
    return int((minutes + MARGIN_MINUTES) * MINUTE_MS)


def declare_actors(
    broker: Broker,
    settings: Settings,
    *,
    bot_job: Callable[[str], str],
    analysis_job: Callable[[str], str],
) -> None:
    cluster = settings.cluster

    # the outcome is logged by the job; an actor returning a value would need Results
    def run_session_bot(session_id: str) -> None:
        bot_job(session_id)

    def hand_over_session(session_id: str) -> None:
        analysis_job(session_id)

    dramatiq.actor(
        run_session_bot,
        broker=broker,
        actor_name=BOT_ACTOR,
        queue_name=cluster.bots_queue,
        time_limit=bot_time_limit_ms(settings),
        max_retries=MAX_RETRIES,
    )
    dramatiq.actor(
        hand_over_session,
        broker=broker,
        actor_name=ANALYSIS_ACTOR,
        queue_name=cluster.analysis_queue,
        time_limit=ANALYSIS_TIME_LIMIT_MS,
        max_retries=MAX_RETRIES,
    )
