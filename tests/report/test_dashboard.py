"""The organizers' dashboard and signed download links: who may see what, and the audit."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from proctorbot.report.dashboard import setup
from proctorbot.report.dashboard_sign_in import COOKIE, CSRF_FIELD
from proctorbot.report.links import download_link, download_token
from proctorbot.report.passwords import hash_password, verify_password
from proctorbot.report.retention import active_hold
from proctorbot.report.service import rebuild_report
from proctorbot.report.tables import AuditEntry, FindingDecision
from proctorbot.storage.models import ExamDay, ExamSession, Organization, Person, SessionMember
from sqlalchemy import select

from tests.report.fixture_session import make_session

PASSWORD = "correct horse"


@dataclass
class World:
    org: str
    other_org: str
    organizer: str
    day: str
    session: str
    other_session: str


@pytest.fixture
def world(app_context) -> World:
    start = dt.datetime(2026, 7, 1, 9, 0, tzinfo=dt.UTC)
    with app_context.db() as db:
        org, other = Organization(name="КубГАУ"), Organization(name="Другой вуз")
        db.add_all([org, other])
        db.flush()
        organizer = Person(
            organization_id=org.id,
            role="organizer",
            full_name="Организатор Ольга",
            email="olga@example.org",
            password_hash=hash_password(PASSWORD),
            language="ru",
        )
        other_organizer = Person(
            organization_id=other.id,
            role="organizer",
            full_name="Чужой",
            email="eve@example.org",
            password_hash=hash_password(PASSWORD),
        )
        student = Person(organization_id=org.id, role="student", full_name="Иванова Анна Сергеевна")
        db.add_all([organizer, other_organizer, student])
        day = ExamDay(
            organization_id=org.id,
            title="Математика",
            date=start.date(),
            profile="university-admission",
        )
        db.add(day)
        db.flush()
        session = ExamSession(
            organization_id=org.id,
            exam_day_id=day.id,
            title="Математика, устно",
            profile="university-admission",
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=30),
            status="live",
        )
        other_session = ExamSession(
            organization_id=other.id,
            title="Чужой экзамен",
            profile="examus-like",
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=30),
        )
        db.add_all([session, other_session])
        db.flush()
        db.add(SessionMember(session_id=session.id, person_id=student.id, role="student"))
        db.commit()
        ids = World(org.id, other.id, organizer.id, day.id, session.id, other_session.id)
    recordings = app_context.settings.recordings_dir
    make_session(recordings, ids.session, media=False)
    make_session(recordings, ids.other_session, media=False)
    rebuild_report(app_context, ids.session)
    rebuild_report(app_context, ids.other_session)
    return ids


@pytest.fixture
async def client(app_context, world):
    app = web.Application()
    await setup(app, app_context)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def sign_in(client: TestClient, email: str = "olga@example.org", password: str = PASSWORD):
    """As a browser: the sign-in page first (its form token and login cookie), then the post."""
    token = form_token(await (await client.get("/dashboard/login")).text())
    return await client.post(
        "/dashboard/login",
        data={"email": email, "password": password, CSRF_FIELD: token},
        allow_redirects=False,
    )


def form_token(page: str) -> str:
    """The CSRF token as a browser sends it: the hidden field of the page's forms."""
    return page.split(f'name="{CSRF_FIELD}" value="')[1].split('"')[0]


async def token_from(client: TestClient, path: str = "/dashboard/days") -> str:
    return form_token(await (await client.get(path)).text())


def audit_lines(app_context, **where) -> list[AuditEntry]:
    with app_context.db() as db:
        query = select(AuditEntry).order_by(AuditEntry.id)
        for key, value in where.items():
            query = query.where(getattr(AuditEntry, key) == value)
        return list(db.scalars(query))


def test_password_hashes() -> None:
    stored = hash_password("long enough")
    assert stored.startswith("scrypt$") and "long enough" not in stored
    assert verify_password("long enough", stored)
    assert not verify_password("long enougH", stored)
    assert not verify_password("x", None) and not verify_password("x", "garbage")


