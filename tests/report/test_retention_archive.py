"""Retention with an S3 archive: the local copy goes after ``archive.keep_local_days``
only when ``archive.json`` says the store holds it verified."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

from proctorbot.report.retention import run_retention
from proctorbot.storage.session_folder import ARCHIVE_FILE

from tests.report.test_retention import ENDED, add_session


def keeping_local(app_context, days: float):
    archive = app_context.settings.archive.model_copy(
        update={"s3_bucket": "exams", "keep_local_days": days}
    )
    settings = app_context.settings.model_copy(update={"archive": archive})
    return dataclasses.replace(app_context, settings=settings)


def write_archive_note(folder, *, verified: bool) -> None:
    files = [{"path": "student.webm", "size": 1000, "sha256": "ab", "verified": verified}]
    note = {"session_id": folder.name, "verified": verified, "files": files}
    (folder / ARCHIVE_FILE).write_text(json.dumps(note))


def test_the_local_copy_goes_after_keep_local_days_only_when_verified(app_context) -> None:
    ctx = keeping_local(app_context, 7)
    session_id = add_session(ctx, "university-admission")  # its own period: 90 days
    folder = ctx.settings.recordings_dir / session_id
    assert run_retention(ctx, now=ENDED + dt.timedelta(days=8)).purged == []  # no archive.json

    write_archive_note(folder, verified=False)
    assert run_retention(ctx, now=ENDED + dt.timedelta(days=8)).purged == []
    assert (folder / "student.webm").exists()

    write_archive_note(folder, verified=True)
    assert run_retention(ctx, now=ENDED + dt.timedelta(days=6)).purged == []  # not yet
    [purge] = run_retention(ctx, now=ENDED + dt.timedelta(days=8)).purged
    assert "student.webm" in purge.deleted and not (folder / "student.webm").exists()
    assert (folder / "report" / "report.html").exists()  # documents stay


def test_keep_local_days_zero_keeps_the_local_copy(app_context) -> None:
    ctx = keeping_local(app_context, 0)
    session_id = add_session(ctx, "university-admission")
    folder = ctx.settings.recordings_dir / session_id
    write_archive_note(folder, verified=True)
    assert run_retention(ctx, now=ENDED + dt.timedelta(days=30)).purged == []
