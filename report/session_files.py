"""Reading a session folder for the report, tolerating whatever is damaged or absent.

Nothing here raises on bad content: a broken line of ``events.jsonl``, a missing or
unreadable recording, a missing evidence file each become a ``Problem`` that the
report shows, and everything that can be read is still used.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proctorbot.detection.events import DetectorEvent
from proctorbot.storage.session_folder import (
    CHECKLIST_FILE,
    EVENTS_FILE,
    MANIFEST_FILE,
    SCREEN_SNAPSHOTS_DIR,
)

MEDIA_SUFFIXES = (".webm", ".ogg", ".opus", ".mkv", ".mp4", ".wav", ".ivf", ".m4a")


@dataclass(frozen=True)
class Problem:
    """Something the report could not use; ``key`` is a catalogue key under report.problem."""

    key: str
    path: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Participant:
    participant: str
    role: str
    name: str
    person_id: str = ""
    joined_at: float | None = None  # seconds from the session start
    left_at: float | None = None


@dataclass(frozen=True)
class MediaFile:
    path: str  # relative to the session folder
    kind: str  # video | audio | analysis | composite
    participant: str
    role: str
    offset: float  # seconds from the session start
    duration: float
    status: str = "ok"  # ok | missing | damaged | incomplete
    detail: str = ""

    @property
    def playable(self) -> bool:
        return self.status in ("ok", "incomplete")


@dataclass(frozen=True)
class TranscriptLine:
    start: float
    end: float
    speaker: str
    text: str


@dataclass(frozen=True)
class ScreenSnapshot:
    """One picture of the shared screen (``SCREEN_SNAPSHOTS_DIR``)."""

    path: str  # relative to the session folder
    track: str  # the screen's source, ``<role>-<id>-screen``
    t: float  # seconds from the recording start


# ``<track>-MMMmSSs.jpg`` as bot/live_sources.py names them.
SNAPSHOT_NAME = re.compile(r"^(?P<track>.+)-(?P<minutes>\d{3,})m(?P<seconds>\d{2})s\.jpe?g$")


@dataclass
class SessionFolder:
    path: Path
    session_id: str
    started_at: float | None = None  # wall clock of the session start, if known
    duration: float = 0.0
    participants: list[Participant] = field(default_factory=list)
    media: list[MediaFile] = field(default_factory=list)
    gaps: list[dict[str, Any]] = field(default_factory=list)
    events: list[DetectorEvent] = field(default_factory=list)
    checklist: dict[str, Any] | None = None
    transcript: list[TranscriptLine] = field(default_factory=list)
    screen_snapshots: list[ScreenSnapshot] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    purged: set[str] = field(default_factory=set)  # deleted on purpose by retention

    def name_of(self, participant: str) -> str:
        for person in self.participants:
            if person.participant == participant:
                return person.name or person.participant
        return participant

    def role_of(self, participant: str) -> str:
        for person in self.participants:
            if person.participant == participant:
                return person.role
        return ""

    def evidence_exists(self, relative: str) -> bool:
        return _inside(self.path, relative) is not None and (self.path / relative).is_file()


def _inside(root: Path, relative: str) -> Path | None:
    """The path under root, or None when it would escape the folder."""
    try:
        target = (root / relative).resolve()
        target.relative_to(root.resolve())
    except (ValueError, OSError):
        return None
    return target


def read_session_folder(path: Path, *, probe: bool = True) -> SessionFolder:
    """Everything the report needs from ``<recordings>/<session_id>/``."""
    folder = SessionFolder(path=path, session_id=path.name)
    if not path.is_dir():
        folder.problems.append(Problem("folder_missing", str(path)))
        return folder
    _read_retention_note(folder)
    _read_manifest(folder, probe=probe)
    _read_events(folder)
    _read_checklist(folder)
    _read_transcript(folder)
    _read_screen_snapshots(folder)
    ends = [m.offset + m.duration for m in folder.media] + [e.end for e in folder.events]
    ends += [line.end for line in folder.transcript]
    folder.duration = max([folder.duration, *ends, 1.0])
    for event in folder.events:
        for evidence in event.evidence:
            if evidence not in folder.purged and not folder.evidence_exists(evidence):
                folder.problems.append(Problem("evidence_missing", evidence))
    return folder


def _read_retention_note(folder: SessionFolder) -> None:
    """Files deleted after the retention period are gone on purpose: one line, not many."""
    note = _load_json(folder, "retention.json")
    if isinstance(note, dict):
        folder.purged = {str(p) for p in note.get("deleted", [])}
        folder.problems.append(Problem("purged", "", str(note.get("purged_at", ""))))


def _load_json(folder: SessionFolder, name: str) -> Any | None:
    target = folder.path / name
    if not target.exists():
        return None
    try:
        return json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        folder.problems.append(Problem("file_unreadable", name, str(exc)[:200]))
        return None


def _read_manifest(folder: SessionFolder, *, probe: bool) -> None:
    data = _load_json(folder, MANIFEST_FILE)
    if not isinstance(data, dict):
        if data is None and not (folder.path / MANIFEST_FILE).exists():
            folder.problems.append(Problem("manifest_missing", MANIFEST_FILE))
        _discover_media(folder, probe=probe)
        return
    folder.session_id = str(data.get("session_id") or folder.session_id)
    started = _number(data.get("started_at"))
    folder.started_at = started
    ended = _number(data.get("ended_at"))
    if started is not None and ended is not None:
        folder.duration = max(0.0, ended - started)

    def relative(value: Any) -> float | None:
        number = _number(value)
        if number is None:
            return None
        return number - started if started is not None else number

    for raw in data.get("participants", []) or []:
        if isinstance(raw, dict):
            folder.participants.append(
                Participant(
                    participant=str(raw.get("participant", "")),
                    role=str(raw.get("role", "")),
                    name=str(raw.get("name", "")),
                    person_id=str(raw.get("person_id", "") or ""),
                    joined_at=relative(raw.get("joined_at")),
                    left_at=relative(raw.get("left_at")),
                )
            )
    for raw in data.get("files", []) or []:
        if not isinstance(raw, dict) or not raw.get("path"):
            continue
        offset = relative(raw.get("started_at")) or 0.0
        media = MediaFile(
            path=str(raw["path"]),
            kind=str(raw.get("kind", "video")),
            participant=str(raw.get("participant", "")),
            role=str(raw.get("role", "")),
            offset=max(0.0, offset),
            duration=_number(raw.get("duration")) or 0.0,
        )
        folder.media.append(_check_media(folder, media, raw, probe=probe))
    for raw in data.get("gaps", []) or []:
        if isinstance(raw, dict):
            start = relative(raw.get("start"))
            if start is not None:
                end = relative(raw.get("end"))
                folder.gaps.append(
                    {
                        "participant": str(raw.get("participant", "")),
                        "start": start,
                        "end": end if end is not None else start,
                        "reason": str(raw.get("reason", "")),
                    }
                )
    for error in data.get("errors", []) or []:
        folder.problems.append(Problem("recorder_error", "", str(error)[:300]))


def _discover_media(folder: SessionFolder, *, probe: bool) -> None:
    """No usable manifest: list the media files lying in the folder."""
    for file in sorted(folder.path.iterdir()):
        if file.is_file() and file.suffix.lower() in MEDIA_SUFFIXES:
            kind = "audio" if file.suffix.lower() in (".ogg", ".opus", ".wav", ".m4a") else "video"
            media = MediaFile(
                path=file.name, kind=kind, participant=file.stem, role="", offset=0.0, duration=0.0
            )
            folder.media.append(_check_media(folder, media, {}, probe=probe))


def _check_media(
    folder: SessionFolder, media: MediaFile, raw: dict[str, Any], *, probe: bool
) -> MediaFile:
    from dataclasses import replace

    target = _inside(folder.path, media.path)
    if target is None or not target.is_file():
        if media.path in folder.purged:
            return replace(media, status="purged")
        folder.problems.append(Problem("recording_missing", media.path))
        return replace(media, status="missing")
    if probe:
        duration, error = probe_duration(target)
        if error:
            folder.problems.append(Problem("recording_damaged", media.path, error))
            return replace(media, status="damaged", detail=error)
        if not media.duration and duration:
            media = replace(media, duration=duration)
    if raw.get("complete") is False:
        folder.problems.append(Problem("recording_incomplete", media.path))
        return replace(media, status="incomplete")
    return media


def probe_duration(path: Path) -> tuple[float, str]:
    """(seconds, "") for a readable media file, (0, why) for a damaged one."""
    try:
        result = subprocess.run(
            [
                "ffprobe",
                "-v",
                "error",
                "-show_entries",
                "format=duration",
                "-of",
                "default=noprint_wrappers=1:nokey=1",
                str(path),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 0.0, f"ffprobe failed: {exc}"
    if result.returncode != 0:
        return 0.0, (result.stderr.strip().splitlines() or ["unreadable"])[-1][:200]
    try:
        return float(result.stdout.strip().splitlines()[0]), ""
    except (ValueError, IndexError):
        return 0.0, ""  # readable, duration unknown (a live WebM without a cue)


def _read_events(folder: SessionFolder) -> None:
    target = folder.path / EVENTS_FILE
    if not target.exists():
        return
    try:
        lines = target.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        folder.problems.append(Problem("file_unreadable", EVENTS_FILE, str(exc)))
        return
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            folder.events.append(DetectorEvent.from_json(json.loads(line)))
        except (ValueError, KeyError, TypeError) as exc:
            folder.problems.append(
                Problem("event_unreadable", f"events.jsonl:{number}", str(exc)[:200])
            )


def _read_checklist(folder: SessionFolder) -> None:
    data = _load_json(folder, CHECKLIST_FILE)
    if isinstance(data, dict):
        folder.checklist = data


def _read_transcript(folder: SessionFolder) -> None:
    """``transcript.json`` (a list or {"segments": [...]}) or ``transcript.jsonl``."""
    items: list[Any] = []
    data = _load_json(folder, "transcript.json")
    if isinstance(data, dict):
        items = list(data.get("segments") or data.get("lines") or [])
    elif isinstance(data, list):
        items = data
    elif (folder.path / "transcript.jsonl").exists():
        for line in (folder.path / "transcript.jsonl").read_text(errors="replace").splitlines():
            try:
                items.append(json.loads(line))
            except ValueError:
                continue
    for raw in items:
        if not isinstance(raw, dict):
            continue
        start, end = _number(raw.get("start")), _number(raw.get("end"))
        text = str(raw.get("text", "")).strip()
        if start is None or not text:
            continue
        speaker = str(raw.get("speaker") or raw.get("participant") or raw.get("track") or "")
        folder.transcript.append(
            TranscriptLine(start, end if end is not None else start, speaker, text)
        )
    folder.transcript.sort(key=lambda line: line.start)


def _read_screen_snapshots(folder: SessionFolder) -> None:
    """The screen's snapshots lying in the folder, in time order (a name the bot did not
    give is still listed, at 0:00, rather than hidden)."""
    directory = folder.path / SCREEN_SNAPSHOTS_DIR
    if not directory.is_dir():
        return
    for file in sorted(directory.iterdir()):
        if not file.is_file() or file.suffix.lower() not in (".jpg", ".jpeg"):
            continue
        match = SNAPSHOT_NAME.match(file.name)
        track, t = (file.stem, 0.0)
        if match:
            track = match["track"]
            t = int(match["minutes"]) * 60.0 + int(match["seconds"])
        path = f"{SCREEN_SNAPSHOTS_DIR}/{file.name}"
        folder.screen_snapshots.append(ScreenSnapshot(path, track, t))
    folder.screen_snapshots.sort(key=lambda snapshot: (snapshot.t, snapshot.path))


def _number(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def checklist_failures(
    checklist: dict[str, Any] | None, required: set[str] | None = None
) -> list[str]:
    """Step kinds whose final status is failed (only required ones, when given)."""
    if not checklist:
        return []
    failed = []
    for step in checklist.get("steps", []) or []:
        if isinstance(step, dict) and step.get("status") == "failed":
            kind = str(step.get("kind", ""))
            if required is None or kind in required:
                failed.append(kind)
    return failed
