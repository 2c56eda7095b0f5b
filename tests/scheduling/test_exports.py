import datetime as dt
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from proctorbot.scheduling.exports import schedule_csv, schedule_ics
from proctorbot.scheduling.planner import SlotLengths, SlotPlanner
from proctorbot.scheduling.roster import import_roster
from proctorbot.scheduling.schedule import (
    examiners_to_plan,
    organization_by_name,
    save_plan,
    scheduled_slots,
    students_to_plan,
)
from proctorbot.storage.models import ExamSession, SessionMember
from sqlalchemy import func, select

from tests.scheduling.test_roster import AVAIL, ROSTER, write

DAY = dt.date(2026, 6, 15)
LENGTHS = SlotLengths.minutes(5, 10, 30, 15)


def plan_day(app_context, tmp_path: Path):
    with app_context.db.begin() as db:
        import_roster(db, "Uni", write(tmp_path, "r.csv", ROSTER), write(tmp_path, "a.csv", AVAIL))
        org = organization_by_name(db, "Uni")
        plan = SlotPlanner(LENGTHS).plan(
            students_to_plan(db, org.id, DAY, "Europe/Moscow"),
            examiners_to_plan(db, org.id, DAY, "Europe/Moscow"),
        )
        sessions = save_plan(
            db,
            org.id,
            DAY,
            plan,
            title="Math",
            profile="school-interview",
            timezone="Europe/Moscow",
        )
        slots = scheduled_slots(
            db,
            sessions,
            app_context.signer,
            "http://127.0.0.1:8080",
            timezone="Europe/Moscow",
            min_ttl_hours=48,
            lengths_instruction_technical=LENGTHS.instruction + LENGTHS.technical,
        )
    return plan, slots


def test_plan_creates_sessions_members_and_signed_links(app_context, tmp_path: Path) -> None:
    plan, slots = plan_day(app_context, tmp_path)
    assert len(slots) == 2 and plan.conflicts == []
    with app_context.db() as db:
        assert db.scalar(select(func.count()).select_from(ExamSession)) == 2
        assert db.scalar(select(func.count()).select_from(SessionMember)) == 4
        # planning the same day again finds nobody left to plan
        org = organization_by_name(db, "Uni")
        assert students_to_plan(db, org.id, DAY, "Europe/Moscow") == []
    for slot in slots:
        token = parse_qs(urlparse(slot.student.url).query)["t"][0]
        claims = app_context.signer.verify(token, purpose="call", session_id=slot.session_id)
        assert claims.role == "student" and claims.person_id == slot.student.person_id
        assert claims.expires_at > slot.end.timestamp()
        assert slot.examiners[0].role == "examiner"


def test_csv_and_ics(app_context, tmp_path: Path) -> None:
    plan, slots = plan_day(app_context, tmp_path)
    text = schedule_csv(slots, plan.conflicts)
    lines = text.splitlines()
    assert lines[0].startswith("session_id,date,start,exam_start,end,timezone,start_utc,student")
    assert ",2026-06-15,09:00,09:15,09:45,Europe/Moscow,2026-06-15T06:00Z," in lines[1]
    ics = schedule_ics(slots, calendar_name="Math 2026-06-15")
    assert ics.count("BEGIN:VEVENT") == 2 and ics.endswith("END:VCALENDAR\r\n")
    assert "DTSTART:20260615T060000Z" in ics
    assert all(len(line.encode()) <= 75 for line in ics.split("\r\n"))
    unfolded = ics.replace("\r\n ", "")
    assert slots[0].student.url in unfolded


def test_panel_from_availability_gives_sessions_with_two_examiners(
    app_context, tmp_path: Path
) -> None:
    avail = (
        "examiner,date,start,end,panel\n"
        "ivanov,2026-06-15,09:00,12:00,board\n"
        "petrova,2026-06-15,10:00,13:00,board\n"
    )
    with app_context.db.begin() as db:
        import_roster(db, "Uni", write(tmp_path, "r.csv", ROSTER), write(tmp_path, "a.csv", avail))
        org = organization_by_name(db, "Uni")
        examiners = examiners_to_plan(db, org.id, DAY, "Europe/Moscow")
        assert len(examiners) == 1 and len(examiners[0].people) == 2
        plan = SlotPlanner(LENGTHS).plan(
            students_to_plan(db, org.id, DAY, "Europe/Moscow"), examiners
        )
        sessions = save_plan(
            db, org.id, DAY, plan, title="Math", profile="x", timezone="Europe/Moscow"
        )
        slots = scheduled_slots(
            db,
            sessions,
            app_context.signer,
            "http://127.0.0.1:8080",
            timezone="Europe/Moscow",
            min_ttl_hours=48,
            lengths_instruction_technical=LENGTHS.instruction + LENGTHS.technical,
        )
    assert [len(slot.examiners) for slot in slots] == [2, 2]
    assert slots[0].start.astimezone(dt.timezone(dt.timedelta(hours=3))).hour == 10
    assert "; " in schedule_csv(slots).splitlines()[1]  # both names in the examiner column
