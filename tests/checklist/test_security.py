"""Security probes against the evidence route (issue 14, item 4).

Before the fix the route checked only the link's signature: after the session was
cancelled, or the examiner removed from it, the call page said no but the evidence
still answered 200; a null byte in the path was a 500.
"""

from __future__ import annotations

import aiohttp
import pytest
from proctorbot.storage.models import ExamSession, SessionMember
from sqlalchemy import delete

from proctorbot.app import Areas
from tests.browser_helpers import serve_app

EVIDENCE = "evidence/checklist/desk-1-desk.jpg"


@pytest.fixture
async def server(app_context):
    async with serve_app(app_context, areas=Areas(checklist=True)) as running:
        folder = app_context.settings.recordings_dir / running.session_id / "evidence" / "checklist"
        folder.mkdir(parents=True)
        (folder / "desk-1-desk.jpg").write_bytes(b"\xff\xd8jpeg")
        yield running


async def fetch(server, path: str, role: str = "examiner") -> int:
    url = f"{server.url}/checklist/evidence/{server.session_id}/{path}"
    async with aiohttp.ClientSession() as http:
        async with http.get(url, params={"t": server.token(role)}) as response:
            return response.status


async def test_security_cancelled_session_evidence_refused(server, app_context) -> None:
    assert await fetch(server, EVIDENCE) == 200
    with app_context.db() as db:
        db.get(ExamSession, server.session_id).status = "cancelled"
        db.commit()
    assert await fetch(server, EVIDENCE) in (403, 410)


async def test_security_removed_examiner_evidence_refused(server, app_context) -> None:
    token = server.token("examiner")  # made while a member
    with app_context.db() as db:
        db.execute(
            delete(SessionMember).where(
                SessionMember.session_id == server.session_id, SessionMember.role == "examiner"
            )
        )
        db.commit()
    url = f"{server.url}/checklist/evidence/{server.session_id}/{EVIDENCE}"
    async with aiohttp.ClientSession() as http, http.get(url, params={"t": token}) as response:
        assert response.status == 403


@pytest.mark.parametrize(
    "path",
    [
        "evidence/checklist/desk%00.jpg",
        "evidence/%00",
        "evidence/checklist/../../checklist.json",
        "evidence/checklist/..%2f..%2fchecklist.json",
        "evidence/checklist/unknown.jpg",
        "checklist.json",
    ],
)
async def test_security_bad_evidence_paths_are_404(server, path: str) -> None:
    assert await fetch(server, path) == 404
