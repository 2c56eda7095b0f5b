"""A finished session's folder copied to the S3 store, every object checked by its hash.

``archive_session(folder, store)`` hashes each file of the folder (recordings, analysis
WAVs, composite, report, manifest, events, evidence), uploads what the store lacks or
holds different (a rerun after a crash or a failure uploads only that), verifies every
object (its stored SHA-256 and size; small ones read back and hashed), and writes
``archive.json`` — the list, the hashes and whether all of it is verified — locally and to
the store, last, so a store holding ``archive.json`` holds everything it names.

A recorded file whose bytes no longer match the hash the recorder wrote in
``manifest.json`` is damaged locally: it is not uploaded over the good copy, and the
archive is not verified. ``archive_verified(folder)`` is what retention asks before it
deletes a local copy.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from proctorbot.storage.object_store import ObjectStore, ObjectStoreError
from proctorbot.storage.session_folder import ARCHIVE_FILE, HANDOVER_FILE, MANIFEST_FILE

# handover.json changes after the archive step (it records that step); archive.json is
# written by it
NOT_ARCHIVED = frozenset({HANDOVER_FILE, ARCHIVE_FILE})


@dataclass
class ArchivedFile:
    path: str  # relative to the session folder, "/"-separated
    size: int
    sha256: str
    uploaded: bool = False  # by this run
    verified: bool = False
    problem: str = ""


@dataclass
class ArchiveResult:
    session_id: str
    bucket: str
    prefix: str  # the objects' common key prefix, ending in "/"
    files: list[ArchivedFile] = field(default_factory=list)
    archived_at: str = ""

    @property
    def verified(self) -> bool:
        return all(f.verified for f in self.files)

    @property
    def uploaded(self) -> int:
        return sum(f.uploaded for f in self.files)

    @property
    def problems(self) -> list[str]:
        return [f"{f.path}: {f.problem}" for f in self.files if f.problem]

    def summary(self) -> str:
        """One line for handover.json: how many files, uploaded now, verified or why not."""
        size_mb = sum(f.size for f in self.files) / 1e6
        line = f"{len(self.files)} files, {size_mb:.1f} MB, {self.uploaded} uploaded"
        if self.verified:
            return f"{line}, all verified in s3://{self.bucket}/{self.prefix}"
        return f"{line}; not verified: " + "; ".join(self.problems[:5])

    def to_json(self) -> dict:
        return {
            "session_id": self.session_id,
            "bucket": self.bucket,
            "prefix": self.prefix,
            "archived_at": self.archived_at,
            "verified": self.verified,
            "files": [asdict(f) for f in self.files],
        }


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def folder_files(folder: Path) -> list[Path]:
    """The files to archive, in a stable order (temporary files left out)."""
    found = []
    for path in folder.rglob("*"):
        relative = path.relative_to(folder).as_posix()
        if not path.is_file() or path.is_symlink() or relative in NOT_ARCHIVED:
            continue
        if path.name.endswith(".tmp"):
            continue
        found.append(path)
    return sorted(found)


def recorded_hashes(folder: Path) -> dict[str, str]:
    """The SHA-256 the recorder wrote in manifest.json for each of its files."""
    try:
        manifest = json.loads((folder / MANIFEST_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return {f["path"]: f["sha256"] for f in manifest.get("files", []) if f.get("sha256")}


def _verify(store: ObjectStore, key: str, entry: ArchivedFile) -> None:
    stored = store.head(key)
    if stored is None:
        entry.problem = "missing in the store"
    elif stored.sha256 != entry.sha256 or stored.size != entry.size:
        entry.problem = "the stored copy differs from the local file"
    elif entry.size <= store.settings.verify_download_mb * 1024 * 1024:
        if hashlib.sha256(store.read(key)).hexdigest() != entry.sha256:
            entry.problem = "the stored bytes do not match their SHA-256"
    entry.verified = not entry.problem


def archive_session(
    folder: Path, store: ObjectStore, session_id: str | None = None
) -> ArchiveResult:
    """Upload what is missing or different, verify everything, write ``archive.json``.

    Raises ``ObjectStoreError`` (in words) when the store cannot be used at all; a file
    that fails its checks is a ``problem`` in the result (and in archive.json)."""
    session_id = session_id or folder.name
    prefix = f"{store.settings.s3_prefix.strip('/')}/{session_id}/".lstrip("/")
    result = ArchiveResult(session_id, store.settings.s3_bucket, prefix)
    recorded = recorded_hashes(folder)
    for path in folder_files(folder):
        relative = path.relative_to(folder).as_posix()
        entry = ArchivedFile(relative, path.stat().st_size, sha256_file(path))
        result.files.append(entry)
        key = prefix + relative
        if relative in recorded and recorded[relative] != entry.sha256:
            entry.problem = (
                "the local file no longer matches its hash in manifest.json (damaged); "
                "the stored copy, if any, is kept"
            )
            continue
        stored = store.head(key)
        if stored is None or stored.sha256 != entry.sha256 or stored.size != entry.size:
            store.upload(path, key, entry.sha256)
            entry.uploaded = True
        _verify(store, key, entry)
    result.archived_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    note = folder / ARCHIVE_FILE
    temporary = note.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(result.to_json(), indent=1), "utf-8")
    temporary.replace(note)
    store.upload(note, prefix + ARCHIVE_FILE, sha256_file(note))  # last: names all the rest
    return result


def archive_verified(folder: Path) -> bool:
    """True when ``archive.json`` says the store holds every file of the folder, verified."""
    try:
        data = json.loads((folder / ARCHIVE_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return False
    files = data.get("files") or []
    return bool(data.get("verified")) and bool(files) and all(f.get("verified") for f in files)


__all__ = [
    "ArchiveResult",
    "ArchivedFile",
    "ObjectStoreError",
    "archive_session",
    "archive_verified",
    "folder_files",
]
