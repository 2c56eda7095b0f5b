"""Jobs on the persistent job store: they survive a restart and nothing is skipped silently."""

import asyncio
import datetime as dt

import pytest
from proctorbot.notifications.tables import OutboxMessage
from proctorbot.scheduling.hooks import JobHooks, JobRuntime
from proctorbot.scheduling.jobs import JobSetupError, bot_join, reminder_template
from proctorbot.scheduling.scheduler import (
    cancel_session_jobs,
    make_scheduler,
    schedule_retention,
    schedule_session_jobs,
)
from proctorbot.storage.db import utcnow
from proctorbot.storage.models import (
    ExamSession,
    Organization,
    Person,
    Role,
    SessionMember,
)
from sqlalchemy import select


class Recorder:
    def __init__(self, present: set[str] | None = None) -> None:
        self.joined: list[str] = []
        self.processed: list[str] = []
        self.sweeps = 0
        self.present = present or set()

    def hooks(self) -> JobHooks:
        async def join(session_id: str) -> None:
            self.joined.append(session_id)

        def sweep() -> int:
            self.sweeps += 1
            return 0

        return JobHooks(
            bot_join=join,
            people_in_room=lambda session_id: self.present,
            post_session=self.processed.append,
            retention=sweep,
        )


def make_session(app_context, start: dt.datetime, minutes: float = 30) -> tuple[str, str]:
    with app_context.db.begin() as db:
        org = Organization(name="Uni")
        db.add(org)
        db.flush()
        student = Person(
            organization_id=org.id,
            role=Role.STUDENT,
            full_name="Stan Student",
            email="stan@mail.example",
            language="en",
            external_id="s1",
        )
        examiner = Person(
            organization_id=org.id,
            role=Role.EXAMINER,
            full_name="Eva Examiner",
            email="eva@uni.example",
            language="ru",
            external_id="e1",
        )
        organizer = Person(
            organization_id=org.id,
            role=Role.ORGANIZER,
            full_name="Olga",
            email="olga@uni.example",
            language="en",
            external_id="o1",
        )
        db.add_all([student, examiner, organizer])
        db.flush()
        session = ExamSession(
            organization_id=org.id,
            title="Math",
            profile="no-such-profile",
            language="en",
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=minutes),
        )
        session.members = [
            SessionMember(person_id=student.id, role=Role.STUDENT),
            SessionMember(person_id=examiner.id, role=Role.EXAMINER),
        ]
        db.add(session)
        db.flush()
        return session.id, student.id


def outbox(app_context) -> list[OutboxMessage]:
    with app_context.db() as db:
        return db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


async def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def test_reminder_texts_by_offset() -> None:
    assert reminder_template(20160) == "scheduling.reminder_procedure"
    assert reminder_template(4320) == "scheduling.reminder_schedule"
    assert reminder_template(1440) == "scheduling.reminder_link"
    assert reminder_template(15) == "scheduling.reminder_soon"


async def test_job_without_runtime_is_a_clear_error() -> None:
    with pytest.raises(JobSetupError):
        await bot_join("x")


async def test_jobs_survive_a_restart_and_due_jobs_run(app_context) -> None:
    now = utcnow()
    start = now + dt.timedelta(minutes=15, seconds=1)  # bot join due in 1 s
    session_id, _ = make_session(app_context, start)
    first = Recorder()
    scheduler = make_scheduler(JobRuntime(app_context, first.hooks()))
    scheduler.start(paused=True)
    ids = schedule_session_jobs(
        scheduler,
        app_context.db().get(ExamSession, session_id),
        reminder_offsets_minutes=[1440, 16, 15],
        bot_join_minutes_before=15,
        now=now,
    )
    scheduler.shutdown(wait=False)  # the process stops before anything is due
    # 1440 is past: only 16 (the closest past one) runs at once, 15 at start - 15 min
    assert sorted(ids) == sorted(
        [
            f"reminder:{session_id}:16",
            f"reminder:{session_id}:15",
            f"bot_join:{session_id}",
            f"check_no_show:{session_id}",
            f"post_session:{session_id}",
        ]
    )
    assert first.joined == []
    await asyncio.sleep(1.5)  # down while the reminders and the bot join fall due

    second = Recorder()
    restarted = make_scheduler(JobRuntime(app_context, second.hooks()))  # fresh, same SQLite file
    assert {job.id for job in restarted.get_jobs()} == set()  # not started: store not read yet
    restarted.start()
    try:
        await wait_for(lambda: second.joined == [session_id])
        await wait_for(lambda: len(outbox(app_context)) == 4)
    finally:
        restarted.shutdown(wait=False)
    messages = outbox(app_context)
    assert {(m.address, m.kind) for m in messages} == {
        ("stan@mail.example", "scheduling.reminder_soon"),
        ("eva@uni.example", "scheduling.reminder_examiner"),
    }
    to_student = [m.text for m in messages if m.address == "stan@mail.example"]
    assert all("/call?t=" in t and '"Math" starts at' in t for t in to_student)
    assert any("Сессия «Math»" in m.text for m in messages)  # the examiner reads Russian
    # what is not due yet is still stored for the next start
    again = make_scheduler(JobRuntime(app_context, Recorder().hooks()))
    again.start(paused=True)
    left = {job.id for job in again.get_jobs()}
    again.shutdown(wait=False)
    assert left == {f"check_no_show:{session_id}", f"post_session:{session_id}"}


