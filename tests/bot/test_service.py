"""`proctorbot serve` plug-in: the bot joins the sessions that open by itself."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from proctorbot.bot.manager import signaling_url
from proctorbot.bot.service import BOT_MANAGER, sessions_due
from proctorbot.conference.keys import ROOMS
from proctorbot.storage.models import ExamSession

from proctorbot.app import Areas
from tests.browser_helpers import serve_app

pytestmark = [pytest.mark.timeout(60)]


def test_signaling_url() -> None:
    assert signaling_url("http://h:8080/", "T") == "ws://h:8080/ws?t=T"
    assert signaling_url("https://exam.example", "T") == "wss://exam.example/ws?t=T"


def test_sessions_due_uses_the_join_window(app_context) -> None:
    from proctorbot.storage.demo import seed_demo

    ids = seed_demo(app_context.db, profile="university-admission", language="ru").session_ids
    with app_context.db() as db:
        starts = {sid: db.get(ExamSession, sid).starts_at for sid in ids}
    now = min(starts.values())
    due = sessions_due(app_context, now)
    window = dt.timedelta(minutes=app_context.settings.scheduling.bot_join_minutes_before)
    assert set(due) == {sid for sid, at in starts.items() if at <= now + window}
    assert ids[0] in due


async def test_bot_joins_an_open_session_by_itself(app_context) -> None:
    app_context.settings.recording.make_composite = False
    async with serve_app(app_context, areas=Areas(bot=True)) as server:
        async with asyncio.timeout(20):
            while True:
                room = server.app[ROOMS].get(server.session_id)
                if room is not None and room.with_role("bot"):
                    break
                await asyncio.sleep(0.2)
        assert server.app[BOT_MANAGER].is_joined(server.session_id)
    # the server's cleanup made the bot leave and close its files
    assert (app_context.settings.recordings_dir / server.session_id / "manifest.json").exists()
