"""Real headless Chromium: a student and an examiner see each other, an expert joins
silently, and a prompt from a WebSocket "bot" appears in the student's text panel."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from tests.browser_helpers import (
    PHONE_VIEWPORT,
    launch_chromium,
    make_fake_media,
    open_call,
    signaling_client,
    wait_remote_video,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


async def test_two_people_see_each_other_and_get_prompts(
    running_server, fake_media, playwright_async, tmp_path: Path
) -> None:
    examiner_media = make_fake_media(tmp_path / "examiner", text="Добрый день.", name="examiner")
    student_browser = await launch_chromium(playwright_async, fake_media)
    examiner_browser = await launch_chromium(playwright_async, examiner_media)
    try:
        student = await open_call(student_browser, running_server.link("student"))
        examiner = await open_call(examiner_browser, running_server.link("examiner"))

        # The examiner joined later, so it offered; each sees the other's video play.
        seen_by_student = await wait_remote_video(student, "examiner")
        seen_by_examiner = await wait_remote_video(examiner, "student")
        assert seen_by_student["width"] > 0 and seen_by_examiner["width"] == 320
        for page in (student, examiner):  # no false "click to hear" on a normal join
            assert await page.get_attribute("#status", "data-t") == "page.joined"

        # ... and hears the other: Opus arrives with energy (espeak speech, not silence).
        student_id = await student.evaluate("window.proctorbot.peerId")
        for _ in range(40):
            heard = await examiner.evaluate("(id) => window.proctorbot.stats(id)", student_id)
            if heard["audio"] and heard["audio"]["totalAudioEnergy"] > 0:
                break
            await asyncio.sleep(0.25)
        assert heard["audio"]["bytesReceived"] > 0 and heard["audio"]["totalAudioEnergy"] > 0
        assert heard["video"]["framesDecoded"] > 0

        # The expert joins with camera and microphone off, as the others see too.
        expert = await open_call(examiner_browser, running_server.link("expert"))
        assert await expert.evaluate("window.proctorbot.media()") == {"mic": False, "cam": False}
        assert await expert.get_attribute("#toggle-cam", "aria-pressed") == "false"
        await student.wait_for_function(
            """() => window.proctorbot.peers().some(
                   (p) => p.role === "expert" && !p.mic && !p.cam)"""
        )
        # Switching the camera on later needs no renegotiation: the student sees it.
        await expert.click("#toggle-cam")
        await student.wait_for_function(
            """() => window.proctorbot.peers().some((p) => p.role === "expert" && p.cam)"""
        )
        assert (await wait_remote_video(student, "expert"))["width"] > 0

        # A prompt from the bot lands in the student's text panel only.
        async with signaling_client(running_server, "bot") as bot:
            await bot.send(
                {
                    "type": "prompt",
                    "to": student_id,
                    "key": "show_id",
                    "text": "Поднесите паспорт к камере",
                    "level": "info",
                }
            )
            await student.wait_for_selector("#prompts li.prompt >> text=Поднесите паспорт к камере")
            banner = await student.text_content("#latest-prompt")
            assert banner == "Поднесите паспорт к камере"
            assert await examiner.locator("#prompts li").count() == 0
            await student.wait_for_selector("#recording:not([hidden])")

        # Language switch without reload; then the phone-width layout.
        await student.click("[data-lang=en]")
        assert await student.text_content("#toggle-mic") == "Microphone on"
        await student.set_viewport_size(PHONE_VIEWPORT)
        await asyncio.sleep(0.5)
        shots = Path(os.environ.get("PROCTORBOT_SCREENSHOTS", tmp_path))
        shots.mkdir(parents=True, exist_ok=True)
        await student.screenshot(path=str(shots / "call-student-phone.png"), full_page=True)
        await examiner.screenshot(path=str(shots / "call-examiner-desktop.png"))
        width = await student.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE_VIEWPORT["width"], "the page must not scroll sideways on a phone"

        # Leaving: the examiner's tile disappears from the student's page.
        await examiner.click("#leave")
        await student.wait_for_function(
            """() => !document.querySelector('.tile.remote[data-role="examiner"]')"""
        )
    finally:
        await student_browser.close()
        await examiner_browser.close()


AREA_SCRIPT = """
proctorbot.on("panel", (m) => {
  const row = document.createElement("div");
  row.className = "area-test";
  row.textContent = `${m.area}/${m.action}:${JSON.stringify(m.data)}`;
  proctorbot.panel.append(row);
});
proctorbot.on("welcome", () => proctorbot.sendPanel("test", "hello", {role: proctorbot.role}));
"""


async def test_panel_scripts_use_the_page_api(running_server, playwright_async) -> None:
    from proctorbot.conference.keys import PANEL_SCRIPTS

    # A same-origin URL (the page's CSP runs scripts from this server only), answered by
    # the browser itself: the test needs no route on the running app.
    running_server.app[PANEL_SCRIPTS].append("/test-area.js")
    browser = await launch_chromium(playwright_async)
    try:
        async with signaling_client(running_server, "bot") as bot:
            context = await browser.new_context(bypass_csp=True)  # see open_call
            await context.route(
                "**/test-area.js",
                lambda route: route.fulfill(content_type="text/javascript", body=AREA_SCRIPT),
            )
            examiner = await context.new_page()
            await examiner.goto(running_server.link("examiner"))
            await examiner.wait_for_selector("body[data-ready='1']")
            await examiner.click("#join")
            await examiner.wait_for_function("window.proctorbot.peerId !== null")
            hello = await bot.receive("panel")
            while hello["area"] != "test":  # other areas' scripts (checklist) talk too
                hello = await bot.receive("panel")
            assert (hello["area"], hello["action"], hello["data"]) == (
                "test",
                "hello",
                {"role": "examiner"},
            )
            assert hello["from"] == await examiner.evaluate("window.proctorbot.peerId")
            await bot.send(
                {
                    "type": "panel",
                    "to": hello["from"],
                    "area": "test",
                    "action": "show",
                    "data": {"step": 1},
                }
            )
            row = await examiner.wait_for_selector("#panel .area-test")
            assert await row.text_content() == 'test/show:{"step":1}'
    finally:
        await browser.close()


async def test_a_dropped_connection_comes_back_by_itself(
    running_server, fake_media, playwright_async
) -> None:
    from proctorbot.conference.keys import ROOMS

    browser = await launch_chromium(playwright_async, fake_media)
    try:
        examiner = await open_call(browser, running_server.link("examiner"))
        student = await open_call(browser, running_server.link("student"))
        await wait_remote_video(examiner, "student")
        first_id = await student.evaluate("window.proctorbot.peerId")

        # The server loses the student's socket abnormally (as on a network drop).
        room = running_server.app[ROOMS].get(running_server.session_id)
        await room.peers[first_id].ws.close(code=1011, message=b"test drop")

        await student.wait_for_function(
            f"window.proctorbot.peerId && window.proctorbot.peerId !== {first_id!r}",
            timeout=15000,
        )
        await examiner.wait_for_function(
            f"""() => !window.proctorbot.peers().some((p) => p.peer_id === {first_id!r})"""
        )
        state = await wait_remote_video(examiner, "student")
        assert state["width"] > 0
        assert len(await examiner.query_selector_all(".tile.remote")) == 1
    finally:
        await browser.close()
