"""What people see on the call page, in headless Chromium: words, never codes.

A scripted bot (a signaling client) sends the panel the states a real bot sends; the
student, examiner and organizer pages render them. Checked: automatic results and flags
in words, in Russian and English; no key or code on any page; the one time convention
(minutes:seconds from the recording start, the exam day's clock beside it); no confirm /
override before the student is here; the student's tile large for the examiner; after
leaving or once the session ends, the student's page says so and releases camera and
microphone. Screenshots go to var/screens-ui/ (looked at by a person, not committed).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from proctorbot.app import Areas
from tests.browser_helpers import launch_chromium, open_call, serve_app, signaling_client

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

SCREENS = Path(__file__).resolve().parents[2] / "var" / "screens-ui"
# A key or code on screen: `extra_person`, `auto.low_fps`, `width: 640`, `{fps}`.
RAW = [
    re.compile(r"\b[a-z]+_[a-z_]+\b"),
    re.compile(
        r"\b(auto|flag|flag_detail|status|outcome|step|panel|page|detail|role|mode|time|source)"
        r"\.[a-z]"
    ),
    re.compile(r"\b(width|height|fps|coverage|max_faces|audio_dbfs|read_name):"),
    re.compile(r"\{\w+\}"),
    re.compile(r"\b(undefined|NaN|null)\b"),
    re.compile("⧉"),
]


def assert_no_raw_codes(text: str, where: str) -> None:
    for pattern in RAW:
        found = pattern.search(text)
        assert found is None, f"{where}: {found.group(0)!r} on screen:\n{text}"


def step(kind: str, status: str, auto: dict[str, Any] | None = None, **extra: Any) -> dict:
    return {
        "kind": kind,
        "status": status,
        "attempts": 1,
        "auto": auto,
        "evidence": [],
        "decided_by": None,
        "reason": "",
        "failure": "",
        **extra,
    }


def examiner_state(revision: int, *, outcome: str, present: bool, steps: list, **extra) -> dict:
    current = next((s["kind"] for s in steps if s["status"] not in ("passed", "overridden")), None)
    return {
        "session_id": "s",
        "revision": revision,
        "student_name": "Анна Смирнова",
        "mode": "proctored",
        "outcome": outcome,
        "current": current if outcome == "in_progress" else None,
        "student_present": present,
        "evidence_url": "/checklist/evidence/s/",
        "steps": steps,
        "flags": [],
        "transitions": [],
        **extra,
    }


NEEDS = {
    "min_width": 640,
    "min_height": 480,
    "min_fps": 15.0,
    "silence_dbfs": -50.0,
    "room_coverage": 0.8,
    "face_similarity": 0.5,
}


def the_exam_state(started_at: float) -> dict:
    """Admitted after an equipment override, a short room scan, a name read wrong."""
    equipment = {
        "available": True,
        "passed": False,
        "summary": "low_fps",
        "evidence": [],
        "details": {
            "frames": 30,
            "width": 640,
            "height": 480,
            "fps": 10.0,
            "audio_seconds": 3.0,
            "audio_dbfs": -19.5,
            "recording": {"camera": True, "microphone": True},
            "network": {
                "packets_received": 900,
                "packets_lost": 9,
                "loss_ratio": 0.01,
                "jitter_ms": 12.3,
            },
            "problems": ["low_fps"],
        },
    }
    room = {
        "available": True,
        "passed": False,
        "summary": "room_not_covered",
        "evidence": [],
        "details": {"frames": 80, "coverage": 0.517, "max_faces": 1, "covered_deg": 186.1},
    }
    card = {
        "available": True,
        "passed": False,
        "summary": "name_mismatch",
        "evidence": [],
        "details": {
            "read_name": "СМИРНОВА Алла",
            "roster_name": "Анна Смирнова",
            "confidence": 0.8,
            "face_similarity": 0.72,
        },
    }
    voice = {
        "available": True,
        "passed": True,
        "summary": "name_ok",
        "evidence": [],
        "details": {"transcript": "Меня зовут Анна Смирнова", "audio_dbfs": -21.0},
    }
    steps = [
        step("consent", "passed"),
        step("equipment", "overridden", equipment, reason="камера старая, видно хорошо"),
        step("room_scan", "overridden", room),
        step(
            "desk",
            "passed",
            {
                "available": False,
                "passed": None,
                "summary": "unavailable",
                "details": {},
                "evidence": [],
            },
        ),
        step("id_document", "overridden", card),
        step("name_aloud", "passed", voice),
        step("instruction", "passed"),
    ]
    flags = [
        {
            "kind": "extra_person",
            "role": "student",
            "open": False,
            "start": 633.0,
            "end": 644.2,
            "score": 1.0,
            "track": "student-1",
            "evidence": ["evidence/extra_person-633.jpg"],
        },
        {
            "kind": "third_party_voice",
            "role": "student",
            "open": True,
            "start": 700.0,
            "end": 703.0,
            "score": 0.9,
            "track": "student-1",
            "evidence": ["evidence/voice-700.wav"],
        },
        {
            "kind": "participant_left",
            "role": "examiner",
            "open": False,
            "start": 650.0,
            "end": 659.0,
            "score": 1.0,
            "track": "examiner-2",
            "evidence": [],
        },
    ]
    return examiner_state(
        5,
        outcome="admitted",
        present=True,
        steps=steps,
        flags=flags,
        needs=NEEDS,
        recording_started_at=started_at,
    )


def student_state(revision: int, outcome: str, statuses: dict[str, str]) -> dict:
    return {
        "session_id": "s",
        "revision": revision,
        "outcome": outcome,
        "mode": "proctored",
        "current": None if outcome != "in_progress" else "equipment",
        "status": "running",
        "attempt": 1,
        "time_limit_s": 60,
        "started_at": None,
        "failure": "",
        "buttons": None,
        "steps": [{"kind": k, "status": s} for k, s in statuses.items()],
    }


async def drain(bot) -> None:
    while not bot.ws.closed:
        await bot.ws.receive()


async def peer_id(page) -> str:
    return await page.evaluate("window.proctorbot.peerId")


async def panel(bot, to: str | None, area: str, action: str, data: dict) -> None:
    await bot.send({"type": "panel", "to": to, "area": area, "action": action, "data": data})


async def text_of(page, selector: str = "body") -> str:
    return await page.inner_text(selector)


async def wait_text(page, needle: str, selector: str = "body", timeout: float = 10.0) -> str:
    async with asyncio.timeout(timeout):
        while True:
            text = await text_of(page, selector)
            if needle in text:
                return text
            await asyncio.sleep(0.1)


async def local_tracks(page) -> list[dict]:
    return await page.evaluate("window.proctorbot.localTracks()")


async def screenshot(page, name: str) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENS / f"test-{name}.png"), full_page=True)


async def test_call_pages_show_words_the_student_large_and_the_end(
    app_context, playwright_async, fake_media
) -> None:
    async with serve_app(app_context, areas=Areas(checklist=True)) as server:
        async with signaling_client(server, "bot") as bot:
            # Keep reading the bot's socket: aiohttp answers the server's pings only then.
            reader = asyncio.create_task(drain(bot))
            browser = await launch_chromium(playwright_async, fake_media)
            try:
                examiner = await open_call(browser, server.link("examiner"))
                organizer = await open_call(browser, server.link("organizer"))
                ex_id, org_id = await peer_id(examiner), await peer_id(organizer)

                # Before the student is here: nothing to confirm or override.
                before = examiner_state(
                    1,
                    outcome="in_progress",
                    present=False,
                    steps=[step("consent", "passed"), step("equipment", "pending")],
                    needs=NEEDS,
                )
                await panel(bot, ex_id, "checklist", "state", before)
                item = examiner.locator('#checklist li.step[data-step="equipment"]')
                await item.locator('[data-action="reject"]').wait_for()
                for action in ("confirm", "override", "retry"):
                    assert await item.locator(f'[data-action="{action}"]').count() == 0, action
                assert "не подключён" in await examiner.inner_text("#checklist")
                # The reason box shows its whole hint (no cut-off placeholder).
                fits = await item.locator('[data-field="reason"]').evaluate(
                    "e => e.scrollWidth <= e.clientWidth + 1 && e.scrollHeight <= e.clientHeight + 1"
                )
                assert fits
                await screenshot(examiner, "examiner-before-student")

                # The student joins: large on the examiner's page, the others small.
                student = await open_call(browser, server.link("student"))
                st_id = await peer_id(student)
                await examiner.wait_for_selector('.tile.remote.main[data-role="student"]')
                main = await examiner.locator('.tile.main[data-role="student"]').bounding_box()
                self_tile = await examiner.locator("#self-tile").bounding_box()
                assert main["width"] > 2.5 * self_tile["width"], (main, self_tile)
                assert main["height"] > 2.5 * self_tile["height"], (main, self_tile)
                assert await student.locator(".tile.main").count() == 0  # the student: as before

                # A student who leaves before anything began is told they left the call.
                await student.click("#leave")
                status = await wait_text(student, "Вы вышли из звонка", "#status")
                assert "завершён" not in status
                assert await student.is_visible("#join")
                await screenshot(student, "student-left-before-start")
                assert await local_tracks(student) == []
                await student.click("#join")
                await student.wait_for_function("window.proctorbot.peerId !== null")
                async with asyncio.timeout(10):
                    while len(await local_tracks(student)) < 2:
                        await asyncio.sleep(0.1)
                st_id = await peer_id(student)
                while st_id is None or st_id == "":
                    st_id = await peer_id(student)

                # The exam is on: results and flags in words, the clock beside the times.
                started_at = time.time() - 720
                exam = the_exam_state(started_at)
                await panel(bot, ex_id, "checklist", "state", exam)
                await panel(bot, org_id, "checklist", "state", exam)
                statuses = {k: "passed" for k in ("consent", "equipment", "room_scan", "desk")}
                await panel(
                    bot, st_id, "checklist", "state", student_state(5, "admitted", statuses)
                )
                await bot.send(
                    {
                        "type": "prompt",
                        "to": st_id,
                        "key": "checklist.admitted",
                        "text": "Проверка завершена. Экзамен начинается.",
                        "level": "info",
                        "t": 95.4,
                    }
                )
                text = await wait_text(examiner, "Отметки во время экзамена", "#checklist")
                for words in (
                    "камера даёт 10 кадров/с, нужно 15",
                    "микрофон: уровень −19,5 дБ",
                    "запись: камера — пишется, микрофон — пишется",
                    "осмотрено 52 % круга, нужно 80 %",
                    "лиц в кадре: 1",
                    "прочитано имя: СМИРНОВА Алла",
                    "ФИО не совпадает со списком",
                    "сходство лица с фото: 72 %, нужно 50 %",
                    "услышано: «Меня зовут Анна Смирнова»",
                    "посторонний в кадре, 11\u00a0с",
                    "посторонний голос, продолжается",
                    "экзаменатор: вышел(а) или потерял(а) связь",
                    "от начала записи",
                ):
                    assert words in text, words
                moscow = ZoneInfo("Europe/Moscow")
                wall = dt.datetime.fromtimestamp(started_at + 633.0, moscow).strftime("%H:%M:%S")
                line = await examiner.locator(
                    '#checklist .flags li[data-kind="extra_person"]'
                ).inner_text()
                assert line.startswith("10:33") and wall in line, line
                link = examiner.locator('#checklist .flags li[data-kind="extra_person"] a.evidence')
                assert (await link.inner_text()).strip() == "снимок"
                for page, who in ((examiner, "examiner"), (organizer, "organizer")):
                    assert_no_raw_codes(await text_of(page), who)
                org_text = await wait_text(organizer, "допущен: экзамен идёт", "#checklist")
                assert "не началась" not in org_text
                prompt = await wait_text(student, "Экзамен начинается", "#prompts")
                assert re.search(r"01:35\s+\d\d:\d\d:\d\d", prompt), prompt
                assert_no_raw_codes(await text_of(student), "student")
                await screenshot(examiner, "examiner-exam")
                await screenshot(organizer, "organizer-exam")
                await screenshot(student, "student-exam")

                # The same in English.
                await examiner.click('[data-lang="en"]')
                en = await wait_text(examiner, "Flags during the exam", "#checklist")
                for words in (
                    "the camera gives 10 frames/s, 15 needed",
                    "52 % of the circle shown, 80 % needed",
                    "faces in the frame: 1",
                    "name read: СМИРНОВА Алла",
                    "another person in the frame, 11\u00a0s",
                    "examiner: left or lost the connection",
                    "from the start of the recording",
                ):
                    assert words in en, words
                assert_no_raw_codes(await text_of(examiner), "examiner (en)")
                await screenshot(examiner, "examiner-exam-en")

                # The student leaves during the exam: over for them, devices released.
                await student.click("#leave")
                await wait_text(student, "экзамен для вас завершён", "#status")
                assert await local_tracks(student) == []
                assert await student.locator("#self-tile.cam-off").count() == 1
                assert not await student.is_visible("#checklist")
                banner = await text_of(student, "#latest-prompt")
                assert "Экзамен начинается" not in banner
                await screenshot(student, "student-left-during-exam")

                # Back, then the bot ends the session: the page says so, devices off.
                await student.click("#join")
                await student.wait_for_function("window.proctorbot.peerId !== null")
                async with asyncio.timeout(10):
                    while len(await local_tracks(student)) < 2:
                        await asyncio.sleep(0.1)
                await panel(bot, None, "session", "ended", {})
                await wait_text(
                    student, "Экзамен завершён. Можно закрыть страницу.", "#latest-prompt"
                )
                assert await local_tracks(student) == []
                assert not await student.is_visible("#join")
                assert "экзамен идёт" not in await text_of(student)
                assert_no_raw_codes(await text_of(student), "student (ended)")
                await wait_text(examiner, "The exam is over", "#latest-prompt")
                await screenshot(student, "student-session-ended")
            finally:
                reader.cancel()
                await browser.close()
