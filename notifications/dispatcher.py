"""Sending the outbox: in order per chat, paced, retried with backoff, never lost.

Each chat is a queue: its oldest pending message goes first, and while that one waits
for a retry nothing newer overtakes it. Chats are served concurrently. Delivery is
at-least-once: a crash between Telegram's answer and the database update can repeat
one message, but never lose one. Run one dispatcher per database.

The database is read and written in threads, never on the event loop, and a write
that finds the database locked is retried until it goes through (storage/db_retry.py):
a locked database delays the outbox, it never loses a delivery mark. A channel that
cannot be reached at all (network down, the service down) is an outage of the channel,
not a fault of the message: its chats pause together, the channel is probed again after
a pause that doubles from ``Pacing.retry_base`` up to ``Pacing.outage_retry_max``
however long the outage lasts, and the first message that goes through ends the pause
for every chat, so delivery resumes at once. A channel can join later (``add_sender``):
Telegram unreachable at start-up.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from proctorbot.notifications.delivery import (
    ChannelSender,
    ChannelUnavailable,
    OutgoingMessage,
    PermanentFailure,
    RecipientBlocked,
    TemporaryFailure,
)
from proctorbot.notifications.outbox import backoff
from proctorbot.notifications.pacing import Pacing, RateLimiter
from proctorbot.notifications.tables import OutboxMessage, OutboxStatus
from proctorbot.storage.db import utcnow
from proctorbot.storage.db_retry import write_retrying
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

BlockedHandler = Callable[[Session, int], None]


@dataclass
class DispatchReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    blocked: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class ChannelOutage:
    """A channel that could not be reached: nothing is tried on it before ``next_try``."""

    pause: float
    next_try: float  # time.monotonic()


class OutboxDispatcher:
    def __init__(
        self,
        db: sessionmaker,
        senders: Mapping[str, ChannelSender],
        pacing: Pacing | None = None,
        *,
        on_blocked: BlockedHandler | None = None,
        max_parallel_chats: int = 16,
    ) -> None:
        self.db = db
        self.senders = dict(senders)
        self.pacing = pacing or Pacing()
        self.limiter = RateLimiter(self.pacing)
        self.on_blocked = on_blocked
        self._parallel = asyncio.Semaphore(max_parallel_chats)
        self._unavailable: dict[str, str] = {}
        self._outages: dict[str, ChannelOutage] = {}

    def add_sender(self, sender: ChannelSender) -> None:
        """A channel that became usable after start-up (Telegram reached at last)."""
        self.senders[sender.channel] = sender

    async def run_once(self) -> DispatchReport:
        """Deliver everything due now; returns what happened."""
        report = DispatchReport()
        self._unavailable.clear()
        now = time.monotonic()
        chats = [
            (channel, address)
            for channel, address in await asyncio.to_thread(self._due_chats)
            if channel not in self._outages or self._outages[channel].next_try <= now
        ]
        await asyncio.gather(*(self._drain(channel, address, report) for channel, address in chats))
        return report

    async def run(self, stop: asyncio.Event, poll_seconds: float = 1.0) -> None:
        """Deliver until ``stop`` is set; a failing round is logged, never fatal."""
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:  # the loop must survive a broken database moment
                log.exception("outbox round failed")
            try:
                await asyncio.wait_for(stop.wait(), timeout=poll_seconds)
            except TimeoutError:
                pass

    def _due_chats(self) -> list[tuple[str, str]]:
        with self.db() as db:
            rows = db.execute(
                select(OutboxMessage.channel, OutboxMessage.address, OutboxMessage.next_attempt_at)
                .where(OutboxMessage.status == OutboxStatus.PENDING)
                .order_by(OutboxMessage.id)
            ).all()
        now = utcnow()
        heads: dict[tuple[str, str], dt.datetime] = {}
        for channel, address, due in rows:
            heads.setdefault((channel, address), due)
        return [key for key, due in heads.items() if due <= now and key[0] in self.senders]

    async def _drain(self, channel: str, address: str, report: DispatchReport) -> None:
        async with self._parallel:
            key = f"{channel}:{address}"
            while channel not in self._unavailable:
                message = await asyncio.to_thread(self._head, channel, address)
                if message is None or message.next_attempt_at > utcnow():
                    return
                await self.limiter.acquire(key)
                try:
                    await self.senders[channel].send(_outgoing(message))
                except TemporaryFailure as exc:
                    if exc.unreachable:
                        self._outage(channel, str(exc))
                    await self._write(
                        self._retry, message.id, str(exc), exc.retry_after, exc.unreachable
                    )
                    if exc.retry_after:
                        self.limiter.pause(key, exc.retry_after)
                    report.retried += 1
                    return
                except ChannelUnavailable as exc:
                    if channel not in self._unavailable:
                        log.error("%s channel unavailable, messages stay queued: %s", channel, exc)
                    self._unavailable[channel] = str(exc)
                    await self._write(self._retry, message.id, str(exc), None, False)
                    report.errors.append(str(exc))
                    return
                except RecipientBlocked as exc:
                    await self._write(self._blocked, message.id, int(address), str(exc))
                    report.blocked += 1
                    return
                except PermanentFailure as exc:
                    await self._write(self._finish, message.id, OutboxStatus.FAILED, str(exc))
                    log.warning("message %s refused for good: %s", message.id, exc)
                    report.failed += 1
                    continue
                # Sent: the mark waits out a locked database (a lost mark would resend it).
                await self._write(self._finish, message.id, OutboxStatus.SENT, None)
                report.sent += 1
                if self._outages.pop(channel, None) is not None:
                    log.warning("%s reachable again: its queued messages go out now", channel)

    def _outage(self, channel: str, error: str) -> None:
        """The channel could not be reached: pause it, longer each time a probe fails."""
        now = time.monotonic()
        outage = self._outages.get(channel)
        if outage is None:
            log.error("%s unreachable (%s): its messages wait for it", channel, error)
            outage = self._outages[channel] = ChannelOutage(self.pacing.retry_base / 2, now)
        if outage.next_try <= now:  # a probe failed (not another chat of the same round)
            outage.pause = min(outage.pause * 2, self.pacing.outage_retry_max)
            outage.next_try = now + outage.pause

    async def _write(self, function: Callable[..., None], *args: object) -> None:
        """One delivery mark, in a thread, retried while the database is locked."""
        await write_retrying(function, *args, what=f"outbox mark of message {args[0]}")

    def _head(self, channel: str, address: str) -> OutboxMessage | None:
        with self.db() as db:
            return db.scalar(
                select(OutboxMessage)
                .where(
                    OutboxMessage.channel == channel,
                    OutboxMessage.address == address,
                    OutboxMessage.status == OutboxStatus.PENDING,
                )
                .order_by(OutboxMessage.id)
                .limit(1)
            )

    def _retry(
        self, message_id: int, error: str, retry_after: float | None, unreachable: bool
    ) -> None:
        with self.db.begin() as db:
            message = db.get(OutboxMessage, message_id)
            message.attempts += 1
            delay = backoff(message.attempts, self.pacing.retry_base, self.pacing.retry_max)
            if unreachable:  # the channel's outage pauses it (_outage), not the message
                delay = dt.timedelta(0)
            if retry_after:
                delay = max(delay, dt.timedelta(seconds=retry_after))
            message.next_attempt_at = utcnow() + delay
            message.last_error = error

    def _finish(self, message_id: int, status: str, error: str | None) -> None:
        with self.db.begin() as db:
            message = db.get(OutboxMessage, message_id)
            message.attempts += 1
            message.status = status
            message.last_error = error
            if status == OutboxStatus.SENT:
                message.sent_at = utcnow()

    def _blocked(self, message_id: int, chat_id: int, error: str) -> None:
        log.warning("chat %s blocked the bot: %s", chat_id, error)
        with self.db.begin() as db:
            message = db.get(OutboxMessage, message_id)
            message.attempts += 1
            message.last_error = error
            if self.on_blocked is not None:
                self.on_blocked(db, chat_id)
            else:
                message.status = OutboxStatus.BLOCKED


def _outgoing(message: OutboxMessage) -> OutgoingMessage:
    return OutgoingMessage(
        id=message.id,
        channel=message.channel,
        address=message.address,
        kind=message.kind,
        language=message.language,
        subject=message.subject,
        text=message.text,
        attachment_path=Path(message.attachment_path) if message.attachment_path else None,
        attachment_kind=message.attachment_kind,
        link=message.link,
    )
