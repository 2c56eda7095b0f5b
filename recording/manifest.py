"""What a session folder holds: every file with its hash, start, duration, codec, owner.

``manifest.json`` is rewritten atomically (temporary file + rename) each time a
segment closes and once more when the session ends, so even after a crash it
names every closed segment with its SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from proctorbot.storage.session_folder import MANIFEST_FILE


@dataclass
class RecordedFile:
    path: str  # relative to the session folder
    kind: str  # video | audio | analysis | composite | janus_video | janus_audio
    codec: str
    participant: str
    role: str
    started_at: float  # wall clock, seconds since the epoch
    duration: float  # seconds
    frames: int = 0
    width: int = 0
    height: int = 0
    sha256: str = ""
    size_bytes: int = 0
    complete: bool = True  # False: the writer stopped on an error (e.g. a full disk)


# Gaps that are the recording's fault, not the participant's: no bot was recording
# (killed, restarting) or the disk was full. The report never counts them as absence.
RECORDING_FAULT_REASONS = frozenset({"bot_down", "disk_full"})


@dataclass
class Gap:
    """A time with no media from a participant who was in the session before and after."""

    participant: str
    start: float  # wall clock
    end: float | None  # None while the gap is still open
    # left | media_timeout | connection_failed ... | bot_down | disk_full
    reason: str

    @property
    def duration(self) -> float | None:
        return None if self.end is None else max(0.0, self.end - self.start)


@dataclass
class ParticipantEntry:
    participant: str
    role: str
    name: str
    person_id: str
    joined_at: float
    left_at: float | None = None


@dataclass
class Manifest:
    session_id: str
    started_at: float
    ended_at: float | None = None
    participants: list[ParticipantEntry] = field(default_factory=list)
    files: list[RecordedFile] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # Janus mode: which copy of each track is authoritative, "<participant>:<kind>" ->
    # "bot" (the bot's segments) or "janus" (Janus's own recording, kinds janus_video /
    # janus_audio: the bot had a gap of its own or missed the track). Empty in a mesh.
    record_of_truth: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for gap, raw in zip(self.gaps, data["gaps"], strict=True):
            raw["duration"] = gap.duration
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        return cls(
            session_id=data["session_id"],
            started_at=float(data["started_at"]),
            ended_at=data.get("ended_at"),
            participants=[ParticipantEntry(**p) for p in data.get("participants", [])],
            files=[RecordedFile(**f) for f in data.get("files", [])],
            gaps=[
                Gap(**{k: v for k, v in g.items() if k != "duration"}) for g in data.get("gaps", [])
            ],
            errors=list(data.get("errors", [])),
            record_of_truth=dict(data.get("record_of_truth", {})),
        )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(session_dir: Path, manifest: Manifest) -> Path:
    """Atomically: the old file stays whole until the new one is; a write that fails (a
    full disk) leaves no temporary file behind and raises ``OSError``."""
    target = session_dir / MANIFEST_FILE
    temporary = target.with_suffix(".json.tmp")
    try:
        temporary.write_text(json.dumps(manifest.to_json(), indent=2, ensure_ascii=False))
        os.replace(temporary, target)
    except OSError:
        temporary.unlink(missing_ok=True)
        raise
    return target


def read_manifest(session_dir: Path) -> Manifest:
    return Manifest.from_json(json.loads((session_dir / MANIFEST_FILE).read_text()))