async def test_everything_needs_sign_in(client: TestClient, world: World) -> None:
    for path in (
        "/dashboard/days",
        f"/dashboard/days/{world.day}",
        f"/dashboard/sessions/{world.session}",
        f"/dashboard/sessions/{world.session}/files/report/report.html",
        f"/dashboard/days/{world.day}/results.csv",
    ):
        response = await client.get(path, allow_redirects=False)
        assert response.status == 302, path
        assert response.headers["Location"].startswith("/dashboard/login")
    response = await client.get(f"/dashboard/api/days/{world.day}/sessions")
    assert response.status == 401
    response = await client.post(
        f"/dashboard/sessions/{world.session}/findings/x",
        data={"decision": "accepted"},
        allow_redirects=False,
    )
    assert response.status == 302


async def test_sign_in_days_sessions_csv(client: TestClient, world: World, app_context) -> None:
    bad = await sign_in(client, password="wrong password")
    assert bad.status == 401 and "Неверная почта или пароль" in await bad.text()
    assert audit_lines(app_context, action="sign_in", outcome="refused")

    good = await sign_in(client)
    assert good.status == 302 and COOKIE in good.cookies
    days = await client.get("/dashboard/days")
    assert "Математика" in await days.text()
    day = await client.get(f"/dashboard/days/{world.day}")
    text = await day.text()
    assert "Иванова Анна Сергеевна" in text and "live" in text
    live = await client.get(f"/dashboard/api/days/{world.day}/sessions")
    [row] = (await live.json())["sessions"]
    assert row["status"] == "live" and row["score"] == 76 and row["has_report"]

    csv_response = await client.get(f"/dashboard/days/{world.day}/results.csv")
    assert csv_response.status == 200
    csv_text = (await csv_response.read()).decode("utf-8-sig")
    header, line = csv_text.strip().splitlines()
    assert header.startswith("session_id,title,student")
    assert world.session in line and "Иванова Анна Сергеевна" in line and ",76," in line

    report = await client.get(f"/dashboard/sessions/{world.session}/files/report/report.html")
    assert report.status == 200 and "Отчёт о сеансе" in await report.text()
    views = audit_lines(
        app_context, action="view_file", outcome="allowed", session_id=world.session
    )
    assert (
        views
        and views[-1].person_id == world.organizer
        and views[-1].target == "report/report.html"
    )


async def test_another_organizations_session_is_refused(
    client: TestClient, world: World, app_context
) -> None:
    await sign_in(client)
    for path in (
        f"/dashboard/sessions/{world.other_session}",
        f"/dashboard/sessions/{world.other_session}/files/report/report.html",
        f"/dashboard/sessions/{world.other_session}/files/manifest.json",
    ):
        response = await client.get(path)
        assert response.status == 403, path
        assert "Доступ запрещён" in await response.text()
    response = await client.post(
        f"/dashboard/sessions/{world.other_session}/link",
        data={CSRF_FIELD: await token_from(client)},
    )
    assert response.status == 403
    refused = audit_lines(app_context, outcome="refused", session_id=world.other_session)
    assert len(refused) == 4 and all(r.person_id == world.organizer for r in refused)
    assert refused[0].detail == "another organization's session"
    with app_context.db() as db:
        other_day = ExamDay(
            organization_id=world.other_org,
            title="Чужой день",
            date=dt.date(2026, 7, 2),
            profile="examus-like",
        )
        db.add(other_day)
        db.commit()
        other_day_id = other_day.id
    assert (await client.get(f"/dashboard/days/{other_day_id}")).status == 403
    assert (await client.get(f"/dashboard/days/{other_day_id}/results.csv")).status == 403


