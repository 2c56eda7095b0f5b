"""Default hooks from the report area: rebuild the report after a session, tell the
organizers with a signed link, and run its retention rules. Used by ``serve`` when the
report area is installed; any hook set explicitly wins."""

from __future__ import annotations

import asyncio
import json
import logging

from proctorbot.scheduling.hooks import JobHooks
from proctorbot.storage.db_retry import write_retrying

from proctorbot.context import AppContext

log = logging.getLogger(__name__)


def report_hooks(ctx: AppContext, hooks: JobHooks) -> None:
    try:
        from proctorbot.report.retention import run_retention
        from proctorbot.report.service import rebuild_report, report_link
    except ImportError:
        log.info("no report area: post-session and retention jobs will only log")
        return

    async def post_session(session_id: str) -> None:
        from proctorbot.notifications import events

        written = await asyncio.to_thread(rebuild_report, ctx, session_id)
        summary = ""
        try:
            data = json.loads(written.data.read_text(encoding="utf-8"))
            findings = [f for f in data.get("findings", []) if f.get("counts", True)]
            summary = f"{data.get('score')}/100 · {len(findings)}"
            if data.get("verdict"):
                summary += f" · {data['verdict']}"
        except (OSError, ValueError) as exc:
            log.warning("report data of %s unreadable: %s", session_id, exc)

        def queue_notice() -> None:
            with ctx.db.begin() as db:
                events.session_finished(
                    db, session_id, summary=summary, report_url=report_link(ctx, session_id)
                )

        await write_retrying(queue_notice, what=f"finished notice of {session_id}")

    async def retention() -> object:
        return await asyncio.to_thread(run_retention, ctx)

    if hooks.post_session is None:
        hooks.post_session = post_session
    if hooks.retention is None:
        hooks.retention = retention
