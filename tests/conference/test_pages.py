"""The call page and the refusal pages over HTTP."""

from __future__ import annotations

import base64
import json

import aiohttp
import pytest
from proctorbot.storage.models import ExamSession
from sqlalchemy import update


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.text()


async def test_call_page_opens_with_config(running_server) -> None:
    status, html = await get(running_server.link("student"))
    assert status == 200
    config = json.loads(html.split('type="application/json">')[1].split("</script>")[0])
    assert config["role"] == "student"
    assert config["name"] == "Анна Смирнова"
    assert config["language"] == "ru"
    assert config["texts"]["en"]["page.join"] == "Join"
    assert config["texts"]["ru"]["page.join"] == "Войти"
    assert '<div id="panel">' in html


def sign(server, **overrides) -> str:
    claims = {
        "purpose": "call",
        "session_id": server.session_id,
        "role": "student",
        "person_id": "nobody",
        "ttl_seconds": 3600,
    }
    claims.update(overrides)
    return server.ctx.signer.sign(**claims)


def student_person_id(server) -> str:
    return _claims(server.token("student"))["u"]


def _claims(token: str) -> dict:
    body = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


@pytest.mark.parametrize(
    ("make_token", "status", "reason", "english"),
    [
        (lambda s: "", 400, "malformed", "incomplete or damaged"),
        (lambda s: "garbage", 400, "malformed", "incomplete or damaged"),
        (
            lambda s: _forge_role(s.token("student"), "examiner"),
            403,
            "forged",
            "signature does not match",
        ),
        (
            lambda s: sign(s, person_id=student_person_id(s), ttl_seconds=-1),
            410,
            "expired",
            "expired",
        ),
        (
            lambda s: sign(s, person_id=student_person_id(s), role="examiner"),
            403,
            "wrong_role",
            "does not match your role",
        ),
        (
            lambda s: sign(s, person_id=student_person_id(s), role="bot"),
            403,
            "wrong_role",
            "does not match your role",
        ),
        (
            lambda s: sign(s, person_id=student_person_id(s), purpose="download"),
            403,
            "wrong_purpose",
            "not a link to an exam call",
        ),
        (lambda s: sign(s, person_id="stranger"), 403, "not_member", "not a participant"),
        (lambda s: sign(s, session_id="nosuchsession"), 404, "unknown_session", "does not exist"),
    ],
)
async def test_bad_links_get_a_clear_page(
    running_server, make_token, status, reason, english
) -> None:
    from urllib.parse import quote

    got_status, html = await get(f"{running_server.url}/call?t={quote(make_token(running_server))}")
    assert got_status == status
    assert f'data-reason="{reason}"' in html
    assert english in html
    assert "Эту ссылку нельзя использовать" in html and "This link cannot be used" in html
    assert "Traceback" not in html


def _forge_role(token: str, role: str) -> str:
    body, mac = token.split(".")
    payload = _claims(token)
    payload["r"] = role
    return _b64(json.dumps(payload).encode()) + "." + mac


async def test_finished_session_is_closed(running_server) -> None:
    link = running_server.link("student")
    with running_server.ctx.db() as db, db.begin():
        db.execute(
            update(ExamSession)
            .where(ExamSession.id == running_server.session_id)
            .values(status="finished")
        )
    status, html = await get(link)
    assert status == 410 and "session_closed" in html


async def test_static_and_health(running_server) -> None:
    status, js = await get(f"{running_server.url}/static/call.js")
    assert status == 200 and "window.proctorbot" in js
    status, body = await get(f"{running_server.url}/healthz")
    assert status == 200 and json.loads(body)["ok"] is True


async def test_an_organizer_of_the_organization_may_open_any_of_its_sessions(
    running_server,
) -> None:
    from urllib.parse import quote

    from proctorbot.storage.models import Organization, Person

    with running_server.ctx.db() as db, db.begin():
        org_id = db.get(ExamSession, running_server.session_id).organization_id
        other = Organization(name="Elsewhere")
        db.add(other)
        db.flush()
        inside = Person(organization_id=org_id, role="organizer", full_name="Head of admissions")
        outside = Person(organization_id=other.id, role="organizer", full_name="Stranger")
        db.add_all([inside, outside])
        db.flush()
        ids = inside.id, outside.id
    status, html = await get(
        f"{running_server.url}/call?t={quote(sign(running_server, role='organizer', person_id=ids[0]))}"
    )
    assert status == 200 and "Head of admissions" in html
    status, html = await get(
        f"{running_server.url}/call?t={quote(sign(running_server, role='organizer', person_id=ids[1]))}"
    )
    assert status == 403 and "not_member" in html


async def test_panel_scripts_are_listed_on_the_page(running_server) -> None:
    from proctorbot.conference.keys import PANEL_SCRIPTS

    running_server.app[PANEL_SCRIPTS].append("/checklist/static/panel.js")
    status, html = await get(running_server.link("examiner"))
    assert status == 200
    assert '<script src="/checklist/static/panel.js" defer></script>' in html
    assert html.index('<script src="/static/call.js"') < html.index('<script src="/checklist')