async def test_download_links(client: TestClient, world: World, app_context) -> None:
    signer = app_context.signer
    link = download_link(
        signer, "http://x", world.session, person_id=world.organizer, ttl_seconds=600
    )
    path = link.removeprefix("http://x")
    response = await client.get(path)  # no sign-in needed: the link is the key
    assert response.status == 200 and "Отчёт о сеансе" in await response.text()
    # The page's relative links work under the same token.
    token = path.split("/")[2]
    evidence = await client.get(f"/d/{token}/evidence/voice-4.ogg")
    assert evidence.status == 404  # the fixture folder here has no media: a clear 404
    manifest = await client.get(f"/d/{token}/manifest.json")
    assert manifest.status == 200

    expired = download_token(signer, world.session, ttl_seconds=60, now=time.time() - 3600)
    response = await client.get(f"/d/{expired}/report/report.html")
    assert response.status == 403 and "истёк" in await response.text()

    body, mac = token.split(".")
    tampered = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac
    assert (await client.get(f"/d/{tampered}/report/report.html")).status == 403

    # A link to another session's folder cannot be forged by editing the path.
    assert (await client.get(f"/d/{token}/../{world.other_session}/manifest.json")).status in (
        403,
        404,
    )
    # A single-file link opens that file only.
    single = download_token(signer, world.session, ttl_seconds=600, scope="report/report.json")
    assert (await client.get(f"/d/{single}/report/report.json")).status == 200
    assert (await client.get(f"/d/{single}/manifest.json")).status == 403
    # Another purpose's token (a call link) is no download link.
    call = signer.sign(
        purpose="call", session_id=world.session, role="student", person_id="p", ttl_seconds=600
    )
    assert (await client.get(f"/d/{call}/report/report.html")).status == 403

    lines = audit_lines(app_context, action="download")
    outcomes = [(line.outcome, line.detail) for line in lines]
    assert ("refused", "expired") in outcomes and ("refused", "forged") in outcomes
    assert ("refused", "wrong_scope") in outcomes and ("refused", "wrong_purpose") in outcomes
    allowed = [line for line in lines if line.outcome == "allowed"]
    assert allowed[0].organization_id == world.org and allowed[0].session_id == world.session


async def test_make_link_in_dashboard(client: TestClient, world: World, app_context) -> None:
    await sign_in(client)
    response = await client.post(
        f"/dashboard/sessions/{world.session}/link",
        data={CSRF_FIELD: await token_from(client, f"/dashboard/sessions/{world.session}")},
    )
    text = await response.text()
    assert response.status == 200 and "/d/" in text
    assert audit_lines(app_context, action="make_link", session_id=world.session)
    page = await (await client.get(f"/dashboard/sessions/{world.session}")).text()
    assert 'class="audit"' in page and "make_link" in page  # organizers see the access log


async def test_decisions_dismissal_needs_reason(
    client: TestClient, world: World, app_context
) -> None:
    await sign_in(client)
    page = await client.get(f"/dashboard/sessions/{world.session}")
    text = await page.text()
    finding_id = text.split('data-finding="')[1].split('"')[0]
    token = form_token(text)
    response = await client.post(
        f"/dashboard/sessions/{world.session}/findings/{finding_id}",
        data={"decision": "dismissed", "reason": "  ", CSRF_FIELD: token},
    )
    assert "Укажите причину" in await response.text()
    response = await client.post(
        f"/dashboard/sessions/{world.session}/findings/{finding_id}",
        data={"decision": "dismissed", "reason": "говорил экзаменатор", CSRF_FIELD: token},
    )
    assert response.status == 200
    with app_context.db() as db:
        [row] = db.scalars(select(FindingDecision)).all()
        assert row.decision == "dismissed" and row.reason == "говорил экзаменатор"
        assert row.decided_by == world.organizer
    live = await client.get(f"/dashboard/api/days/{world.day}/sessions")
    assert (await live.json())["sessions"][0]["score"] == 88  # one violation no longer counts
    report = app_context.settings.recordings_dir / world.session / "report" / "report.html"
    assert "говорил экзаменатор" in report.read_text(encoding="utf-8")


