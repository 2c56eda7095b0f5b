"""One time convention: minutes:seconds from the recording start, labelled so, with the
clock of the exam day's time zone beside it (report, protocol and acts, dashboard)."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

from proctorbot.config.catalogue import Catalogue
from proctorbot.config.profiles import load_profile
from proctorbot.report.acts import render_documents
from proctorbot.report.build import SessionInfo, build_report
from proctorbot.report.html import render_report_html
from proctorbot.report.results import session_info
from proctorbot.storage.models import ExamDay, ExamSession, Organization
from proctorbot.storage.session_time import SessionClock, offset_text, session_zone

from tests.report.fixture_session import STARTED_AT, make_session

# The fixture's recording starts at 1_780_000_000 = 2026-05-28 20:26:40 UTC.
MOSCOW_START = "23:26:40"  # UTC+3
YEKATERINBURG_START = "01:26:40"  # UTC+5, the next day


def test_offset_is_minutes_and_seconds_never_a_clock() -> None:
    assert offset_text(0) == "00:00"
    assert offset_text(754.4) == "12:34"
    assert offset_text(4502) == "75:02"  # past an hour: still minutes, not "1:15:02"


def test_clock_beside_the_offset_names_the_zone() -> None:
    clock = SessionClock(STARTED_AT, "Europe/Moscow")
    ru, en = Catalogue.load("ru"), Catalogue.load("en")
    assert clock.wall(65) == "23:27:45"
    assert clock.at(65, ru) == "01:05 от начала записи (23:27:45, Europe/Moscow)"
    assert clock.at(65, en) == "01:05 from the start of the recording (23:27:45, Europe/Moscow)"
    assert SessionClock(None).at(65, ru) == "01:05 от начала записи"
    # An unknown zone never breaks a page: the default zone is used.
    assert SessionClock(STARTED_AT, "Mars/Olympus").wall(0) == MOSCOW_START


def test_zone_of_the_exam_day_else_the_settings_default(app_context) -> None:
    start = dt.datetime(2026, 5, 28, 9, 0, tzinfo=dt.UTC)
    with app_context.db.begin() as db:
        org = Organization(name="Zone University")
        db.add(org)
        db.flush()
        day = ExamDay(
            organization_id=org.id,
            title="Day",
            date=start.date(),
            profile="examus-like",
            timezone="Asia/Yekaterinburg",
        )
        db.add(day)
        db.flush()
        with_day = ExamSession(
            organization_id=org.id,
            exam_day_id=day.id,
            title="A",
            profile="examus-like",
            starts_at=start,
            ends_at=start,
        )
        without = ExamSession(
            organization_id=org.id, title="B", profile="examus-like", starts_at=start, ends_at=start
        )
        db.add_all([with_day, without])
        db.flush()
        assert session_zone(db, with_day) == "Asia/Yekaterinburg"
        assert session_zone(db, without, "Europe/Samara") == "Europe/Samara"
        assert session_info(db, without, "Europe/Samara").timezone == "Europe/Samara"
        assert session_info(db, with_day).timezone == "Asia/Yekaterinburg"


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_report_findings_from_the_recording_start_with_the_day_clock(tmp_path: Path) -> None:
    folder = make_session(tmp_path, media=False)
    info = SessionInfo(
        title="Oral",
        starts_at=dt.datetime(2026, 5, 28, 18, 0, tzinfo=dt.UTC),  # scheduled: not the origin
        timezone="Asia/Yekaterinburg",
    )
    report = build_report(folder, load_profile("university-admission"), info=info, probe=False)
    html = render_report_html(report)
    text = _text(html)
    assert "от начала записи" in text and "Europe/Moscow" not in text
    assert f"Начало записи: 29.05.2026 {YEKATERINBURG_START} (Asia/Yekaterinburg)" in text
    assert "UTC" not in text.split("Сформирован")[0]  # no UTC clock in the page body
    first = report.findings[0]
    offsets = re.findall(r'class="offset">([^<]*)<', html)
    walls = re.findall(r'class="wall">([^<]*)<', html)
    assert offsets[0] == f"{offset_text(first.start)}–{offset_text(first.end)}"
    clock = SessionClock(STARTED_AT, "Asia/Yekaterinburg")
    assert f"{clock.wall(first.start)}–{clock.wall(first.end)}" in walls


def test_protocol_and_acts_in_the_same_convention(tmp_path: Path) -> None:
    folder = make_session(tmp_path, media=False)
    info = SessionInfo(
        title="Oral",
        student_name="Иванова Анна Сергеевна",
        starts_at=dt.datetime(2026, 5, 28, 18, 0, tzinfo=dt.UTC),
        timezone="Europe/Moscow",
    )
    report = build_report(folder, load_profile("university-admission"), info=info, probe=False)
    documents = {d.key: _text(d.html) for d in render_documents(report)}
    protocol = documents["protocol"]
    # The protocol's "from … to" is the recording's, on the exam day's clock, zone named.
    assert f"(по часам, Europe/Moscow): с {MOSCOW_START[:5]} до 23:27" in protocol, protocol
    assert "Время от начала записи" in protocol
    first = report.counted_findings[0]
    clock = SessionClock(STARTED_AT, "Europe/Moscow")
    assert f"{offset_text(first.start)}–{offset_text(first.end)}" in protocol
    assert f"{clock.wall(first.start)}–{clock.wall(first.end)}" in protocol
    for key in ("termination_act", "annulment_act"):
        assert "Время от начала записи" in documents[key], key


def test_checklist_failure_in_words_not_its_code(tmp_path: Path) -> None:
    folder = make_session(tmp_path, media=False)
    data = json.loads((folder / "checklist.json").read_text(encoding="utf-8"))
    step = next(s for s in data["steps"] if s["kind"] == "id_document")
    step.update(status="failed", failure="name_mismatch")
    (folder / "checklist.json").write_text(json.dumps(data, ensure_ascii=False))
    report = build_report(folder, load_profile("university-admission"), probe=False)
    text = _text(render_report_html(report))
    assert "name_mismatch" not in text
    assert "ФИО не совпадает со списком" in text
