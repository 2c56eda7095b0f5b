"""End to end: the student's real call page leaves the screen, the bot records it, the
rules count it and the report says it [001 §4]. A profile that requires full screen
(dpo-attestation): the page shows the box with its button, the student goes full screen;
then a second tab is brought to the front (the exam tab really hidden) and full screen
is left. Both reach events.jsonl with their durations and the report as findings."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from proctorbot.bot.manager import BotManager
from proctorbot.bot.page_focus import PageFocusPlugin
from proctorbot.report.service import report_for_folder

from proctorbot.app import Areas
from tests.browser_helpers import launch_chromium, open_call, serve_app

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(120)]

SCREENS = Path(__file__).resolve().parents[2] / "var" / "screens"
AWAY_S = 3.0
# What a browser does when its tab goes to the background or comes back.
SET_VISIBILITY = """(state) => {
    Object.defineProperty(document, "visibilityState", {value: state, configurable: true});
    Object.defineProperty(document, "hidden", {value: state === "hidden", configurable: true});
    document.dispatchEvent(new Event("visibilitychange"));
}"""


async def wait_for(page, expression: str, timeout_s: float = 15.0) -> None:
    await page.wait_for_function(expression, timeout=timeout_s * 1000)


def read_events(folder: Path) -> list[dict]:
    path = folder / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def test_page_focus_hidden_tab_and_full_screen_left_become_findings(
    app_context, fake_media, playwright_async
) -> None:
    started = time.monotonic()
    app_context.settings.default_profile = "dpo-attestation"  # require_fullscreen = true
    # the checklist's pages only (its texts for the panel; no checklist runs in this bot)
    async with serve_app(app_context, areas=Areas(checklist=True)) as server:
        manager = BotManager(server.ctx, base_url=server.url, end_by_itself=False)
        manager.add_session_plugin(PageFocusPlugin(server.ctx))
        bot = await manager.join(server.session_id)
        await asyncio.wait_for(bot.joined.wait(), 10)
        browser = await launch_chromium(playwright_async, fake_media)
        try:
            page = await open_call(browser, server.link("student"))
            # the bot tells the page to watch; the page asks for full screen with a button
            await wait_for(page, "window.proctorbot.focusState().watching")
            await page.wait_for_selector("#focus-ask:not([hidden]) #focus-fullscreen")
            assert await page.text_content("#focus-fullscreen") == "Развернуть на весь экран"
            SCREENS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SCREENS / "focus-fullscreen-ask-ru.png"))
            await page.click("[data-lang='en']")
            await page.screenshot(path=str(SCREENS / "focus-fullscreen-ask-en.png"))
            await page.click("#focus-fullscreen")  # a real click: full screen needs a gesture
            await wait_for(page, "document.fullscreenElement !== null")
            await wait_for(page, "document.getElementById('focus-ask').hidden")

            # 1. another tab in front: the window's blur and focus are the browser's own
            # (Playwright's focus emulation off); headless Chromium keeps every tab
            # 'visible' (measured: bring_to_front, a CDP tab in the same window, a
            # minimised window), so the tab's visibility is set as a browser sets it.
            cdp = await page.context.new_cdp_session(page)
            await cdp.send("Emulation.setFocusEmulationEnabled", {"enabled": False})
            other = await page.context.new_page()
            await other.goto(server.url + "/static/call.css")
            await other.bring_to_front()
            await page.evaluate(SET_VISIBILITY, "hidden")
            await wait_for(page, "!document.hasFocus()")
            await asyncio.sleep(AWAY_S)
            await page.evaluate(SET_VISIBILITY, "visible")
            await page.bring_to_front()
            await wait_for(page, "document.hasFocus()")
            await other.close()
            await wait_for(page, "window.proctorbot.focusState().open.length === 0")

            # 2. out of full screen for AWAY_S seconds, then back by the button
            if not await page.evaluate("document.fullscreenElement !== null"):
                await page.click("#focus-fullscreen")  # the tab switch left it: back first
                await wait_for(page, "document.fullscreenElement !== null")
                await asyncio.sleep(0.5)
            await page.evaluate("document.exitFullscreen()")
            await page.wait_for_selector("#focus-ask:not([hidden])")
            assert "left full screen" in (await page.text_content("#focus-ask-text") or "")
            await asyncio.sleep(AWAY_S)
            await page.click("#focus-fullscreen")
            await wait_for(page, "document.fullscreenElement !== null")
            await wait_for(page, "window.proctorbot.focusState().open.length === 0")
            await asyncio.sleep(0.5)  # the last report reaches the bot

            # 3. a reload (the student reconnecting): the tab hides and the window blurs
            # as the page unloads; that is not looking away and is not reported
            await page.evaluate(
                "window.addEventListener('pagehide', () => {"
                " Object.defineProperty(document, 'hidden', {value: true, configurable: true});"
                " document.dispatchEvent(new Event('visibilitychange'));"
                " window.dispatchEvent(new Event('blur')); })"
            )
            await page.reload()
            await page.wait_for_selector("body[data-ready='1']")
            await asyncio.sleep(1.0)
        finally:
            await browser.close()
        await manager.leave(server.session_id)
        folder = bot.session_dir
        profile = server.ctx.settings.default_profile

    events = read_events(folder)
    closed = {
        kind: [e for e in events if e["kind"] == kind and not e["details"].get("open")]
        for kind in ("page_hidden", "window_blur", "fullscreen_left")
    }
    for kind, found in closed.items():
        assert found, f"no closed {kind} event in {events}"
        assert any(e["end"] - e["start"] >= AWAY_S - 0.5 for e in found), (kind, found)
        assert all(e["track"].startswith("student-") for e in found)
    hidden = max(closed["page_hidden"], key=lambda e: e["end"] - e["start"])
    assert abs(hidden["details"]["page_duration"] - (hidden["end"] - hidden["start"])) < 1.0
    opened = [e for e in events if e["kind"] == "page_hidden" and e["details"].get("open")]
    assert opened and opened[0]["start"] == hidden["start"], "written at once, same start"
    unload = [e for e in events if e["kind"] in ("page_hidden", "window_blur")]
    assert len({e["start"] for e in unload if e["kind"] == "page_hidden"}) == 1, (
        f"the reload was reported as looking away: {unload}"
    )

    written = report_for_folder(folder, profile)
    data = json.loads(written.data.read_text())
    focus = [f for f in data["findings"] if f["rule"] == "page_focus"]
    counted = [f for f in focus if f["severity"] != "note"]
    assert len(counted) >= 2, focus
    assert any({"page_hidden", "window_blur"} <= set(f["event_kinds"]) for f in counted)
    assert any(f["event_kinds"] == ["fullscreen_left"] for f in counted)
    html = written.html.read_text()
    assert "Уход со страницы экзамена" in html
    assert "вкладка экзамена была скрыта" in html
    assert "вне полноэкранного режима" in html
    print(f"page_focus browser test: {time.monotonic() - started:.1f} s")
