"""Fixtures for the checklist tests: a session row to hang the run on."""

from __future__ import annotations

import datetime as dt

import pytest


@pytest.fixture
def exam_session_id(app_context) -> str:
    from proctorbot.storage.models import ExamSession, Organization

    with app_context.db.begin() as db:
        org = Organization(name="Test University")
        db.add(org)
        db.flush()
        start = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
        session = ExamSession(
            organization_id=org.id,
            title="Oral exam",
            profile="university-admission",
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=30),
        )
        db.add(session)
        db.flush()
        return session.id
