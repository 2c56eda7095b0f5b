"""A live alert tells the time as every other text does: minutes:seconds from the start of
the recording, labelled so, with the exam day's clock and zone beside it, and what
happened in words (no rule codes such as ``extra_person, 11 s``)."""

from __future__ import annotations

import datetime as dt

from proctorbot.notifications import events
from proctorbot.notifications.tables import OutboxMessage
from proctorbot.storage.models import (
    ExamDay,
    ExamSession,
    Organization,
    Person,
    SessionMember,
)
from sqlalchemy import select

# 2026-05-28 20:26:40 UTC: the recording starts 26 min 40 s after the scheduled start.
RECORDING_STARTED_AT = 1_780_000_000.0
SCHEDULED = dt.datetime(2026, 5, 28, 20, 0, tzinfo=dt.UTC)


def _session(app_context, zone: str | None) -> str:
    with app_context.db.begin() as db:
        org = Organization(name="Alert University")
        db.add(org)
        db.flush()
        day_id = None
        if zone:
            day = ExamDay(
                organization_id=org.id,
                title="Day",
                date=SCHEDULED.date(),
                profile="university-admission",
                timezone=zone,
            )
            db.add(day)
            db.flush()
            day_id = day.id
        session = ExamSession(
            organization_id=org.id,
            exam_day_id=day_id,
            title="Physics",
            profile="university-admission",
            starts_at=SCHEDULED,
            ends_at=SCHEDULED + dt.timedelta(minutes=30),
        )
        db.add(session)
        db.flush()
        for role, language in (("examiner", "ru"), ("organizer", "en")):
            person = Person(
                organization_id=org.id,
                role=role,
                full_name=role,
                email=f"{role}@example.org",
                language=language,
            )
            db.add(person)
            db.flush()
            db.add(SessionMember(session_id=session.id, person_id=person.id, role=role))
        return session.id


def _texts(app_context, session_id: str) -> dict[str, str]:
    with app_context.db() as db:
        rows = db.scalars(select(OutboxMessage).where(OutboxMessage.session_id == session_id))
        return {row.language: row.text for row in rows}


def test_alert_counts_from_the_recording_start_with_the_day_clock(app_context) -> None:
    session_id = _session(app_context, "Asia/Yekaterinburg")
    with app_context.db.begin() as db:
        sent = events.live_alert(
            db,
            session_id,
            "extra_person",
            754.0,
            recording_started_at=RECORDING_STARTED_AT,
            duration_s=11.2,
            gross=True,
        )
    assert sent == 2
    texts = _texts(app_context, session_id)
    # 20:26:40 UTC + 12:34 = 20:39:14 UTC = 01:39:14 in Yekaterinburg (UTC+5).
    assert texts["ru"] == (
        "⚠ Physics: посторонний человек в кадре — 12:34 от начала записи"
        " (01:39:14, Asia/Yekaterinburg). Длительность 11 с. Грубое нарушение."
    )
    assert "12:34 from the start of the recording (01:39:14, Asia/Yekaterinburg)" in texts["en"]
    assert "Lasted 11 s." in texts["en"]
    for text in texts.values():
        assert "extra_person" not in text and "Moscow" not in text


def test_older_callers_still_get_the_clock_with_the_zone_named(app_context) -> None:
    session_id = _session(app_context, None)
    with app_context.db.begin() as db:
        events.live_alert(db, session_id, "third_party_voice", 125.0, default_zone="Europe/Samara")
    texts = _texts(app_context, session_id)
    # 20:00 UTC + 125 s on the settings' zone (UTC+4): no day, no Moscow by accident.
    assert "посторонний голос — в 00:02:05 (Europe/Samara)" in texts["ru"], texts


def test_an_alert_sent_while_it_goes_on_says_so_not_a_duration(app_context) -> None:
    session_id = _session(app_context, "Europe/Moscow")
    with app_context.db.begin() as db:
        events.live_alert(
            db,
            session_id,
            "extra_person",
            60.0,
            recording_started_at=RECORDING_STARTED_AT,
            duration_s=1.1,
            ongoing=True,
            gross=True,  # to the examiner (ru) and the organizer (en)
        )
    texts = _texts(app_context, session_id)
    assert "Ещё продолжается." in texts["ru"] and "Длительность" not in texts["ru"]
    assert "Still going on." in texts["en"] and "Lasted" not in texts["en"]
