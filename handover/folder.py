"""A finished session's folder as the hand-over reads and writes it: the analysis
tracks the manifest names, the folder put in order after a crash, ``handover.json``."""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proctorbot.storage.session_folder import HANDOVER_FILE, MANIFEST_FILE


@dataclass(frozen=True)
class AnalysisTrack:
    """One participant's 16 kHz analysis WAV and where it sits in the session."""

    participant: str
    role: str
    path: Path
    offset: float  # seconds from the session start (the manifest's origin)


def analysis_tracks(session_dir: Path) -> list[AnalysisTrack]:
    """The analysis WAVs the manifest names, in time order."""
    from proctorbot.recording.manifest import read_manifest

    manifest = read_manifest(session_dir)
    tracks = [
        AnalysisTrack(
            f.participant, f.role, session_dir / f.path, f.started_at - manifest.started_at
        )
        for f in manifest.files
        if f.kind == "analysis" and (session_dir / f.path).is_file()
    ]
    return sorted(tracks, key=lambda t: (t.offset, t.participant))


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # one temporary name per thread: two steps running side by side may write the same file
    temporary = path.with_suffix(f"{path.suffix}.{threading.get_ident()}.tmp")
    temporary.write_text(json.dumps(data, ensure_ascii=False, indent=1, default=float), "utf-8")
    temporary.replace(path)


def close_folder(folder: Path, session_id: str) -> float | None:
    """The wall-clock end of a session folder's recording (None: nothing was recorded).

    A folder a killed bot or a stopped server left unfinished (no ``ended_at``) is put in
    order first, as ``proctorbot recording finalize`` does."""
    from proctorbot.recording.manifest import read_manifest
    from proctorbot.recording.session_recorder import finalize_folder

    if not (folder / MANIFEST_FILE).is_file():
        return None
    manifest = read_manifest(folder)
    if manifest.ended_at is None:
        manifest = finalize_folder(folder, session_id)
        if manifest.ended_at is None:
            from proctorbot.recording.manifest import write_manifest

            ends = [f.started_at + f.duration for f in manifest.files]
            manifest.ended_at = round(max(ends, default=manifest.started_at), 3)
            write_manifest(folder, manifest)
    return float(manifest.ended_at)


def handover_complete(folder: Path) -> bool:
    """True when ``handover.json`` says every step ran."""
    try:
        return bool(json.loads((folder / HANDOVER_FILE).read_text("utf-8")).get("complete"))
    except (OSError, ValueError):
        return False


def replace_step(path: Path, outcome: dict[str, Any]) -> None:
    """``handover.json`` with one step's outcome replaced (a step run again on its own)."""
    data = json.loads(path.read_text("utf-8"))
    steps = [s for s in data.get("steps", []) if s.get("name") != outcome["name"]]
    data["steps"] = [*steps, outcome]
    write_json(path, data)


def archive_pending(folder: Path) -> bool:
    """True when the hand-over completed but its ``archive`` step failed."""
    try:
        data = json.loads((folder / HANDOVER_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return False
    archive = [s for s in data.get("steps", []) if s.get("name") == "archive"]
    return bool(data.get("complete")) and bool(archive) and not archive[-1].get("ok")


def archives_to_retry(recordings_dir: Path) -> list[str]:
    """Session folders whose archive failed, oldest first."""
    if not recordings_dir.is_dir():
        return []
    folders = [p for p in recordings_dir.iterdir() if p.is_dir() and archive_pending(p)]
    return [p.name for p in sorted(folders, key=lambda p: p.stat().st_mtime)]


def unfinished_sessions(ctx: Any, now: dt.datetime | None = None) -> list[str]:
    """Sessions with a recording whose hand-over never completed: over (by their slot or
    their status) and not being recorded. Oldest first. (``ctx``: proctorbot.context.AppContext)"""
    from proctorbot.storage.models import ExamSession, SessionStatus
    from sqlalchemy import or_, select

    now = now or dt.datetime.now(dt.UTC)
    with ctx.db() as db:
        rows = db.execute(
            select(ExamSession.id)
            .where(ExamSession.status != SessionStatus.CANCELLED)
            .where(or_(ExamSession.ends_at <= now, ExamSession.status == SessionStatus.FINISHED))
            .order_by(ExamSession.ends_at)
        ).all()
    folders = ctx.settings.recordings_dir
    return [
        sid
        for (sid,) in rows
        if (folders / sid / MANIFEST_FILE).is_file() and not handover_complete(folders / sid)
    ]