async def test_logout(client: TestClient, world: World) -> None:
    await sign_in(client)
    assert (await client.get("/dashboard/days", allow_redirects=False)).status == 200
    response = await client.post(
        "/dashboard/logout", data={CSRF_FIELD: await token_from(client)}, allow_redirects=False
    )
    assert response.status == 302 and response.headers["Location"] == "/dashboard/login"
    client.session.cookie_jar.clear()
    assert (await client.get("/dashboard/days", allow_redirects=False)).status == 302


async def test_examiner_sees_only_own_sessions(
    client: TestClient, world: World, app_context
) -> None:
    with app_context.db() as db:
        examiner = Person(
            organization_id=world.org,
            role="examiner",
            full_name="Петров Пётр",
            email="petrov@example.org",
            password_hash=hash_password(PASSWORD),
        )
        db.add(examiner)
        second = ExamSession(
            organization_id=world.org,
            exam_day_id=world.day,
            title="Чужой слот",
            profile="university-admission",
            starts_at=dt.datetime(2026, 7, 1, 10, tzinfo=dt.UTC),
            ends_at=dt.datetime(2026, 7, 1, 11, tzinfo=dt.UTC),
        )
        db.add(second)
        db.flush()
        db.add(SessionMember(session_id=world.session, person_id=examiner.id, role="examiner"))
        db.commit()
        second_id = second.id
    assert (await sign_in(client, "petrov@example.org")).status == 302
    live = await client.get(f"/dashboard/api/days/{world.day}/sessions")
    assert [s["session_id"] for s in (await live.json())["sessions"]] == [world.session]
    assert (await client.get(f"/dashboard/sessions/{world.session}")).status == 200
    assert (await client.get(f"/dashboard/sessions/{second_id}")).status == 403


def test_cli_report_for_a_folder(tmp_path, monkeypatch) -> None:
    from click.testing import CliRunner

    from proctorbot.cli import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PROCTORBOT_CONFIG", raising=False)
    folder = make_session(tmp_path, "cli01", media=False)
    result = CliRunner().invoke(cli, ["report", str(folder), "--profile", "examus-like"])
    assert result.exit_code == 0, result.output
    assert (folder / "report" / "report.html").is_file()
    assert "act-termination.html" in result.output
    bad = CliRunner().invoke(cli, ["report", str(folder), "--profile", "no-such"])
    assert bad.exit_code != 0 and "no rule profile named 'no-such'" in bad.output


@pytest.mark.browser
@pytest.mark.timeout(120)
async def test_build_report_with_pdfs_from_the_dashboard(
    client: TestClient, world: World, app_context
) -> None:
    from proctorbot.report.pdf import chromium_path

    if chromium_path() is None:
        pytest.skip("chromium is needed")
    await sign_in(client)
    response = await client.post(
        f"/dashboard/sessions/{world.session}/build",
        data={CSRF_FIELD: await token_from(client, f"/dashboard/sessions/{world.session}")},
    )
    assert response.status == 200  # redirected back to the session page
    report_dir = app_context.settings.recordings_dir / world.session / "report"
    assert (report_dir / "report.pdf").stat().st_size > 1000
    assert (report_dir / "act-termination.pdf").is_file()
    pdf = await client.get(f"/dashboard/sessions/{world.session}/files/report/act-annulment.pdf")
    assert pdf.status == 200 and (await pdf.read()).startswith(b"%PDF")
    assert audit_lines(app_context, action="build_report", session_id=world.session)

    # A dismissal reprints the acts: the dismissed finding leaves the termination act.
    from pypdf import PdfReader

    def act_text() -> str:
        reader = PdfReader(report_dir / "act-termination.pdf")
        return "".join(page.extract_text() for page in reader.pages)

    assert "Посторонний голос" in act_text()
    page = await (await client.get(f"/dashboard/sessions/{world.session}")).text()
    voice_id = page.split('data-finding="third_party_voice')[1].split('"')[0]
    response = await client.post(
        f"/dashboard/sessions/{world.session}/findings/third_party_voice{voice_id}",
        data={
            "decision": "dismissed",
            "reason": "это был экзаменатор",
            CSRF_FIELD: form_token(page),
        },
    )
    assert response.status == 200
    assert "Посторонний голос" not in act_text() and "Посторонний в кадре" in act_text()


