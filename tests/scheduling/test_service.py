"""`proctorbot serve` with the scheduling and notifications plug-ins (no Telegram token)."""

import asyncio
import datetime as dt

from aiohttp import web
from proctorbot.notifications.service import NOTIFIER
from proctorbot.scheduling.hooks import JobHooks, JobRuntime
from proctorbot.scheduling.scheduler import make_scheduler, schedule_session_jobs
from proctorbot.scheduling.service import JOB_HOOKS, SCHEDULER
from proctorbot.storage.db import utcnow
from proctorbot.storage.models import ExamSession

from proctorbot.app import Areas, build_app
from tests.scheduling.test_jobs import make_session, outbox, wait_for


async def test_serve_plugins_start_run_jobs_and_stop(app_context) -> None:
    app_context.settings.scheduling.store_poll_seconds = 0.2
    app = await build_app(app_context, areas=Areas(scheduling=True, notifications=True))
    runner = web.AppRunner(app)
    await runner.setup()  # runs on_startup
    try:
        scheduler = app[SCHEDULER]
        assert scheduler.running
        assert scheduler.get_job("retention") is not None
        hooks = app[JOB_HOOKS]
        assert hooks.people_in_room is not None  # the conference's room registry
        assert hooks.retention is not None  # the report area's retention rules
        # post_session is the hand-over area's (handover/closer.SessionCloser), not wired here
        assert "no Telegram bot token" in app[NOTIFIER].telegram_error
        await asyncio.sleep(0.3)  # the running scheduler has looked at its store and sleeps
        now = utcnow()
        session_id, _ = make_session(app_context, now + dt.timedelta(seconds=0.3))
        # jobs written by another scheduler, as `proctorbot plan` does from its own process
        other = make_scheduler(JobRuntime(app_context, JobHooks()))
        other.start(paused=True)
        schedule_session_jobs(
            other,
            app_context.db().get(ExamSession, session_id),
            reminder_offsets_minutes=[],
            bot_join_minutes_before=15,
            now=now,
        )
        other.shutdown(wait=False)
        # nobody is in the room at the start: the no-show alert is queued (e-mail, no SMTP yet)
        await wait_for(lambda: any(m.kind == "no_show" for m in outbox(app_context)))
        await asyncio.sleep(0.1)
    finally:
        await runner.cleanup()
    assert not scheduler.running
    assert {m.status for m in outbox(app_context)} == {"pending"}  # kept for when SMTP is set
