"""APScheduler 3 on a persistent SQLAlchemy job store, and the jobs of a session.

Grace times are chosen per job so a restart never skips work silently: a reminder may
still go out late until the session starts, the bot may still join until it ends.
A job missed beyond its grace is reported to the organizers (``report_missed``).
``coalesce`` folds several missed runs of the retention sweep into one.

The job store is the database: APScheduler's asyncio scheduler reads and writes it on
the event loop each time it wakes. ``JobStoreInThreadScheduler`` does that work in a
thread instead, so a locked database delays the jobs, never the server.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
from collections.abc import Iterable
from typing import Any

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from proctorbot.scheduling.hooks import JobRuntime
from proctorbot.scheduling.jobs import report_missed
from proctorbot.scheduling.tables import JOBS_TABLE
from proctorbot.storage.db import make_engine, utcnow
from proctorbot.storage.models import ExamSession, SessionKind

log = logging.getLogger(__name__)
JOBS = "proctorbot.scheduling.jobs"
MINUTE = dt.timedelta(minutes=1)
STORE_RETRY_SECONDS = 5.0


class _JobWithRuntime:
    """The stored job seen through a window that hands ``runtime`` to its function."""

    def __init__(self, job: Any, runtime: JobRuntime) -> None:
        self._job = job
        self.func = functools.partial(job.func, runtime=runtime)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._job, name)

    def __str__(self) -> str:
        return str(self._job)


class RuntimeExecutor(AsyncIOExecutor):
    """Runs coroutine jobs on the event loop with the runtime injected."""

    def __init__(self, runtime: JobRuntime) -> None:
        super().__init__()
        self.runtime = runtime

    def _do_submit_job(self, job: Any, run_times: list[dt.datetime]) -> None:
        submit = functools.partial(
            super()._do_submit_job, _JobWithRuntime(job, self.runtime), run_times
        )
        if _on_loop(self._eventloop):
            submit()
        else:  # the scheduler's thread (JobStoreInThreadScheduler): hop onto the loop
            self._eventloop.call_soon_threadsafe(submit)


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


class JobStoreInThreadScheduler(AsyncIOScheduler):
    """APScheduler on the event loop, its job store (the database) read in a thread.

    ``wakeup`` runs ``_process_jobs`` (due jobs from the store, their next run written
    back) in a worker thread, one round at a time; the jobs themselves still run on the
    loop (``RuntimeExecutor``)."""

    _round: asyncio.Future[Any] | None = None
    _again = False

    def wakeup(self) -> None:
        loop = self._eventloop
        if loop is None:
            return
        loop.call_soon_threadsafe(self._begin_round)

    def _begin_round(self) -> None:
        if self._round is not None:  # one round at a time; wake again when it is over
            self._again = True
            return
        self._stop_timer()
        self._round = self._eventloop.run_in_executor(None, self._process_jobs)
        self._round.add_done_callback(self._end_round)

    def _end_round(self, done: asyncio.Future[Any]) -> None:
        self._round = None
        wait_seconds: float | None = STORE_RETRY_SECONDS
        try:
            wait_seconds = done.result()
        except Exception:  # noqa: BLE001 - a locked store: try again a little later
            log.exception("job store round failed; next try in %.0f s", STORE_RETRY_SECONDS)
        if not self.running or self._eventloop is None:
            return
        if self._again:
            self._again = False
            self._begin_round()
            return
        self._start_timer(wait_seconds)


def make_scheduler(runtime: JobRuntime) -> AsyncIOScheduler:
    """A scheduler whose jobs live in the database (``scheduling.jobstore_url`` or the main one)."""
    settings = runtime.ctx.settings
    url = settings.scheduling.jobstore_url
    engine = runtime.ctx.engine if not url else make_engine(url)
    scheduler = JobStoreInThreadScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE)},
        executors={"default": RuntimeExecutor(runtime)},
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": settings.scheduling.misfire_grace_seconds,
        },
        timezone=dt.UTC,
    )

    def missed(event: JobExecutionEvent) -> None:
        try:
            report_missed(runtime, event.job_id, event.scheduled_run_time)
        except Exception:  # a listener must not break the scheduler loop
            log.exception("could not report missed job %s", event.job_id)

    scheduler.add_listener(missed, EVENT_JOB_MISSED)
    return scheduler


def reminder_offsets(profile_name: str, default: Iterable[int]) -> tuple[int, ...]:
    """The profile's reminder offsets (minutes before the start), else the settings' ones."""
    try:
        from proctorbot.config.profiles import load_profile

        return tuple(load_profile(profile_name).reminders.offsets_minutes)
    except Exception as exc:  # an unknown or broken profile must not stop planning
        log.warning("reminders of profile %r unavailable (%s); using defaults", profile_name, exc)
        return tuple(default)


def schedule_session_jobs(
    scheduler: AsyncIOScheduler,
    session: ExamSession,
    *,
    reminder_offsets_minutes: Iterable[int],
    bot_join_minutes_before: int,
    now: dt.datetime | None = None,
) -> list[str]:
    """Reminders, bot join, no-show check and post-processing of one session.

    Reminder times already past when planning late: only the one closest to the start
    goes out (now), so a student planned 2 days ahead still gets the schedule once.
    Re-scheduling a session replaces its jobs.
    """
    current = now or utcnow()
    start, end = session.starts_at, session.ends_at
    added: list[str] = []

    def add(kind: str, run_at: dt.datetime, grace_until: dt.datetime, *args: Any) -> None:
        job_id = ":".join([kind, session.id, *map(str, args[1:])])
        grace = max(1, int((grace_until - run_at).total_seconds()))
        scheduler.add_job(
            f"{JOBS}:{kind if kind != 'reminder' else 'send_reminder'}",
            trigger=DateTrigger(run_date=max(run_at, current)),
            args=args,
            id=job_id,
            name=f"{kind} {session.title}",
            replace_existing=True,
            misfire_grace_time=grace,
        )
        added.append(job_id)

    offsets = sorted(set(reminder_offsets_minutes), reverse=True)
    past = [o for o in offsets if start - o * MINUTE <= current]
    for offset in offsets:
        run_at = start - offset * MINUTE
        if offset in past and offset != min(past):
            continue
        if run_at < current and current >= start:
            continue
        add("reminder", run_at, start, session.id, offset)
    if current < end:
        add("bot_join", start - bot_join_minutes_before * MINUTE, end, session.id)
        if session.kind != SessionKind.TRIAL:  # a trial's no-show is in the day's summary
            add("check_no_show", start, end, session.id)
    add("post_session", end, end + dt.timedelta(days=7), session.id)
    return added


def schedule_trial_summary(
    scheduler: AsyncIOScheduler,
    exam_day_id: str,
    *,
    after: dt.datetime,
    exam_starts: dt.datetime,
    now: dt.datetime | None = None,
) -> str:
    """The organizers' list of failed and absent students: once the last trial call is
    over (``after``), still in time before the first exam (grace until then)."""
    current = now or utcnow()
    run_at = max(after, current)
    job_id = f"trial_summary:{exam_day_id}"
    scheduler.add_job(
        f"{JOBS}:send_trial_summary",
        trigger=DateTrigger(run_date=run_at),
        args=(exam_day_id,),
        id=job_id,
        name=f"trial summary {exam_day_id}",
        replace_existing=True,
        misfire_grace_time=max(1, int((exam_starts - run_at).total_seconds())),
    )
    return job_id


def cancel_session_jobs(scheduler: AsyncIOScheduler, session_id: str) -> int:
    removed = 0
    for job in scheduler.get_jobs():
        if job.id.split(":")[1:2] == [session_id]:
            job.remove()
            removed += 1
    return removed


def schedule_retention(scheduler: AsyncIOScheduler, every_hours: float) -> None:
    scheduler.add_job(
        f"{JOBS}:retention_sweep",
        trigger=IntervalTrigger(hours=every_hours, timezone=dt.UTC),
        id="retention",
        name="retention sweep",
        replace_existing=True,
        coalesce=True,
        misfire_grace_time=None,  # however late, one sweep runs
    )
