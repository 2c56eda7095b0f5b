"""The dashboard's session page reviews each finding in one place: time in the one
convention, kind and person in words, snapshot or clip inline through the signed-in file
route, "play from here" in a static script, accept or dismiss (with a required reason)
in forms that carry the CSRF token; session statuses in words."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient
from proctorbot.report.dashboard_sign_in import CSRF_FIELD
from proctorbot.rules.findings import finding_id
from proctorbot.storage.models import ExamSession
from proctorbot.storage.session_time import SessionClock

from tests.report.fixture_session import STARTED_AT
from tests.report.test_dashboard import World, client, form_token, sign_in, world  # noqa: F401

RAW = re.compile(
    r"\b(p-student|p-examiner|third_party_voice|extra_person|face_absent|live|planned"
    r"|university-admission|view_session|view_file|allowed|\w+_\w+)\b"
)


def visible_text(html: str) -> str:
    html = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", html)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def test_session_page_reviews_each_finding(
    client: TestClient,  # noqa: F811
    world: World,  # noqa: F811
    app_context,
) -> None:
    evidence = app_context.settings.recordings_dir / world.session / "evidence"
    evidence.mkdir(exist_ok=True)
    (evidence / "voice-4.ogg").write_bytes(b"OggS" + b"\x00" * 60)
    (evidence / "extra-person-9.jpg").write_bytes(b"\xff\xd8\xff" + b"\x00" * 60)
    await sign_in(client)
    await client.get(f"/dashboard/sessions/{world.session}")  # the access log has a line
    response = await client.get(f"/dashboard/sessions/{world.session}")
    assert response.status == 200
    html = await response.text()
    text = visible_text(html)
    assert RAW.search(text) is None, RAW.search(text).group(0)
    assert "экзамен идёт" in text  # the status "live" in words
    assert "Вступительные испытания (дистанционно)" in text  # the profile's title
    assert "просмотр сеанса" in text and "Организатор Ольга" in text  # the access log
    assert "Время — минуты:секунды от начала записи" in text and "Europe/Moscow" in text

    items = re.findall(r'(?s)<li class="finding[^"]*" id="finding-([^"]+)".*?</li>', html)
    assert len(items) >= 2, items
    first = html.split('id="finding-', 1)[1].split("</li>", 1)[0]
    clock = SessionClock(STARTED_AT, "Europe/Moscow")
    assert re.search(r'class="offset"[^>]*>00:04–00:06<', first), first
    assert f"{clock.wall(4.0)}–{clock.wall(6.0)}" in first
    assert "Посторонний голос" in first and "Иванова Анна Сергеевна (обучающийся)" in first
    assert 'class="play-from" data-t="4.000"' not in first  # no recording in this folder
    # the clip inline, through the signed-in file route
    clip = re.search(r'<audio controls preload="none" src="([^"]+)"', first).group(1)
    assert clip == f"/dashboard/sessions/{world.session}/files/evidence/voice-4.ogg"
    assert (await client.get(clip)).status == 200
    images = re.findall(r'<img src="([^"]+)"', html)
    assert any(src.endswith("evidence/extra-person-9.jpg") for src in images), images
    for src in images:
        assert (await client.get(src)).status == 200, src

    # accept and dismiss: CSRF in each form, a reason required for a dismissal
    forms = re.findall(
        r'(?s)<form method="post" action="([^"]+/findings/[^"]+)"[^>]*>(.*?)</form>', first
    )
    assert len(forms) == 2
    token = form_token(html)
    for _, body in forms:
        assert f'name="{CSRF_FIELD}" value="{token}"' in body
    dismiss = next(body for _, body in forms if 'value="dismissed"' in body)
    assert re.search(r'<input type="text" name="reason" required', dismiss)
    assert "Причина (обязательна при отклонении)" in dismiss

    # the player's code is a static file the page loads; the page has no inline script
    assert '<script src="/dashboard/static/session.js" defer></script>' in html
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None
    script = await client.get("/dashboard/static/session.js")
    assert script.status == 200 and "play-from" in await script.text()


async def test_session_page_with_a_recording_offers_play_from_here(
    client: TestClient,  # noqa: F811
    world: World,  # noqa: F811
    app_context,
) -> None:
    folder = app_context.settings.recordings_dir / world.session
    (folder / "composite.mp4").write_bytes(b"\x00" * 64)  # probe=False: named, not decoded
    import json

    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"].append(
        {
            "path": "composite.mp4",
            "kind": "composite",
            "participant": "*",
            "role": "",
            "started_at": manifest["started_at"],
            "duration": 20.0,
        }
    )
    (folder / "manifest.json").write_text(json.dumps(manifest))
    await sign_in(client)
    html = await (await client.get(f"/dashboard/sessions/{world.session}")).text()
    player = re.search(r'<video id="session-recording"[^>]*>', html).group(0)
    assert f'src="/dashboard/sessions/{world.session}/files/composite.mp4"' in player
    assert "data-segments=" in player
    voice = finding_id("third_party_voice", "p-student", 4.0)
    item = html.split(f'id="finding-{voice}"', 1)[1].split("</li>", 1)[0]
    assert 'class="play-from" data-t="4.000"' in item
    assert "Смотреть с этого места" in item


async def test_day_page_status_in_words(
    client: TestClient,  # noqa: F811
    world: World,  # noqa: F811
    app_context,
) -> None:
    with app_context.db() as db:
        db.get(ExamSession, world.session).status = "planned"
        db.commit()
    await sign_in(client)
    html = await (await client.get(f"/dashboard/days/{world.day}")).text()
    text = visible_text(html)
    assert "запланирован" in text and "planned" not in text
    html = await (await client.get(f"/dashboard/sessions/{world.session}")).text()
    assert "запланирован" in visible_text(html)
    live = await (await client.get(f"/dashboard/api/days/{world.day}/sessions")).json()
    assert live["sessions"][0]["status_text"] == "запланирован"
