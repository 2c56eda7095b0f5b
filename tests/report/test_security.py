"""Security probes against the dashboard sign-in and the download links (issue 14, 2 and 4).

Each test is an attack that worked before the fix: 40 parallel guesses let the right
one through (the count was read before the password check and written after), one
address could try every account, a locked organizer had no way in, and a download link
kept opening a cancelled session's files for a person no longer in it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from dataclasses import dataclass

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from proctorbot.notifications.tables import OutboxMessage
from proctorbot.report.dashboard import setup
from proctorbot.report.dashboard_sign_in import COOKIE
from proctorbot.report.links import download_link
from proctorbot.report.passwords import hash_password
from proctorbot.storage.models import ExamSession, Organization, Person, SessionMember
from sqlalchemy import delete, select

PASSWORD = "correct horse battery"


@dataclass
class Org:
    id: str
    organizer: str
    examiner: str
    session: str


@pytest.fixture
def org(app_context) -> Org:
    start = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    with app_context.db() as db:
        organization = Organization(name="Security University")
        db.add(organization)
        db.flush()
        people = [
            Person(
                organization_id=organization.id,
                role=role,
                full_name=name,
                email=email,
                password_hash=hash_password(PASSWORD),
                language="en",
            )
            for role, name, email in (
                ("organizer", "Olga Organizer", "olga@example.org"),
                ("examiner", "Egor Examiner", "egor@example.org"),
            )
        ]
        db.add_all(people)
        session = ExamSession(
            organization_id=organization.id,
            title="Physics, oral",
            profile="university-admission",
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=30),
            status="finished",
        )
        db.add(session)
        db.flush()
        db.add(SessionMember(session_id=session.id, person_id=people[1].id, role="examiner"))
        db.commit()
        ids = Org(organization.id, people[0].id, people[1].id, session.id)
    folder = app_context.settings.recordings_dir / ids.session / "report"
    folder.mkdir(parents=True)
    (folder / "report.html").write_text("<p>the report</p>")
    return ids


@pytest.fixture
async def client(app_context, org):
    app = web.Application()
    await setup(app, app_context)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def form_token(client: TestClient, path: str = "/dashboard/login") -> str:
    """The sign-in forms' token, as a browser gets it with the page (and its cookie)."""
    page = await (await client.get(path)).text()
    return page.split('name="csrf" value="')[1].split('"')[0]


async def guess(client: TestClient, password: str, email: str = "olga@example.org") -> int:
    form = {"email": email, "password": password, "csrf": await form_token(client)}
    response = await client.post("/dashboard/login", data=form, allow_redirects=False)
    return response.status


# --- 2. sign-in ---------------------------------------------------------------------


async def test_security_forty_parallel_guesses_admit_nobody(client: TestClient) -> None:
    """39 wrong passwords and the right one, all at once: the right one must not get in,
    because the account allows 5 tries per window, counted as each try starts."""

    async def right_one_started_last() -> int:
        await asyncio.sleep(0)
        return await guess(client, PASSWORD)

    await form_token(client)  # the login cookie first, so the 40 share it
    wrong = [guess(client, f"wrong password {n}") for n in range(39)]
    statuses = await asyncio.gather(*wrong, right_one_started_last())
    assert 302 not in statuses, statuses
    assert statuses.count(401) <= 5, statuses
    assert set(statuses) <= {401, 429}, statuses
    assert await guess(client, PASSWORD) == 429  # still locked for the rest of the window


async def test_security_one_address_cannot_try_every_account(client: TestClient) -> None:
    """One wrong password for each of 30 accounts from one address: after the address's
    limit every further try is refused unchecked, also for a real account."""
    statuses = [await guess(client, "wrong password", f"user{n}@example.org") for n in range(30)]
    assert statuses[:20] == [401] * 20, statuses
    assert statuses[20:] == [429] * 10, statuses
    assert await guess(client, PASSWORD, "egor@example.org") == 429


