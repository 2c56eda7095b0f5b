"""Janus's own recording of a session, added to its folder after the session.

A VideoRoom made with ``record: true`` (conference/janus/placement.py) writes every
published track as ``.mjr`` (raw RTP) into ``<record_dir>/<session_id>``, named
``videoroom-<room>-user-<feed>-<microseconds>-<audio|video>-<mid>.mjr``. After the
session ``add_janus_recordings`` converts each with ``janus-pp-rec`` — VP8 to ``.webm``,
Opus to ``.opus`` — into ``janus/`` of the session folder and lists them in
``manifest.json`` beside the bot's files, as kinds ``janus_video`` / ``janus_audio``
(nothing that reads the bot's ``video`` / ``audio`` sees them twice), hashed like them.
The feed's participant comes from the owner file the bot wrote when it subscribed
(``janus/feeds/<room>-<feed>.json``, bot/janus_media.py); a feed nobody named stays
``janus-feed-<feed>``.

``manifest.record_of_truth["<participant>:<kind>"]`` says which copy is authoritative:
``janus`` when the bot has no file of that track, one it could not finish, a gap that
is the recording's fault (``bot_down``, ``disk_full``) for that participant, or clearly
less of it than Janus (``SHORTER_BY_S`` and 5 %); ``bot`` otherwise. A bot crash then
loses nothing: Janus kept recording. A participant only Janus saw is added to
``participants``. Running it again converts only what is not listed yet. Blocking:
call it in a thread.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proctorbot.recording.manifest import (
    RECORDING_FAULT_REASONS,
    Manifest,
    ParticipantEntry,
    RecordedFile,
    read_manifest,
    sha256_of,
    write_manifest,
)
from proctorbot.storage.session_folder import JANUS_DIR, JANUS_FEEDS_DIR

logger = logging.getLogger(__name__)

JANUS_PP_REC = "janus-pp-rec"
CONVERT_TIMEOUT_S = 600.0
SHORTER_BY_S = 2.0
KINDS = {"video": ("janus_video", ".webm", "vp8"), "audio": ("janus_audio", ".opus", "opus")}
MJR_NAME = re.compile(
    r"^videoroom-(?P<room>\d+)-user-(?P<feed>\d+)-(?P<started>\d+)-(?P<kind>audio|video)"
    r"(?:-(?P<mid>\d+))?\.mjr$"
)


class JanusRecordingError(Exception):
    """janus-pp-rec is missing or could not convert a file."""


@dataclass(frozen=True)
class JanusTrackFile:
    """One ``.mjr`` of a VideoRoom: whose feed, which kind, when it started."""

    path: Path
    room: int
    feed: int
    kind: str  # audio | video
    started_at: float  # wall clock, seconds


def parse_mjr_name(path: Path) -> JanusTrackFile | None:
    match = MJR_NAME.match(path.name)
    if match is None:
        return None
    return JanusTrackFile(
        path=path,
        room=int(match["room"]),
        feed=int(match["feed"]),
        kind=match["kind"],
        started_at=int(match["started"]) / 1_000_000,
    )


def convert_mjr(source: Path, target: Path, *, pp_rec: str = JANUS_PP_REC) -> None:
    """``janus-pp-rec source.mjr target.webm|.opus``; JanusRecordingError with its words."""
    if shutil.which(pp_rec) is None:
        raise JanusRecordingError(f"{pp_rec} is not installed (apt-get install janus-tools)")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(  # noqa: S603
            [pp_rec, str(source), str(target)],
            capture_output=True,
            text=True,
            timeout=CONVERT_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        raise JanusRecordingError(f"{pp_rec} took over {CONVERT_TIMEOUT_S:.0f} s") from exc
    if done.returncode != 0 or not target.is_file() or target.stat().st_size == 0:
        target.unlink(missing_ok=True)
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise JanusRecordingError(
            f"{pp_rec} could not convert {source.name} (exit {done.returncode}): "
            + " / ".join(tail)
        )


def media_duration(path: Path) -> float:
    """Seconds of a media file (ffprobe), 0.0 when it cannot be read."""
    try:
        done = subprocess.run(  # noqa: S603
            [
                "ffprobe",
                "-v",
                "error",
                "-show_entries",
                "format=duration",
                "-of",
                "json",
                str(path),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        return float(json.loads(done.stdout)["format"]["duration"])
    except (OSError, ValueError, KeyError, subprocess.TimeoutExpired):
        return 0.0


def feed_owners(session_dir: Path) -> dict[tuple[int, int], dict[str, Any]]:
    """(room, feed) -> the owner the bot wrote (participant, role, name, person_id)."""
    owners: dict[tuple[int, int], dict[str, Any]] = {}
    folder = session_dir / JANUS_FEEDS_DIR
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            owner = json.loads(path.read_text())
            owners[(int(owner["room"]), int(owner["feed"]))] = owner
        except (OSError, ValueError, KeyError, TypeError):
            logger.warning("unreadable Janus feed owner %s", path)
    return owners


def truth_of(manifest: Manifest, participant: str, kind: str) -> str:
    """``bot`` or ``janus`` for one track (see the module doc)."""
    janus_kind = KINDS[kind][0]
    bot_files = [f for f in manifest.files if f.participant == participant and f.kind == kind]
    janus_files = [
        f for f in manifest.files if f.participant == participant and f.kind == janus_kind
    ]
    if not janus_files:
        return "bot"
    if not bot_files or not all(f.complete for f in bot_files):
        return "janus"
    if any(
        gap.participant == participant and gap.reason in RECORDING_FAULT_REASONS
        for gap in manifest.gaps
    ):
        return "janus"
    bot_time = sum(f.duration for f in bot_files)
    janus_time = sum(f.duration for f in janus_files)
    if bot_time < janus_time - max(SHORTER_BY_S, 0.05 * janus_time):
        return "janus"
    return "bot"


def add_janus_recordings(
    session_dir: Path, rec_dir: Path, *, pp_rec: str = JANUS_PP_REC
) -> Manifest:
    """Convert the session's ``.mjr`` files, list them and say the record of truth."""
    manifest = read_manifest(session_dir)
    listed = {f.path for f in manifest.files}
    owners = feed_owners(session_dir)
    known = {p.participant for p in manifest.participants}
    tracks = sorted(
        (t for t in map(parse_mjr_name, sorted(rec_dir.glob("*.mjr"))) if t is not None),
        key=lambda t: (t.started_at, t.path.name),
    )
    if not tracks:
        logger.info("session %s: no Janus recording in %s", manifest.session_id, rec_dir)
    for track in tracks:
        janus_kind, extension, codec = KINDS[track.kind]
        relative = f"{JANUS_DIR}/{track.path.stem}{extension}"
        if relative in listed:
            continue
        owner = owners.get((track.room, track.feed), {})
        participant = str(owner.get("participant") or f"janus-feed-{track.feed}")
        role = str(owner.get("role") or "")
        target = session_dir / relative
        try:
            convert_mjr(track.path, target, pp_rec=pp_rec)
        except JanusRecordingError as exc:
            manifest.errors.append(f"Janus recording {track.path.name}: {exc}")
            logger.warning("session %s: %s", manifest.session_id, exc)
            continue
        manifest.files.append(
            RecordedFile(
                path=relative,
                kind=janus_kind,
                codec=codec,
                participant=participant,
                role=role,
                started_at=track.started_at,
                duration=round(media_duration(target), 3),
                sha256=sha256_of(target),
                size_bytes=target.stat().st_size,
            )
        )
        listed.add(relative)
        if participant not in known:
            manifest.participants.append(
                ParticipantEntry(
                    participant=participant,
                    role=role,
                    name=str(owner.get("name") or ""),
                    person_id=str(owner.get("person_id") or ""),
                    joined_at=track.started_at,
                )
            )
            known.add(participant)
    for participant in sorted({f.participant for f in manifest.files}):
        for kind in KINDS:
            kinds = {kind, KINDS[kind][0]}
            if any(f.participant == participant and f.kind in kinds for f in manifest.files):
                manifest.record_of_truth[f"{participant}:{kind}"] = truth_of(
                    manifest, participant, kind
                )
    write_manifest(session_dir, manifest)
    return manifest
