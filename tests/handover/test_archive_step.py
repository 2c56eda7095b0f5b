"""The hand-over's ``archive`` step: the folder to an S3 store (``moto_server``), its
outcome in handover.json, a failure said in words and tried again at the next start."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto.server")

from proctorbot.handover.closer import resume_hand_overs  # noqa: E402
from proctorbot.handover.folder import HANDOVER_FILE, archive_pending  # noqa: E402
from proctorbot.handover.session_handover import SessionHandOver  # noqa: E402
from proctorbot.storage.models import ExamSession, SessionKind  # noqa: E402
from proctorbot.storage.object_store import ObjectStore  # noqa: E402
from proctorbot.storage.session_archive import archive_verified  # noqa: E402

from proctorbot.context import AppContext  # noqa: E402
from tests.bot.handover_helpers import add_session  # noqa: E402
from tests.storage.s3_server import archive_settings, free_port  # noqa: E402

pytestmark = pytest.mark.timeout(60)

STARTED_AT = 1_780_000_000.0


def trial_session(ctx: AppContext) -> tuple[str, Path]:
    """A finished test call (recording + report only: no models) with one recorded file."""
    ids = add_session(ctx, profile="university-admission")
    with ctx.db.begin() as db:
        db.get(ExamSession, ids.session_id).kind = SessionKind.TRIAL
    folder = ctx.settings.recordings_dir / ids.session_id
    (folder / "student-s1").mkdir(parents=True)
    (folder / "student-s1/video-00.webm").write_bytes(b"\x1a\x45\xdf\xa3" + b"v" * 4000)
    manifest = {"session_id": ids.session_id, "started_at": STARTED_AT, "ended_at": STARTED_AT}
    (folder / "manifest.json").write_text(json.dumps({**manifest, "files": [], "gaps": []}))
    return ids.session_id, folder


def with_archive(app_context: AppContext, endpoint: str, bucket: str) -> AppContext:
    settings = app_context.settings.model_copy(
        update={"archive": archive_settings(endpoint, bucket)}
    )
    return dataclasses.replace(app_context, settings=settings)


def no_models():
    raise AssertionError("a trial call loads no model")


async def test_the_folder_is_archived_last_and_verified(app_context, s3_endpoint: str) -> None:
    bucket = f"exams-{uuid.uuid4().hex[:8]}"
    ctx = with_archive(app_context, s3_endpoint, bucket)
    store = ObjectStore(ctx.settings.archive)
    store.client.create_bucket(Bucket=bucket)
    session_id, folder = trial_session(ctx)

    result = await SessionHandOver(ctx, audio_models=no_models, transcriber=None)(session_id)

    assert [(s.name, s.ok) for s in result.steps] == [
        ("recording", True),
        ("report", True),
        ("archive", True),
    ]
    assert "all verified" in result.step("archive").detail
    progress = json.loads((folder / HANDOVER_FILE).read_text())
    assert progress["complete"] is True and progress["progress"]["of"] == 3
    assert archive_verified(folder)
    key = f"sessions/{session_id}/report/report.html"
    assert store.head(key) is not None  # the report too, not only the recordings


async def test_a_store_that_is_down_fails_the_step_in_words_and_it_runs_again_at_start(
    app_context, s3_endpoint: str
) -> None:
    down = with_archive(app_context, f"http://127.0.0.1:{free_port()}", "exams")
    session_id, folder = trial_session(down)

    result = await SessionHandOver(down, audio_models=no_models, transcriber=None)(session_id)

    archive = result.step("archive")
    assert archive is not None and not archive.ok
    assert "cannot be reached" in archive.detail
    assert (folder / "student-s1/video-00.webm").is_file()  # the local copy stays
    assert json.loads((folder / HANDOVER_FILE).read_text())["complete"] is True
    assert archive_pending(folder)

    # the store is back (and the bucket exists): the next start archives it
    bucket = f"exams-{uuid.uuid4().hex[:8]}"
    up = with_archive(app_context, s3_endpoint, bucket)
    ObjectStore(up.settings.archive).client.create_bucket(Bucket=bucket)
    hand_over = SessionHandOver(up, audio_models=no_models, transcriber=None)
    manager = SimpleNamespace(is_joined=lambda sid: False)
    with up.db.begin() as db:  # over by its slot: nothing left to hand over but the archive
        db.get(ExamSession, session_id).ends_at = dt.datetime.now(dt.UTC)
    await resume_hand_overs(up, manager, delay_s=0, retry_archive=hand_over.retry_archive)

    steps = json.loads((folder / HANDOVER_FILE).read_text())["steps"]
    assert [(s["name"], s["ok"]) for s in steps if s["name"] == "archive"] == [("archive", True)]
    assert not archive_pending(folder) and archive_verified(folder)


async def test_no_bucket_no_archive_step(app_context) -> None:
    session_id, folder = trial_session(app_context)
    result = await SessionHandOver(app_context, audio_models=no_models, transcriber=None)(
        session_id
    )
    assert [s.name for s in result.steps] == ["recording", "report"]
    assert not (folder / "archive.json").exists()
