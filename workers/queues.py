"""Putting work on the queues: a session's bot (queue ``bots``) and its hand-over
(``analysis``). A message names its queue and actor, which is all the broker needs: the
web node enqueues without knowing the actors (workers/actors.py declares them)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from dramatiq import Message
from dramatiq.broker import Broker
from proctorbot.config.settings import ClusterSettings
from proctorbot.workers.broker import make_broker

log = logging.getLogger(__name__)

BOT_ACTOR = "run_session_bot"
ANALYSIS_ACTOR = "hand_over_session"


@dataclass
class JobQueues:
    broker: Broker
    settings: ClusterSettings

    def send_bot(self, session_id: str, *, delay_s: float = 0.0) -> str:
        """One message per session on ``bots``; returns the message id."""
        return self._send(self.settings.bots_queue, BOT_ACTOR, session_id, delay_s)

    def send_analysis(self, session_id: str, *, delay_s: float = 0.0) -> str:
        return self._send(self.settings.analysis_queue, ANALYSIS_ACTOR, session_id, delay_s)

    async def enqueue_bot(self, session_id: str) -> str:
        """The scheduler's ``bot_join`` in cluster mode (a Redis call: off the loop)."""
        return await asyncio.to_thread(self.send_bot, session_id)

    async def enqueue_analysis(self, session_id: str) -> str:
        """The scheduler's ``post_session`` in cluster mode."""
        return await asyncio.to_thread(self.send_analysis, session_id)

    def _send(self, queue: str, actor: str, session_id: str, delay_s: float) -> str:
        message = Message(
            queue_name=queue, actor_name=actor, args=(session_id,), kwargs={}, options={}
        )
        delay = int(delay_s * 1000) if delay_s > 0 else None
        sent = self.broker.enqueue(message, delay=delay)
        log.info("session %s: %s on queue %s (%s)", session_id, actor, queue, sent.message_id)
        return sent.message_id


def job_queues(settings: ClusterSettings) -> JobQueues:
    return JobQueues(make_broker(settings), settings)
