"""Making sure every session is handed over once: the scheduled post-session job, and the
hand-overs a server stop or a crash left undone."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from proctorbot.handover.folder import archives_to_retry, handover_complete, unfinished_sessions

log = logging.getLogger(__name__)


class SessionCloser:
    """The scheduled post-session job (``proctorbot plan`` places one at each slot's end).

    A bot still in the call leaves by itself once the session is over
    (``bot/session_end.py``) and its hand-over follows; this job only hands over a
    session no bot records any more (it crashed, the server was down at the end) that
    has not been handed over yet."""

    def __init__(self, manager: Any, recordings_dir: Path) -> None:
        self.manager = manager  # proctorbot.bot.manager.BotManager
        self.recordings_dir = recordings_dir

    async def __call__(self, session_id: str) -> str:
        if self.manager.is_joined(session_id):
            return "the bot is in the call; it leaves when the session is over"
        if await asyncio.to_thread(handover_complete, self.recordings_dir / session_id):
            return "already handed over"
        await self.manager.hand_over(session_id)
        return "handed over"


async def resume_hand_overs(
    ctx: Any,
    manager: Any,
    delay_s: float = 2.0,
    retry_archive: Callable[[str], Awaitable[Any]] | None = None,
) -> None:
    """At start-up: hand over, one after another, what a stop or a crash left undone;
    then archive again the sessions whose archive failed (``retry_archive``)."""
    await asyncio.sleep(delay_s)
    try:
        pending = await asyncio.to_thread(unfinished_sessions, ctx)
    except Exception:  # noqa: BLE001 - the server runs on; the job will retry
        log.exception("sessions left to hand over could not be listed")
        return
    for session_id in pending:
        if manager.is_joined(session_id):
            continue
        log.warning("session %s: its hand-over did not complete; it runs now", session_id)
        await manager.hand_over(session_id)
    if retry_archive is None or not ctx.settings.archive.enabled:
        return
    for session_id in await asyncio.to_thread(archives_to_retry, ctx.settings.recordings_dir):
        log.warning("session %s: its archive to the S3 store failed; tried again", session_id)
        await retry_archive(session_id)
