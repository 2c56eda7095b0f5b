"""A test-call day [003 §3]: the planner places a trial call one day before each exam,
each is reminded, the bot's checklist results come back as a table (passed / failed with
the reason / did not attend) and the students to contact are listed for the organizers,
on the dashboard and in a notification before the exam day."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from proctorbot.checklist.machine import new_run
from proctorbot.checklist.records import (
    Actor,
    ConsentRecord,
    RunOutcome,
    StepKind,
    StepStatus,
)
from proctorbot.checklist.store import ChecklistStore
from proctorbot.checklist.trial import trial_plan
from proctorbot.checklist.wiring import plan_for_profile
from proctorbot.notifications.tables import OutboxMessage
from proctorbot.report.dashboard import setup as dashboard_setup
from proctorbot.report.dashboard_sign_in import CSRF_FIELD
from proctorbot.report.passwords import hash_password
from proctorbot.scheduling.hooks import JobHooks, JobRuntime
from proctorbot.scheduling.jobs import send_reminder, send_trial_summary
from proctorbot.scheduling.planner import ExaminerToPlan, Interval, SlotLengths, SlotPlanner
from proctorbot.scheduling.planner import StudentToPlan as Student
from proctorbot.scheduling.schedule import save_plan, students_to_plan
from proctorbot.scheduling.scheduler import make_scheduler
from proctorbot.scheduling.trial_calls import (
    ExamToPrepare,
    TrialCallPlanner,
    TrialState,
    plan_trial_calls,
    schedule_trial_jobs,
    to_contact,
    trial_results,
)
from proctorbot.storage.db import utcnow
from proctorbot.storage.localtime import local_to_utc
from proctorbot.storage.models import ExamDay, ExamSession, Organization, Person, SessionKind
from sqlalchemy import select

MSK = ZoneInfo("Europe/Moscow")
PROFILE = "school-interview"  # [trial_call] enabled, 1 day before, 10 min
PASSWORD = "correct horse"
SCREENS = Path(__file__).resolve().parents[2] / "var" / "screens"
NAMES = ("Алексеев Борис", "Быкова Вера", "Волков Глеб")


def make_people(db) -> tuple[Organization, list[Person]]:
    org = Organization(name="Школа 1")
    db.add(org)
    db.flush()
    db.add(
        Person(
            organization_id=org.id,
            role="organizer",
            full_name="Организатор Ольга",
            email="olga@example.org",
            password_hash=hash_password(PASSWORD),
            language="ru",
        )
    )
    students = [
        Person(
            organization_id=org.id,
            role="student",
            full_name=name,
            email=f"s{i}@example.org",
            telegram_username=f"student{i}",
            group_name="9А",
            language="ru",
        )
        for i, name in enumerate(NAMES)
    ]
    examiner = Person(organization_id=org.id, role="examiner", full_name="Экзаменатор Иван")
    db.add_all([*students, examiner])
    db.flush()
    return org, [*students, examiner]


def the_run(session_id: str, name: str, *, failed: str | None):
    """What the bot's checklist stores after a trial: consent, then the equipment step."""
    plan = trial_plan(plan_for_profile(PROFILE))
    assert [str(s.kind) for s in plan.steps] == ["consent", "equipment"]
    run = new_run(session_id, plan=plan, profile=PROFILE, student_name=name, language="ru")
    run.consent = ConsentRecord(True, "2026-01-01T09:00:00+00:00", "2026-1", "ru", Actor("student"))
    run.steps[0].status = StepStatus.PASSED
    equipment = run.steps[1]
    assert equipment.kind is StepKind.EQUIPMENT
    if failed:
        equipment.status, equipment.failure = StepStatus.FAILED, failed
    else:
        equipment.status, run.outcome = StepStatus.PASSED, RunOutcome.ADMITTED
    return run


