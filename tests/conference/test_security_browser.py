"""The pages still work under the strict Content-Security-Policy (issue 14, item 3), in
headless Chromium: the call page (with the checklist's panel script), the dashboard's
live day table and the report page served by the dashboard. A blocked script or an
inline one would be a `securitypolicyviolation` event; none may happen.
"""

from __future__ import annotations

import asyncio

import pytest
from proctorbot.report.passwords import hash_password
from proctorbot.report.service import rebuild_report
from proctorbot.storage.models import Person
from sqlalchemy import select

from proctorbot.app import Areas
from tests.browser_helpers import launch_chromium, serve_app
from tests.report.fixture_session import make_session

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

AREAS = Areas(checklist=True, dashboard=True)
PASSWORD = "organizer password"
# Installed before any page script runs (by the browser, so the page's CSP does not apply).
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""


async def violations(page) -> list[str]:
    return await page.evaluate("window.__cspViolations")


async def until(page, expression: str, timeout_s: float = 20.0) -> None:
    """Poll ``expression`` from here: Playwright's wait_for_function evaluates it with
    eval() inside the page, which this CSP forbids."""
    async with asyncio.timeout(timeout_s):
        while not await page.evaluate(expression):
            await asyncio.sleep(0.1)


async def test_security_pages_work_under_the_csp_in_chromium(app_context, playwright_async) -> None:
    async with serve_app(app_context, areas=AREAS) as server:
        with app_context.db() as db:
            organizer = db.scalar(select(Person).where(Person.role == "organizer"))
            organizer.email, organizer.password_hash = "org@example.org", hash_password(PASSWORD)
            db.commit()
        make_session(app_context.settings.recordings_dir, server.session_id, media=False)
        await asyncio.to_thread(rebuild_report, app_context, server.session_id)

        browser = await launch_chromium(playwright_async)
        try:
            context = await browser.new_context()
            await context.add_init_script(RECORD_VIOLATIONS)

            # The call page: its own script, the checklist panel, the signaling socket.
            call = await context.new_page()
            response = await call.goto(server.link("examiner"))
            assert "script-src 'self'" in response.headers["content-security-policy"]
            await call.wait_for_selector("body[data-ready='1']")
            await call.click("#join")
            await until(call, "window.proctorbot.peerId !== null")
            await call.wait_for_selector("#panel *")  # the checklist's script ran
            assert await violations(call) == []

            # The dashboard: sign in through the form, the day's table polls its status.
            page = await context.new_page()
            await page.goto(f"{server.url}/dashboard/login")
            await page.fill("input[name=email]", "org@example.org")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url("**/dashboard/days")
            await page.click("a[href^='/dashboard/days/']")
            async with page.expect_response("**/dashboard/api/days/*/sessions", timeout=15000):
                pass  # day.js asks for the live status (every 5 s)
            assert await violations(page) == []

            # The session's review page (its findings, snapshots and clips, report/static).
            await page.goto(f"{server.url}/dashboard/sessions/{server.session_id}")
            await page.wait_for_load_state("networkidle")
            assert await violations(page) == []

            # The report page, served from the session folder: its script is report.js.
            await page.goto(
                f"{server.url}/dashboard/sessions/{server.session_id}/files/report/report.html"
            )
            assert await page.evaluate("typeof window.proctorReport.seek") == "function"
            assert await violations(page) == []
        finally:
            await browser.close()