async def test_repeated_wrong_passwords_lock_the_sign_in(client: TestClient, world: World) -> None:
    for _ in range(5):
        assert (await sign_in(client, password="guess guess")).status == 401
    assert (await sign_in(client)).status == 429  # even the right password, for a while
    assert (await sign_in(client, "eve@example.org")).status == 302  # others are unaffected


async def test_posts_without_the_form_token_change_nothing(
    client: TestClient, world: World, app_context
) -> None:
    await sign_in(client)
    session_path = f"/dashboard/sessions/{world.session}"
    page = await (await client.get(session_path)).text()
    token = form_token(page)
    assert page.count(f'name="{CSRF_FIELD}" value="{token}"') >= 5  # every form carries it
    finding_id = page.split('data-finding="')[1].split('"')[0]
    wrong = ("1" if token.startswith("0") else "0") + token[1:]
    posts = [
        (f"{session_path}/build", {}),
        (f"{session_path}/link", {}),
        (f"{session_path}/hold", {"action": "place", "reason": "appeal"}),
        (f"{session_path}/findings/{finding_id}", {"decision": "accepted"}),
        ("/dashboard/logout", {}),
    ]
    for path, form in posts:
        for bad in ({}, {CSRF_FIELD: ""}, {CSRF_FIELD: wrong}):
            response = await client.post(path, data={**form, **bad}, allow_redirects=False)
            assert response.status == 403, (path, bad)
            assert "Форма не принята" in await response.text()
    refused = audit_lines(app_context, action="csrf", outcome="refused")
    assert len(refused) == 3 * len(posts)
    assert {r.target for r in refused} == {path for path, _ in posts}
    assert all(r.person_id == world.organizer for r in refused)
    assert {r.detail for r in refused} == {"no form token", "wrong form token"}
    with app_context.db() as db:
        assert db.scalars(select(FindingDecision)).all() == []
        assert active_hold(db, world.session) is None
    assert not audit_lines(app_context, action="make_link")
    assert not audit_lines(app_context, action="build_report")
    assert (await client.get("/dashboard/days", allow_redirects=False)).status == 200  # still in

    # The token of the page does the same thing, the way the browser sends it.
    response = await client.post(
        f"{session_path}/hold", data={"action": "place", "reason": "appeal", CSRF_FIELD: token}
    )
    assert response.status == 200
    with app_context.db() as db:
        assert active_hold(db, world.session) is not None

    # A token is that of one sign-in: after signing in again the old one no longer works.
    await sign_in(client)
    response = await client.post(
        f"{session_path}/findings/{finding_id}", data={"decision": "accepted", CSRF_FIELD: token}
    )
    assert response.status == 403
    with app_context.db() as db:
        assert db.scalars(select(FindingDecision)).all() == []


async def test_sign_in_from_another_site_is_refused(
    client: TestClient, world: World, app_context
) -> None:
    form = {"email": "olga@example.org", "password": PASSWORD}
    for header in ({"Origin": "https://evil.example"}, {"Referer": "https://evil.example/x"}):
        response = await client.post(
            "/dashboard/login", data=form, headers=header, allow_redirects=False
        )
        assert response.status == 403 and COOKIE not in response.cookies
        assert "Форма не принята" in await response.text()
    refused = audit_lines(app_context, action="csrf", outcome="refused")
    assert [r.detail for r in refused] == [
        "from https://evil.example",
        "from https://evil.example/x",
    ]
    assert not audit_lines(app_context, action="sign_in")  # and no count toward the lock-out
    ours = str(client.make_url("/")).rstrip("/")
    form[CSRF_FIELD] = form_token(await (await client.get("/dashboard/login")).text())
    for origin in (ours, "null"):  # "null": what a no-referrer page's own form sends
        response = await client.post(
            "/dashboard/login", data=form, headers={"Origin": origin}, allow_redirects=False
        )
        assert response.status == 302 and COOKIE in response.cookies