def _sign_in_link(app_context, person_id: str) -> str:
    with app_context.db() as db:
        message = db.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.person_id == person_id)
            .order_by(OutboxMessage.id.desc())
        ).first()
    assert message is not None, "no sign-in link was queued"
    return re.search(r"https?://\S+", message.text).group(0)


async def test_security_sign_in_link_lets_the_organizer_in_while_locked(
    client: TestClient, app_context, org: Org
) -> None:
    for n in range(6):
        await guess(client, f"attacker guess {n}")
    assert await guess(client, PASSWORD) == 429  # locked, also for the right password

    page = await client.get("/dashboard/login")
    assert "/dashboard/login/link" in await page.text()  # the way in is offered
    token = await form_token(client)
    asked = await client.post(
        "/dashboard/login/link", data={"email": "olga@example.org", "csrf": token}
    )
    assert asked.status == 200
    unknown = await client.post(
        "/dashboard/login/link", data={"email": "nobody@example.org", "csrf": token}
    )
    assert (await unknown.text()) == (await asked.text())  # no hint who has an account

    link = _sign_in_link(app_context, org.organizer)
    path = link[link.index("/dashboard/") :]
    opened = await client.get(path)  # a link preview must not spend it: a button to press
    assert opened.status == 200 and 'method="post"' in await opened.text()
    token = await form_token(client, path)
    signed_in = await client.post(path, data={"csrf": token}, allow_redirects=False)
    assert signed_in.status == 302, await signed_in.text()
    assert COOKIE in signed_in.cookies
    assert (await client.get("/dashboard/days")).status == 200
    again = await client.post(path, data={"csrf": token}, allow_redirects=False)
    assert again.status == 410  # one time only
    assert COOKIE not in again.cookies


# --- 4. download links check the database on every use -----------------------------


async def test_security_download_link_refused_after_the_session_is_cancelled(
    client: TestClient, app_context, org: Org
) -> None:
    link = download_link(
        app_context.signer, "http://x", org.session, person_id=org.examiner, ttl_seconds=600
    )
    path = link.removeprefix("http://x")
    assert (await client.get(path)).status == 200
    with app_context.db() as db:
        db.get(ExamSession, org.session).status = "cancelled"
        db.commit()
    response = await client.get(path)
    assert response.status in (403, 410) and "the report" not in await response.text()


async def test_security_download_link_refused_once_its_person_left_the_session(
    client: TestClient, app_context, org: Org
) -> None:
    link = download_link(
        app_context.signer, "http://x", org.session, person_id=org.examiner, ttl_seconds=600
    )
    path = link.removeprefix("http://x")
    assert (await client.get(path)).status == 200
    with app_context.db() as db:
        db.execute(delete(SessionMember).where(SessionMember.person_id == org.examiner))
        db.commit()
    response = await client.get(path)
    assert response.status == 403 and "the report" not in await response.text()


@pytest.mark.parametrize(
    "tail",
    ["report/report%00.html", "report/%2e%2e/%2e%2e/x", "..%2f..%2fproctorbot.sqlite3", "nope"],
)
async def test_security_bad_download_paths_are_404(
    client: TestClient, app_context, org: Org, tail: str
) -> None:
    link = download_link(
        app_context.signer, "http://x", org.session, person_id=org.organizer, ttl_seconds=600
    )
    token = link.removeprefix("http://x/d/").split("/")[0]
    response = await client.get(f"/d/{token}/{tail}")
    assert response.status == 404, tail


async def test_security_sign_in_form_needs_its_own_token(client: TestClient) -> None:
    """Another site's form (no login cookie, no token) cannot sign a browser in."""
    form = {"email": "olga@example.org", "password": PASSWORD}
    response = await client.post("/dashboard/login", data=form, allow_redirects=False)
    assert response.status == 403 and COOKIE not in response.cookies
    form["csrf"] = "forged"
    await form_token(client)  # a login cookie of its own does not make a forged token good
    response = await client.post("/dashboard/login", data=form, allow_redirects=False)
    assert response.status == 403 and COOKIE not in response.cookies
