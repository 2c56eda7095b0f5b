"""The evidence route: examiners, experts and organizers only, nothing outside evidence/."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer
from proctorbot.conference.links import call_token
from proctorbot.storage.models import ExamSession, Person, SessionMember

from proctorbot.app import Areas, build_app


async def test_evidence_only_for_examiners(app_context, exam_session_id) -> None:
    session_dir = app_context.settings.recordings_dir / exam_session_id
    (session_dir / "evidence" / "checklist").mkdir(parents=True)
    (session_dir / "evidence" / "checklist" / "desk-1-desk.jpg").write_bytes(b"\xff\xd8jpeg")
    (session_dir / "checklist.json").write_text("{}")
    with app_context.db.begin() as db:  # the database is asked on every request: real people
        org = db.get(ExamSession, exam_session_id).organization_id
        for role in ("examiner", "expert", "organizer", "student"):
            db.add(Person(id=f"p-{role}", organization_id=org, role=role, full_name=role))
            db.flush()
            db.add(SessionMember(session_id=exam_session_id, person_id=f"p-{role}", role=role))
    app = await build_app(app_context, areas=Areas(checklist=True))
    async with TestClient(TestServer(app)) as client:
        base = f"/checklist/evidence/{exam_session_id}/evidence/checklist/desk-1-desk.jpg"
        for role, status in (
            ("examiner", 200),
            ("expert", 200),
            ("organizer", 200),
            ("student", 403),
        ):
            token = call_token(app_context, exam_session_id, role, f"p-{role}")
            response = await client.get(base, params={"t": token})
            assert response.status == status, role
        assert (await client.get(base)).status == 403
        other = call_token(app_context, "another-session", "examiner", "p")
        assert (await client.get(base, params={"t": other})).status == 403
        token = call_token(app_context, exam_session_id, "examiner", "p-examiner")
        outside = f"/checklist/evidence/{exam_session_id}/checklist.json"
        assert (await client.get(outside, params={"t": token})).status == 404
        sneaky = f"/checklist/evidence/{exam_session_id}/evidence/../checklist.json"
        assert (await client.get(sneaky, params={"t": token})).status in (403, 404)
        texts = await (await client.get("/checklist/texts.json")).json()
        assert texts["ru"]["step.consent.title"] == "Согласие"
        assert set(texts["ru"]) == set(texts["en"])
