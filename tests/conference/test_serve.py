"""The composition root, the demo day and the `proctorbot serve` command."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from proctorbot.storage.demo import seed_demo
from proctorbot.storage.models import ExamSession, Person, SessionMember
from sqlalchemy import func, select

from proctorbot.app import CONTEXT, Areas, build_app
from proctorbot.serve import apply_address


def test_demo_day_is_seeded_once_and_starts_now(app_context) -> None:
    now = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
    first = seed_demo(app_context.db, profile="school-interview", now=now)
    later = now + dt.timedelta(hours=2)
    second = seed_demo(app_context.db, profile="school-interview", now=later)
    assert first == second
    with app_context.db() as db:
        assert db.scalar(select(func.count()).select_from(Person)) == 6
        assert db.scalar(select(func.count()).select_from(ExamSession)) == 3
        assert db.scalar(select(func.count()).select_from(SessionMember)) == 12
        sessions = [db.get(ExamSession, sid) for sid in second.session_ids]
        roles = set(db.scalars(select(SessionMember.role)))
    assert sessions[0].starts_at == later  # the first session starts "now" on every run
    assert sessions[1].starts_at > sessions[0].ends_at
    assert roles == {"student", "examiner", "expert", "organizer"}


def _paths(app) -> set[str]:  # noqa: ANN001
    return {r.resource.canonical for r in app.router.routes()}


async def test_build_app_wires_the_conference_and_the_areas_asked_for(app_context) -> None:
    app = await build_app(app_context, areas=Areas())
    assert app[CONTEXT] is app_context
    assert _paths(app) >= {"/call", "/ws"}
    assert not any(p.startswith(("/dashboard", "/checklist")) for p in _paths(app))
    app = await build_app(app_context, areas=Areas(dashboard=True))
    assert any(p.startswith("/dashboard") for p in _paths(app))
    assert not any(p.startswith("/checklist") for p in _paths(app))
    with pytest.raises(ValueError, match="bot"):
        await build_app(app_context, areas=Areas(handover=True))


async def test_build_app_wires_every_area_like_serve(app_context) -> None:
    from proctorbot.bot.service import BOT_MANAGER
    from proctorbot.checklist.service import CHECKLIST_PLUGIN
    from proctorbot.handover.service import HAND_OVER, LIVE_WATCH_PLUGIN
    from proctorbot.notifications.service import NOTIFIER
    from proctorbot.recording.service import DISK_SPACE_WATCH
    from proctorbot.report.dashboard import DASHBOARD
    from proctorbot.scheduling.service import JOB_HOOKS, SCHEDULER

    app = await build_app(app_context)  # built, not started: nothing runs yet
    manager = app[BOT_MANAGER]
    page_focus, *others = manager.plugins
    assert type(page_focus).__name__ == "PageFocusPlugin"  # bot/page_focus.py
    assert others == [app[LIVE_WATCH_PLUGIN], app[CHECKLIST_PLUGIN]]
    assert manager.after_session is app[HAND_OVER]
    hooks = app[JOB_HOOKS]
    assert hooks.bot_join == manager.join and hooks.post_session.manager is manager
    assert hooks.people_in_room("nobody-here") == set() and hooks.retention is not None
    assert not app[SCHEDULER].running
    for key in (NOTIFIER, DASHBOARD, DISK_SPACE_WATCH):
        assert key in app
    assert app[LIVE_WATCH_PLUGIN].wait_for_admission, "a checklist runs: the watch waits"


def test_apply_address_moves_a_default_public_url(settings) -> None:
    apply_address(settings, "0.0.0.0", 9001)
    assert settings.server.public_url == "http://127.0.0.1:9001"
    settings.server.public_url = "https://exam.example.org"
    apply_address(settings, None, 9002)
    assert settings.server.public_url == "https://exam.example.org"


@pytest.mark.slow
def test_serve_demo_prints_links_that_open(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PROCTORBOT_DATA_DIR": str(tmp_path / "var")}
    env.pop("PROCTORBOT_CONFIG", None)
    command = [sys.executable, "-m", "proctorbot", "serve", "--demo", "--port", str(port)]
    server = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True)
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = server.stdout.readline()
            lines.append(line)
            if "serving on" in line or not line:
                break
        output = "".join(lines)
        links = re.findall(r"(student|examiner|expert|organizer)\s.*?(http://\S+)", output)
        assert len(links) == 12, output
        # a working organizer sign-in out of the box: a one-time link, the organization
        assert re.search(r"http://127\.0\.0\.1:\d+/dashboard/login/link/\S+", output), output
        assert 'Demo organization: "Demo University' in output, output
        # Generous: on a loaded 2-core CI machine every area's start-up takes a while.
        answer_deadline = time.monotonic() + 90
        last_error: OSError | None = None
        while time.monotonic() < answer_deadline:
            try:
                with urllib.request.urlopen(links[0][1], timeout=10) as response:
                    assert response.status == 200
                    assert "call-config" in response.read().decode()
                break
            except OSError as exc:
                last_error = exc
                time.sleep(0.3)
        else:
            pytest.fail(f"the server never answered: {last_error}")
    finally:
        server.terminate()
        server.wait(timeout=20)
