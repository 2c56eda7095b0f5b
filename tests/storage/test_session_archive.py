"""A finished session's folder to an S3 store (``moto_server`` on loopback), hashes checked.

The store is a real S3 API server in a subprocess (moto[server]) on a free loopback port;
the tests run in a loopback-only namespace, so nothing leaves the machine.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from pathlib import Path

import pytest

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server")

from proctorbot.storage.object_store import ObjectStore, ObjectStoreError  # noqa: E402
from proctorbot.storage.session_archive import (  # noqa: E402
    archive_session,
    archive_verified,
)
from proctorbot.storage.session_folder import ARCHIVE_FILE  # noqa: E402

from tests.storage.s3_server import archive_settings, free_port  # noqa: E402

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def store(s3_endpoint: str) -> ObjectStore:
    bucket = f"exams-{uuid.uuid4().hex[:8]}"
    store = ObjectStore(archive_settings(s3_endpoint, bucket, multipart_mb=5))
    store.client.create_bucket(Bucket=bucket)
    return store


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_folder(folder: Path) -> dict[str, bytes]:
    """A small finished session: two recordings (one over the multipart size), an analysis
    WAV, events, evidence, a report and a manifest with the recorder's hashes."""
    files = {
        "student-s1/video-00.webm": b"\x1a\x45\xdf\xa3" + bytes(range(256)) * 24_000,  # 6 MB
        "student-s1/audio-00.ogg": b"OggS" + b"\x01" * 5000,
        "student-s1/analysis.wav": b"RIFF" + b"\x00" * 3200,
        "events.jsonl": b'{"kind": "second_voice", "start": 1.0}\n',
        "evidence/face-000m05s.jpg": b"\xff\xd8\xff" + b"\x07" * 900,
        "report/report.html": b"<html>report</html>",
    }
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    manifest = {
        "session_id": folder.name,
        "started_at": 1_780_000_000.0,
        "ended_at": 1_780_000_060.0,
        "files": [
            {"path": name, "kind": "video", "sha256": _sha(data), "size_bytes": len(data)}
            for name, data in files.items()
            if name.startswith("student-s1/")
        ],
        "gaps": [],
    }
    data = json.dumps(manifest).encode()
    (folder / "manifest.json").write_bytes(data)
    (folder / "handover.json").write_text("{}")  # changes after the archive: never stored
    return {**files, "manifest.json": data}


def stored(store: ObjectStore, prefix: str) -> dict[str, dict]:
    client, bucket = store.client, store.settings.s3_bucket
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            head = client.head_object(Bucket=bucket, Key=item["Key"])
            body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            found[item["Key"][len(prefix) :]] = {"meta": head["Metadata"], "body": body}
    return found


def test_every_file_is_stored_with_its_sha256_and_a_rerun_uploads_nothing(
    tmp_path: Path, store: ObjectStore
) -> None:
    folder = tmp_path / "sess-1"
    files = make_folder(folder)
    began = time.monotonic()
    result = archive_session(folder, store)
    assert result.verified, result.problems
    assert result.uploaded == len(files)
    objects = stored(store, "sessions/sess-1/")
    assert set(objects) == {*files, ARCHIVE_FILE}  # handover.json left out
    for name, data in files.items():
        assert objects[name]["body"] == data
        assert objects[name]["meta"]["sha256"] == _sha(data)
    note = json.loads((folder / ARCHIVE_FILE).read_text())
    assert (
        note["verified"] is True
        and objects[ARCHIVE_FILE]["body"] == (folder / ARCHIVE_FILE).read_bytes()
    )
    assert {f["path"]: f["sha256"] for f in note["files"]} == {n: _sha(d) for n, d in files.items()}
    assert archive_verified(folder)
    big = store.client.head_object(
        Bucket=store.settings.s3_bucket, Key="sessions/sess-1/student-s1/video-00.webm"
    )
    assert big["ETag"].strip('"').endswith("-2")  # went up in two parts

    again = archive_session(folder, store)
    assert again.verified and again.uploaded == 0
    # a document rewritten since (the report built again) goes up alone
    (folder / "report/report.html").write_bytes(b"<html>report, final</html>")
    third = archive_session(folder, store)
    assert third.verified and [f.path for f in third.files if f.uploaded] == ["report/report.html"]
    assert time.monotonic() - began < 20


