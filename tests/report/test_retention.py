"""Retention with a fake clock: files go after the profile's period, unless on hold."""

from __future__ import annotations

import datetime as dt
import json

from proctorbot.config.profiles import load_profile
from proctorbot.report.build import build_report
from proctorbot.report.retention import place_hold, release_hold, run_retention
from proctorbot.report.tables import AuditEntry, RetentionPurge
from proctorbot.storage.models import ExamSession, Organization
from sqlalchemy import select

ENDED = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)


def add_session(app_context, profile: str) -> str:
    with app_context.db() as db:
        org = Organization(name="org")
        db.add(org)
        db.flush()
        session = ExamSession(
            organization_id=org.id,
            title="t",
            profile=profile,
            starts_at=ENDED - dt.timedelta(hours=1),
            ends_at=ENDED,
            status="finished",
        )
        db.add(session)
        db.commit()
        session_id = session.id
    folder = app_context.settings.recordings_dir / session_id
    (folder / "evidence").mkdir(parents=True)
    (folder / "student.webm").write_bytes(b"x" * 1000)
    (folder / "segments").mkdir()
    (folder / "segments" / "student-0001.ivf").write_bytes(b"y" * 500)
    (folder / "evidence" / "voice-4.ogg").write_bytes(b"z" * 10)
    (folder / "report").mkdir()
    (folder / "report" / "report.html").write_text("report")
    (folder / "events.jsonl").write_text(
        '{"kind": "third_party_voice", "start": 4, "end": 6, "track": "s",'
        ' "evidence": ["evidence/voice-4.ogg"]}\n'
    )
    manifest = {
        "session_id": session_id,
        "started_at": 0,
        "files": [
            {
                "path": "student.webm",
                "kind": "video",
                "participant": "s",
                "role": "student",
                "started_at": 0,
                "duration": 20,
            }
        ],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return session_id


def audit(app_context, session_id: str) -> list[tuple[str, str]]:
    with app_context.db() as db:
        rows = db.scalars(select(AuditEntry).where(AuditEntry.session_id == session_id))
        return [(r.action, r.outcome) for r in rows]


def test_examus_30_days(app_context) -> None:
    session_id = add_session(app_context, "examus-like")
    folder = app_context.settings.recordings_dir / session_id
    assert run_retention(app_context, now=ENDED + dt.timedelta(days=29, hours=23)).purged == []
    assert (folder / "student.webm").exists()

    result = run_retention(app_context, now=ENDED + dt.timedelta(days=30, minutes=1))
    [purge] = result.purged
    assert sorted(purge.deleted) == [
        "evidence/voice-4.ogg",
        "segments/student-0001.ivf",
        "student.webm",
    ]
    assert not (folder / "student.webm").exists() and not (folder / "evidence").exists()
    # Documents stay: the report, the events, the manifest.
    assert (folder / "report" / "report.html").exists() and (folder / "events.jsonl").exists()
    assert ("retention", "deleted") in audit(app_context, session_id)
    with app_context.db() as db:
        assert db.get(RetentionPurge, session_id).files_deleted == 3
    # Running again deletes nothing and writes no new line.
    assert run_retention(app_context, now=ENDED + dt.timedelta(days=31)).purged == []
    assert audit(app_context, session_id).count(("retention", "deleted")) == 1
    # A report rebuilt later says the files were deleted on purpose, not "missing".
    report = build_report(folder, load_profile("examus-like"), probe=False)
    keys = [p.key for p in report.folder.problems]
    assert "purged" in keys and "recording_missing" not in keys and "evidence_missing" not in keys


def test_university_keeps_three_months(app_context) -> None:
    session_id = add_session(app_context, "university-admission")
    assert run_retention(app_context, now=ENDED + dt.timedelta(days=60)).purged == []
    assert [
        p.session_id for p in run_retention(app_context, now=ENDED + dt.timedelta(days=93)).purged
    ] == [session_id]


def test_legal_hold_keeps_files_until_released(app_context) -> None:
    session_id = add_session(app_context, "examus-like")
    folder = app_context.settings.recordings_dir / session_id
    with app_context.db() as db:
        place_hold(db, session_id, "апелляция № 12")
        db.commit()
    result = run_retention(app_context, now=ENDED + dt.timedelta(days=45))
    assert result.purged == [] and result.held == [session_id]
    assert (folder / "student.webm").exists() and (folder / "evidence" / "voice-4.ogg").exists()
    with app_context.db() as db:
        assert release_hold(db, session_id)
        db.commit()
    [purge] = run_retention(app_context, now=ENDED + dt.timedelta(days=46)).purged
    assert purge.session_id == session_id and not (folder / "student.webm").exists()
    lines = audit(app_context, session_id)
    assert ("legal_hold", "placed") in lines and ("retention", "held") in lines
    assert ("legal_hold", "released") in lines and ("retention", "deleted") in lines


def test_session_still_running_is_never_touched(app_context) -> None:
    session_id = add_session(app_context, "examus-like")
    # The clock is before the session's end: nothing is due.
    assert run_retention(app_context, now=ENDED - dt.timedelta(minutes=5)).purged == []
    assert (app_context.settings.recordings_dir / session_id / "student.webm").exists()