async def test_trial_call_day_planned_reminded_and_reported(app_context, tmp_path) -> None:
    ctx = app_context
    now = utcnow()
    exam_date = now.astimezone(MSK).date() + dt.timedelta(days=3)
    at = lambda clock: local_to_utc(exam_date, dt.time.fromisoformat(clock), MSK)  # noqa: E731
    with ctx.db.begin() as db:
        org, people = make_people(db)
        students, examiner = people[:3], people[3]
        window = Interval(at("09:00"), at("12:00"))
        plan = SlotPlanner(SlotLengths.minutes(10, 10, 20, 5)).plan(
            [Student(p.id, p.full_name) for p in students],
            [ExaminerToPlan(examiner.id, examiner.full_name, (window,))],
        )
        exams = save_plan(
            db,
            org.id,
            exam_date,
            plan,
            title="Итоговое собеседование",
            profile=PROFILE,
            timezone="Europe/Moscow",
        )
        day = db.get(ExamDay, exams[0].exam_day_id)
        day_id, org_id = day.id, org.id

        # 1. placed: one per student, the day before at the exam's local time, 10 min
        trial_plan_, trials = plan_trial_calls(db, day, profile_name=PROFILE, now=now)
        assert not trial_plan_.conflicts and len(trials) == 3
        by_student = {t.members[0].person_id: t for t in trials}
        for exam in exams:
            student = next(m.person_id for m in exam.members if m.role == "student")
            trial = by_student[student]
            exam_local, trial_local = (
                exam.starts_at.astimezone(MSK),
                trial.starts_at.astimezone(MSK),
            )
            assert trial_local.date() == exam_local.date() - dt.timedelta(days=1)
            assert trial_local.time() == exam_local.time()
            assert trial.ends_at - trial.starts_at == dt.timedelta(minutes=10)
            assert trial.kind == SessionKind.TRIAL and trial.exam_day_id == day_id
            assert [m.role for m in trial.members] == ["student"]  # no examiner sits it
            assert trial.title.startswith("Пробный звонок — Итоговое собеседование")
        # a second run keeps them; a trial call is no exam for the day it is on
        _, again = plan_trial_calls(db, day, profile_name=PROFILE, now=now)
        assert again == []
        before = exam_date - dt.timedelta(days=1)
        assert len(students_to_plan(db, org_id, before, "Europe/Moscow")) == 3
        trial_ids = [by_student[p.id].id for p in students]
        trial_ends = max(t.ends_at for t in trials)
        first_exam = min(e.starts_at for e in exams)

    # planned too late: a conflict with its reason, never a silent drop
    late = TrialCallPlanner(days_before=1, minutes=10, tz=MSK).plan(
        [ExamToPrepare("x", "p", "Поздний Пётр", at("09:00"))], now=at("08:00")
    )
    assert not late.slots and "too late" in late.conflicts[0].reason

    # 2. jobs: reminders and the bot for each trial, no no-show alert, then the summary
    runtime = JobRuntime(ctx, JobHooks())
    scheduler = make_scheduler(runtime)
    scheduler.start(paused=True)
    try:
        with ctx.db() as db:
            trials = [db.get(ExamSession, i) for i in trial_ids]
            job_ids = schedule_trial_jobs(
                scheduler,
                trials,
                exam_day_id=day_id,
                first_exam_starts=first_exam,
                reminder_offsets_minutes=(1440, 15),
                bot_join_minutes_before=15,
                now=now,
            )
        summary = scheduler.get_job(f"trial_summary:{day_id}")
        assert trial_ends < summary.next_run_time < first_exam
    finally:
        scheduler.shutdown(wait=False)
    for trial_id in trial_ids:
        assert {
            f"reminder:{trial_id}:1440",
            f"reminder:{trial_id}:15",
            f"bot_join:{trial_id}",
        } <= set(job_ids)
        assert f"check_no_show:{trial_id}" not in job_ids
    assert await send_reminder(trial_ids[0], 1440, runtime=runtime) == 1
    assert await send_reminder(trial_ids[0], 15, runtime=runtime) == 1
    with ctx.db() as db:
        reminders = db.scalars(
            select(OutboxMessage).where(OutboxMessage.session_id == trial_ids[0])
        ).all()
    assert [m.kind for m in reminders] == [
        "scheduling.reminder_trial",
        "scheduling.reminder_trial_soon",
    ]
    assert reminders[0].text.startswith("«Пробный звонок — Итоговое собеседование: ")
    assert "/call?t=" in reminders[0].text and "/call?t=" in reminders[1].text

    # 3. after the calls: the bot's checklist passed one, failed one, the third never came
    for trial_id, name, failed in zip(trial_ids, NAMES, ("", "no_video"), strict=False):
        store = ChecklistStore(ctx.db, ctx.settings.recordings_dir / trial_id)
        store.session_dir.mkdir(parents=True)
        store.save(the_run(trial_id, name, failed=failed or None))
    with ctx.db() as db:
        pending = trial_results(db, day_id, now)
        results = trial_results(db, day_id, trial_ends + dt.timedelta(minutes=1))
    assert [r.state for r in pending] == [TrialState.PASSED, TrialState.PENDING, TrialState.PENDING]
    assert [(r.student_name, r.state) for r in results] == [
        (NAMES[0], TrialState.PASSED),
        (NAMES[1], TrialState.FAILED),
        (NAMES[2], TrialState.NO_SHOW),
    ]
    assert (results[1].outcome.step, results[1].outcome.reason) == ("equipment", "no_video")
    contact = to_contact(results)
    assert [(r.student_name, r.email, r.telegram) for r in contact] == [
        (NAMES[1], "s1@example.org", "@student1"),
        (NAMES[2], "s2@example.org", "@student2"),
    ]

    # 4. the organizers' notification before the exam day, once (the calls are over: the
    # hand-over marked them finished)
    with ctx.db.begin() as db:
        for trial_id in trial_ids:
            db.get(ExamSession, trial_id).status = "finished"
    assert await send_trial_summary(day_id, runtime=runtime) == 1
    assert await send_trial_summary(day_id, runtime=runtime) == 0
    with ctx.db() as db:
        [note] = db.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "scheduling.trial_summary")
        ).all()
    assert "пройдено 1, не пройдено 1, не подключались 1" in note.text
    assert f"{NAMES[1]} — не пройден: Проверка оборудования: нет изображения" in note.text
    assert f"{NAMES[2]} — не подключался; s2@example.org, @student2" in note.text
    assert NAMES[0] not in note.text

    # 5. the dashboard: the day's exams stay exams; the trial calls have their own table
    app = web.Application()
    await dashboard_setup(app, ctx)
    async with TestClient(TestServer(app)) as client:
        login = await (await client.get("/dashboard/login")).text()
        token = login.split(f'name="{CSRF_FIELD}" value="')[1].split('"')[0]
        signed = await client.post(
            "/dashboard/login",
            data={"email": "olga@example.org", "password": PASSWORD, CSRF_FIELD: token},
            allow_redirects=False,
        )
        assert signed.status == 302
        sessions = (await (await client.get(f"/dashboard/api/days/{day_id}/sessions")).json())[
            "sessions"
        ]
        assert len(sessions) == 3 and all("Пробный" not in s["title"] for s in sessions)
        assert "trial-calls" in await (await client.get(f"/dashboard/days/{day_id}")).text()
        response = await client.get(f"/dashboard/days/{day_id}/trial-calls")
        assert response.status == 200
        html = await response.text()
    contacts_table = html.split('class="trial-contacts"')[1].split("</table>")[0]
    assert NAMES[0] not in contacts_table
    assert "Проверка оборудования: нет изображения с камеры" in contacts_table
    assert "s2@example.org, @student2" in contacts_table and "не подключался" in contacts_table
    table = html.split('class="trial-calls"')[1]
    assert [table.count(f'data-state="{s}"') for s in ("passed", "failed", "no_show")] == [1, 1, 1]
    await screenshot(html, SCREENS / "trial-calls-dashboard.png")


async def screenshot(html: str, path: Path) -> None:
    """The page as organizers see it (var/screens/, for people to look at)."""
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("no Chromium for the screenshot")
    from playwright.async_api import async_playwright

    path.parent.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
        try:
            page = await browser.new_page(viewport={"width": 1100, "height": 700})
            await page.set_content(html)
            await page.screenshot(path=str(path), full_page=True)
        finally:
            await browser.close()
