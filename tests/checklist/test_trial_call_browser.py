"""End to end, a trial call [003 §3]: a real Chromium student joins a session of kind
``trial``; the bot runs consent and the equipment step only, tells the student the result,
records a short sample and ends the call by itself; the page says the test call is over
and the organizers' table reads "passed"."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import time
from pathlib import Path

import pytest
from proctorbot.bot.manager import BotManager
from proctorbot.checklist.checks import CheckThresholds
from proctorbot.checklist.service import ChecklistPlugin
from proctorbot.checklist.trial import TrialStatus, load_trial_outcomes
from proctorbot.conference.links import call_token
from proctorbot.config.profiles import PROFILES_DIR
from proctorbot.recording.manifest import read_manifest
from proctorbot.storage.models import (
    ExamSession,
    Organization,
    Person,
    SessionKind,
    SessionMember,
)

from proctorbot.app import Areas
from tests.browser_helpers import launch_chromium, make_fake_media, open_call, serve_app

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(150)]

SAMPLE_S = 3.0


def trial_profile(directory: Path) -> Path:
    """school-interview (its [trial_call] on) with a 3-s sample, to keep the test short."""
    text = (PROFILES_DIR / "school-interview.toml").read_text(encoding="utf-8")
    text, count = re.subn(r"(?m)^sample_seconds = .*$", f"sample_seconds = {SAMPLE_S}", text)
    assert count == 1
    path = directory / "trial-profile.toml"
    path.write_text(text, encoding="utf-8")
    return path


def create_trial(ctx, profile: Path) -> tuple[str, str]:
    now = dt.datetime.now(dt.UTC)
    with ctx.db.begin() as db:
        org = Organization(name="Школа 2")
        db.add(org)
        db.flush()
        student = Person(organization_id=org.id, role="student", full_name="Смирнова Анна")
        db.add(student)
        db.flush()
        trial = ExamSession(
            organization_id=org.id,
            title="Пробный звонок — Собеседование: Смирнова Анна",
            profile=str(profile),
            language="ru",
            starts_at=now,
            ends_at=now + dt.timedelta(minutes=10),
            kind=SessionKind.TRIAL,
        )
        db.add(trial)
        db.flush()
        db.add(SessionMember(session_id=trial.id, person_id=student.id, role="student"))
        return trial.id, student.id


async def test_trial_call_runs_the_equipment_check_records_and_ends(
    app_context, playwright_async, tmp_path: Path
) -> None:
    started = time.monotonic()
    ctx = app_context
    media = await asyncio.to_thread(
        make_fake_media, tmp_path / "media", size="640x480", fps=15, seconds=6.0
    )
    session_id, student_id = create_trial(ctx, trial_profile(tmp_path))
    async with serve_app(ctx, areas=Areas(checklist=True), seed_demo=False) as server:
        manager = BotManager(ctx, base_url=server.url)
        manager.add_session_plugin(ChecklistPlugin(ctx, thresholds=CheckThresholds(min_fps=5.0)))
        bot = await manager.join(session_id)
        await asyncio.wait_for(bot.joined.wait(), 20)
        link = f"{server.url}/call?t={call_token(ctx, session_id, 'student', student_id)}"
        browser = await launch_chromium(playwright_async, media)
        try:
            page = await open_call(browser, link)
            await page.wait_for_selector('[data-action="consent-yes"]', timeout=60_000)
            await page.click('[data-action="consent-yes"]')
            # the result, then the sample, then the end the bot asked for
            await page.wait_for_selector("#prompts li[data-key='checklist.trial']", timeout=60_000)
            told = await page.inner_text("#prompts li[data-key='checklist.trial']")
            await page.wait_for_selector("body[data-left='ended']", timeout=30_000)
            banner = await page.inner_text("#latest-prompt")
            steps = await page.evaluate(
                "[...document.querySelectorAll('#checklist [data-step]')]"
                ".map((e) => e.dataset.step)"
            )
        finally:
            await browser.close()
        await asyncio.wait_for(manager._tasks[session_id], 30)
        assert manager.ended[session_id] == "trial_over"
        session_dir = bot.session_dir

    assert "Пробный звонок пройден" in told, told
    assert banner == "Пробный звонок завершён. Спасибо! Страницу можно закрыть."
    assert not steps or set(steps) <= {"consent", "equipment"}, steps
    run = json.loads((session_dir / "checklist.json").read_text(encoding="utf-8"))
    assert [s["kind"] for s in run["steps"]] == ["consent", "equipment"]
    assert run["outcome"] == "admitted"
    with ctx.db() as db:
        assert load_trial_outcomes(db, [session_id])[session_id].status is TrialStatus.PASSED
    manifest = read_manifest(session_dir)
    student = [p for p in manifest.participants if p.role == "student"]
    assert student, "the sample is recorded"
    print(f"trial call browser test: {time.monotonic() - started:.1f} s")
