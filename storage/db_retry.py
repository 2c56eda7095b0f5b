"""Writes that wait out a locked database instead of failing: retried, never lost.

SQLite answers "database is locked" once a write has waited its busy timeout for
another connection's lock (a backup holding ``BEGIN EXCLUSIVE``, a long migration, a
second process). A write that must not be lost (an outbox row, a delivery mark, a
checklist transition, an audit line) runs through ``retry_when_locked`` (in a thread)
or ``write_retrying`` (from the event loop, the function itself in a thread): the whole
transaction is tried again, with a growing pause, until it goes through or
``give_up_after`` seconds have passed. Any other error is raised at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.exc import OperationalError

log = logging.getLogger(__name__)
T = TypeVar("T")

FIRST_PAUSE_S = 0.2
MAX_PAUSE_S = 5.0


class DatabaseBusy(Exception):
    """The database stayed locked longer than the caller could wait."""


def is_lock_error(exc: BaseException) -> bool:
    """SQLite's "database is locked" / "database table is locked" / SQLITE_BUSY."""
    if not isinstance(exc, OperationalError):
        return False
    text = str(exc.orig if exc.orig is not None else exc).lower()
    return "locked" in text or "busy" in text


def _pauses(give_up_after: float | None) -> Any:
    started = time.monotonic()
    pause = FIRST_PAUSE_S
    while give_up_after is None or time.monotonic() - started < give_up_after:
        yield pause
        pause = min(pause * 2, MAX_PAUSE_S)


def retry_when_locked(
    function: Callable[..., T],
    *args: Any,
    what: str,
    give_up_after: float | None = None,
) -> T:
    """``function(*args)`` (a whole transaction), again while the database is locked.

    Blocking: call it in a thread. Raises ``DatabaseBusy`` after ``give_up_after``
    seconds (None: never gives up)."""
    waited = 0
    last: BaseException | None = None
    for pause in _pauses(give_up_after):
        try:
            result = function(*args)
        except OperationalError as exc:
            if not is_lock_error(exc):
                raise
            last = exc
            if waited == 0:
                log.warning("database locked: %s waits and is retried", what)
            waited += 1
            time.sleep(pause)
            continue
        if waited:
            log.info("database free again: %s done after %d retries", what, waited)
        return result
    raise DatabaseBusy(f"the database stayed locked; {what} not done") from last


async def write_retrying(
    function: Callable[..., T],
    *args: Any,
    what: str,
    give_up_after: float | None = None,
) -> T:
    """``retry_when_locked`` for the event loop: each try runs in a thread and the pauses
    are asyncio sleeps, so a long lock holds no thread while it lasts."""
    waited = 0
    last: BaseException | None = None
    for pause in _pauses(give_up_after):
        try:
            result = await asyncio.to_thread(function, *args)
        except OperationalError as exc:
            if not is_lock_error(exc):
                raise
            last = exc
            if waited == 0:
                log.warning("database locked: %s waits and is retried", what)
            waited += 1
            await asyncio.sleep(pause)
            continue
        if waited:
            log.info("database free again: %s done after %d retries", what, waited)
        return result
    raise DatabaseBusy(f"the database stayed locked; {what} not done") from last