async def test_missed_beyond_grace_is_reported_not_skipped(app_context) -> None:
    now = utcnow()
    start = now + dt.timedelta(seconds=0.5)
    session_id, _ = make_session(app_context, start, minutes=1 / 60)  # ends 1.5 s from now
    scheduler = make_scheduler(JobRuntime(app_context, Recorder().hooks()))
    scheduler.start(paused=True)
    schedule_session_jobs(
        scheduler,
        app_context.db().get(ExamSession, session_id),
        reminder_offsets_minutes=[],
        bot_join_minutes_before=0,
        now=now,
    )
    scheduler.shutdown(wait=False)
    await asyncio.sleep(2.0)  # down past the session's end
    recorder = Recorder()
    restarted = make_scheduler(JobRuntime(app_context, recorder.hooks()))
    restarted.start()
    try:
        await wait_for(lambda: recorder.processed == [session_id])  # post-session still runs
        await wait_for(lambda: len([m for m in outbox(app_context) if m.kind == "job_missed"]) == 2)
    finally:
        restarted.shutdown(wait=False)
    assert recorder.joined == []  # too late for the bot, and said so
    texts = [m.text for m in outbox(app_context) if m.kind == "job_missed"]
    assert any(f"bot_join:{session_id}" in t for t in texts)
    assert any(f"check_no_show:{session_id}" in t for t in texts)


async def test_no_show_alert_and_presence(app_context) -> None:
    now = utcnow()
    session_id, student_id = make_session(app_context, now + dt.timedelta(seconds=0.3))
    recorder = Recorder(present=set())
    scheduler = make_scheduler(JobRuntime(app_context, recorder.hooks()))
    scheduler.start()
    try:
        schedule_session_jobs(
            scheduler,
            app_context.db().get(ExamSession, session_id),
            reminder_offsets_minutes=[],
            bot_join_minutes_before=15,
            now=now,
        )
        await wait_for(lambda: any(m.kind == "no_show" for m in outbox(app_context)))
        await asyncio.sleep(0.2)
    finally:
        scheduler.shutdown(wait=False)
    alerts = [m for m in outbox(app_context) if m.kind == "no_show"]
    assert {m.address for m in alerts} == {"eva@uni.example", "olga@uni.example"}
    assert recorder.joined == [session_id]


async def test_student_present_means_no_alert_and_cancel_removes_jobs(app_context) -> None:
    now = utcnow()
    session_id, student_id = make_session(app_context, now + dt.timedelta(seconds=0.2))
    recorder = Recorder(present=set())
    recorder.present.add(student_id)
    scheduler = make_scheduler(JobRuntime(app_context, recorder.hooks()))
    scheduler.start()
    try:
        session = app_context.db().get(ExamSession, session_id)
        schedule_session_jobs(
            scheduler, session, reminder_offsets_minutes=[], bot_join_minutes_before=15, now=now
        )
        await asyncio.sleep(1.0)
        assert not [m for m in outbox(app_context) if m.kind == "no_show"]
        assert cancel_session_jobs(scheduler, session_id) == 1  # post_session was left
        schedule_retention(scheduler, every_hours=1 / 3600 / 5)  # every 0.2 s
        await wait_for(lambda: recorder.sweeps >= 2)
    finally:
        scheduler.shutdown(wait=False)


def test_restart_in_a_real_process(app_context, settings) -> None:
    """Jobs written by this process run in a new `proctorbot jobs --run` process."""
    import os
    import subprocess
    import sys
    import time

    now = utcnow()
    session_id, _ = make_session(app_context, now + dt.timedelta(minutes=16))

    async def schedule() -> None:
        scheduler = make_scheduler(JobRuntime(app_context, Recorder().hooks()))
        scheduler.start(paused=True)
        schedule_session_jobs(
            scheduler,
            app_context.db().get(ExamSession, session_id),
            reminder_offsets_minutes=[16, 15],
            bot_join_minutes_before=15,
            now=now + dt.timedelta(seconds=0.5),
        )
        scheduler.shutdown(wait=False)

    asyncio.run(schedule())
    app_context.engine.dispose()
    time.sleep(1.0)  # "down" while the first reminder falls due
    env = {**os.environ, "PROCTORBOT_DATA_DIR": str(settings.data_dir)}
    result = subprocess.run(
        [sys.executable, "-m", "proctorbot", "jobs", "--run", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    kinds = [(m.address, m.kind) for m in outbox(app_context)]
    assert kinds.count(("stan@mail.example", "scheduling.reminder_soon")) == 1
    assert f"reminder:{session_id}:15" in result.stdout  # not due yet: still stored
    assert f"reminder:{session_id}:16" not in result.stdout
