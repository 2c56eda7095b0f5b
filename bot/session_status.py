"""A session's status as the bot lives it: ``open`` when the bot is in the call, ``live``
once the student is admitted, ``finished`` when the bot has left and the hand-over
begins. What the dashboard shows and what the join poll and the call links read.

Each change is one short transaction in a thread, retried while the database is
locked (``storage/db_retry``): never on the event loop, never lost.
"""

from __future__ import annotations

import datetime as dt
import logging

from proctorbot.storage.db_retry import write_retrying
from proctorbot.storage.models import ExamSession, SessionStatus

from proctorbot.context import AppContext

log = logging.getLogger(__name__)

# A status only moves forward: planned → open → live → finished (cancelled stays).
ORDER = (SessionStatus.PLANNED, SessionStatus.OPEN, SessionStatus.LIVE, SessionStatus.FINISHED)


def _advance(ctx: AppContext, session_id: str, status: SessionStatus, at: dt.datetime) -> bool:
    with ctx.db.begin() as db:
        session = db.get(ExamSession, session_id)
        if session is None or session.status == SessionStatus.CANCELLED:
            return False
        current = SessionStatus(session.status) if session.status in ORDER else None
        if current is not None and ORDER.index(current) >= ORDER.index(status):
            return False
        session.status = status
        if status == SessionStatus.OPEN and session.opened_at is None:
            session.opened_at = at
        if status == SessionStatus.FINISHED:
            session.finished_at = at
        return True


async def advance_status(
    ctx: AppContext, session_id: str, status: SessionStatus, at: dt.datetime | None = None
) -> bool:
    """Move the session's status forward to ``status`` (False: it was already there)."""
    moment = at or dt.datetime.now(dt.UTC)
    try:
        changed = await write_retrying(
            _advance, ctx, session_id, status, moment, what=f"status of {session_id}"
        )
    except Exception:  # noqa: BLE001 - a status is never worth stopping the session for
        log.exception("session %s: status %s not written", session_id, status)
        return False
    if changed:
        log.info("session %s: status %s", session_id, status)
    return bool(changed)
