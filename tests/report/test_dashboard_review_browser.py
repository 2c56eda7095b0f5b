"""The dashboard's session page in headless Chromium: snapshots load inline, "play from
here" seeks the session's recording to the finding, no key or code on the page."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from tests.report.fixture_session import make_session
from tests.report.test_dashboard import PASSWORD, World, client, world  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

SCREENS = Path(__file__).resolve().parents[2] / "var" / "screens-ui"
RAW = re.compile(r"\b\w+_\w+\b|\b(live|planned|p-student|university-admission)\b|⧉")


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg makes the recording")
async def test_play_from_here_seeks_the_recording(
    client: TestClient,  # noqa: F811
    world: World,  # noqa: F811
    app_context,
    playwright_async,
) -> None:
    from tests.browser_helpers import launch_chromium

    make_session(app_context.settings.recordings_dir, world.session)  # with media this time
    base = str(client.make_url("/")).rstrip("/")
    browser = await launch_chromium(playwright_async)
    try:
        page = await (await browser.new_context(viewport={"width": 1200, "height": 900})).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"{base}/dashboard/sessions/{world.session}")  # → sign-in, then back
        await page.fill('input[name="email"]', "olga@example.org")
        await page.fill('input[name="password"]', PASSWORD)
        await page.click('button[type="submit"]')
        await page.wait_for_selector("#session-recording")

        video = page.locator("#session-recording")
        await video.evaluate(
            "v => new Promise(r => v.readyState >= 1 ? r() : v.addEventListener('loadedmetadata', r))"
        )
        assert await video.evaluate("v => v.currentTime") == 0
        # The other person in the frame at 00:09: its snapshot is inline and loads.
        item = page.locator("li.finding", has_text="00:09")
        loaded = await item.locator("img").evaluate_all(
            "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)"
        )
        assert loaded == [True], loaded
        await item.locator("button.play-from").click()
        await page.wait_for_function(
            "() => Math.abs(document.getElementById('session-recording').currentTime - 9) < 0.6"
        )
        assert await item.evaluate("li => li.classList.contains('playing')")
        # The other voice at 00:04: its clip is a player of its own.
        voice = page.locator("li.finding", has_text="00:04")
        assert await voice.locator("audio").count() == 1
        await voice.locator("button.play-from").click()
        await page.wait_for_function(
            "() => Math.abs(document.getElementById('session-recording').currentTime - 4) < 0.6"
        )
        text = await page.inner_text("main")
        found = RAW.search(text)
        assert found is None, f"{found.group(0)!r} on the page"
        assert "Смотреть с этого места" in text and "от начала записи" in text
        SCREENS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENS / "test-dashboard-session.png"), full_page=True)
        assert errors == []
    finally:
        await browser.close()