def test_a_rerun_after_a_crash_uploads_only_what_is_missing(
    tmp_path: Path, store: ObjectStore
) -> None:
    folder = tmp_path / "sess-2"
    files = make_folder(folder)
    archive_session(folder, store)
    # as if the first run had stopped half-way: two objects and the archive.json never made it
    for name in ("events.jsonl", "student-s1/video-00.webm", ARCHIVE_FILE):
        store.client.delete_object(Bucket=store.settings.s3_bucket, Key=f"sessions/sess-2/{name}")
    result = archive_session(folder, store)
    assert result.verified
    assert sorted(f.path for f in result.files if f.uploaded) == [
        "events.jsonl",
        "student-s1/video-00.webm",
    ]
    assert set(stored(store, "sessions/sess-2/")) == {*files, ARCHIVE_FILE}


def test_a_recording_damaged_after_the_upload_is_found_and_the_good_copy_kept(
    tmp_path: Path, store: ObjectStore
) -> None:
    folder = tmp_path / "sess-3"
    files = make_folder(folder)
    assert archive_session(folder, store).verified
    damaged = bytearray(files["student-s1/audio-00.ogg"])
    damaged[100] ^= 0xFF
    (folder / "student-s1/audio-00.ogg").write_bytes(bytes(damaged))

    result = archive_session(folder, store)
    assert not result.verified
    assert result.problems == [
        "student-s1/audio-00.ogg: the local file no longer matches its hash in manifest.json "
        "(damaged); the stored copy, if any, is kept"
    ]
    assert not archive_verified(folder)
    kept = stored(store, "sessions/sess-3/")["student-s1/audio-00.ogg"]
    assert kept["body"] == files["student-s1/audio-00.ogg"]


def test_a_stored_object_that_differs_is_found_by_verification(
    tmp_path: Path, store: ObjectStore
) -> None:
    """Verification reads small objects back: bytes changed in the store under the same
    metadata are caught (and uploaded again by the next run: the local copy is good)."""
    folder = tmp_path / "sess-4"
    files = make_folder(folder)
    archive_session(folder, store)
    key = "sessions/sess-4/events.jsonl"
    store.client.put_object(
        Bucket=store.settings.s3_bucket,
        Key=key,
        Body=b"X" * len(files["events.jsonl"]),
        Metadata={"sha256": _sha(files["events.jsonl"])},
    )
    from proctorbot.storage.session_archive import ArchivedFile, _verify

    entry = ArchivedFile("events.jsonl", len(files["events.jsonl"]), _sha(files["events.jsonl"]))
    _verify(store, key, entry)
    assert not entry.verified and "do not match" in entry.problem


def test_an_unreachable_store_or_refused_credentials_are_said_in_words(
    tmp_path: Path, s3_endpoint: str
) -> None:
    folder = tmp_path / "sess-5"
    make_folder(folder)
    down = ObjectStore(archive_settings(f"http://127.0.0.1:{free_port()}", "exams"))
    began = time.monotonic()
    with pytest.raises(ObjectStoreError, match="cannot be reached"):
        archive_session(folder, down)
    assert time.monotonic() - began < 15
    missing = ObjectStore(archive_settings(s3_endpoint, "no-such-bucket"))
    with pytest.raises(ObjectStoreError, match="does not exist|refused"):
        archive_session(folder, missing)
    assert not archive_verified(folder)
    assert (folder / "student-s1/video-00.webm").is_file()  # the local copy stays
