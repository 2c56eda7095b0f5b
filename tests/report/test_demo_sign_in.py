"""`proctorbot serve --demo` prints a working organizer sign-in: the dashboard's address,
a one-time link for the demo organizer (stored hashed, works once) and the demo
organization's exact name for `proctorbot organizer add`."""

from __future__ import annotations

import re

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from proctorbot.report.dashboard import setup
from proctorbot.report.dashboard_sign_in import COOKIE, CSRF_FIELD
from proctorbot.report.demo_sign_in import demo_sign_in_lines
from proctorbot.report.tables import SignInLink
from proctorbot.storage.demo import DEMO_ORGANIZATION, seed_demo
from sqlalchemy import select


async def test_the_printed_link_signs_the_demo_organizer_in_once(app_context) -> None:
    app_context.settings.server.public_url = "http://127.0.0.1:8080"
    day = seed_demo(app_context.db, profile="university-admission")
    lines = demo_sign_in_lines(app_context, day.organization_id)
    output = "\n".join(lines)
    assert "http://127.0.0.1:8080/dashboard\n" in output + "\n"
    assert f'Demo organization: "{DEMO_ORGANIZATION}"' in output
    assert f'proctorbot organizer add --organization "{DEMO_ORGANIZATION}"' in output
    link = re.search(r"http://127\.0\.0\.1:8080(/dashboard/login/link/\S+)", output).group(1)
    secret = link.rsplit("/", 1)[1]
    with app_context.db() as db:  # only a hash of the secret is kept
        stored = db.scalars(select(SignInLink.token_hash)).all()
    assert stored and secret not in stored

    app = web.Application()
    await setup(app, app_context)
    async with TestClient(TestServer(app)) as client:
        page = await client.get(link)  # a preview spends nothing: a button to press
        html = await page.text()
        assert page.status == 200 and 'method="post"' in html
        token = html.split(f'name="{CSRF_FIELD}" value="')[1].split('"')[0]
        signed_in = await client.post(link, data={CSRF_FIELD: token}, allow_redirects=False)
        assert signed_in.status == 302 and COOKIE in signed_in.cookies
        days = await client.get("/dashboard/days", allow_redirects=False)
        assert days.status == 200 and "Демо-экзамен" in await days.text()
        client.session.cookie_jar.clear()
        page = await client.get(link)
        assert page.status in (403, 410)  # once only
        again = await client.post(link, data={CSRF_FIELD: token}, allow_redirects=False)
        assert again.status in (403, 410) and COOKIE not in again.cookies

    # Every start prints a fresh link.
    second = "\n".join(demo_sign_in_lines(app_context, day.organization_id))
    assert re.search(r"/dashboard/login/link/(\S+)", second).group(1) != secret
