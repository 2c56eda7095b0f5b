"""After the session: one grid video with the mixed audio of everyone (ffmpeg-python).

Each connection of a participant (a "run" of consecutive segments) is joined with
ffmpeg's concat demuxer, shifted to its wall-clock offset and overlaid on that
participant's black cell, so gaps stay black/silent and everything stays in sync.

The composite never runs longer than the session did on the wall clock (from the
first file's start to ``ended_at``, or the newest file's modification time): a
segment that claims a wrong duration cannot keep ffmpeg busy for minutes.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import ffmpeg
from proctorbot.recording.manifest import Manifest, RecordedFile, sha256_of, write_manifest

logger = logging.getLogger(__name__)

COMPOSITE_NAME = "composite.mp4"
CELL = (480, 360)
FPS = 15


@dataclass
class Run:
    participant: str
    kind: str
    started_at: float
    duration: float
    files: list[RecordedFile]


def _runs(files: list[RecordedFile]) -> list[Run]:
    groups: dict[tuple[str, str], list[RecordedFile]] = defaultdict(list)
    for record in files:
        if record.kind not in ("video", "audio") or record.frames == 0:
            continue
        stem = re.sub(r"-\d{4}\.\w+$", "", Path(record.path).name)
        groups[(record.participant, stem)].append(record)
    runs = []
    for (participant, _), records in groups.items():
        records.sort(key=lambda r: r.path)
        end = max(r.started_at + r.duration for r in records)
        runs.append(
            Run(
                participant,
                records[0].kind,
                records[0].started_at,
                end - records[0].started_at,
                records,
            )
        )
    return runs


def _concat_input(session_dir: Path, run: Run, index: int) -> ffmpeg.nodes.FilterableStream:
    if len(run.files) == 1:
        return ffmpeg.input(str(session_dir / run.files[0].path))
    listing = session_dir / f".concat-{index}.txt"
    listing.write_text("".join(f"file '{(session_dir / f.path).resolve()}'\n" for f in run.files))
    return ffmpeg.input(str(listing), f="concat", safe=0)


def _wall_clock_end(session_dir: Path, manifest: Manifest, runs: list[Run]) -> float:
    """When the session's media ended by the wall clock (not by what files claim)."""
    if manifest.ended_at:
        return float(manifest.ended_at)
    stamps = [
        (session_dir / f.path).stat().st_mtime
        for r in runs
        for f in r.files
        if (session_dir / f.path).exists()
    ]
    return max(stamps, default=time.time())


def build_composite(session_dir: Path, manifest: Manifest, output: Path) -> Path | None:
    runs = _runs(manifest.files)
    if not runs:
        return None
    origin = min(r.started_at for r in runs)
    total = max(r.started_at + r.duration for r in runs) - origin
    wall = _wall_clock_end(session_dir, manifest, runs) - origin + 1.0
    if total > wall:
        logger.warning(
            "files of %s claim %.1f s but the session lasted %.1f s: composite cut to %.1f s",
            session_dir.name,
            total,
            wall,
            wall,
        )
        total = max(wall, 0.1)
    people = sorted({r.participant for r in runs if r.kind == "video"})
    width, height = CELL
    cells = []
    for person in people:
        cell = ffmpeg.input(
            f"color=c=black:s={width}x{height}:r={FPS}:d={total:.3f}", f="lavfi"
        ).video
        for index, run in enumerate(
            r for r in runs if r.participant == person and r.kind == "video"
        ):
            video = (
                _concat_input(session_dir, run, hash((person, index)) & 0xFFFF)
                .video.filter("scale", width, height, force_original_aspect_ratio="decrease")
                .filter("pad", width, height, "(ow-iw)/2", "(oh-ih)/2")
                .filter("setpts", f"PTS-STARTPTS+{run.started_at - origin:.3f}/TB")
            )
            cell = ffmpeg.overlay(cell, video, eof_action="pass")
        cells.append(cell.filter("drawtext", text=person, x=8, y=8, fontcolor="white", fontsize=16))
    streams = []
    if cells:
        columns = math.ceil(math.sqrt(len(cells)))
        rows = math.ceil(len(cells) / columns)
        if len(cells) == 1:
            grid = cells[0]
        else:
            layout = "|".join(
                f"{(i % columns) * width}_{(i // columns) * height}" for i in range(len(cells))
            )
            grid = ffmpeg.filter(cells, "xstack", inputs=len(cells), layout=layout, fill="black")
            del rows
        streams.append(grid)
    sounds = []
    for index, run in enumerate(r for r in runs if r.kind == "audio"):
        delay = max(0, round((run.started_at - origin) * 1000))
        sounds.append(
            _concat_input(session_dir, run, 0x10000 + index).audio.filter(
                "adelay", delays=str(delay), all=1
            )
        )
    if sounds:
        mixed = (
            sounds[0]
            if len(sounds) == 1
            else ffmpeg.filter(sounds, "amix", inputs=len(sounds), duration="longest", normalize=0)
        )
        streams.append(mixed)
    options = {
        "vcodec": "libx264",
        "preset": "ultrafast",
        "crf": 30,
        "pix_fmt": "yuv420p",
        "acodec": "aac",
        "t": f"{total:.3f}",
        "movflags": "+faststart",
    }
    out = ffmpeg.output(*streams, str(output), **options).overwrite_output()
    try:
        out.run(quiet=True)
    except ffmpeg.Error as exc:
        tail = (exc.stderr or b"").decode(errors="replace")[-800:]
        raise RuntimeError(f"ffmpeg failed to make the composite: {tail}") from exc
    finally:
        for listing in session_dir.glob(".concat-*.txt"):
            listing.unlink()
    return output


async def add_composite(session_dir: Path, recorder: object) -> Manifest:
    """Make the composite in a thread and add it to the manifest."""
    from proctorbot.recording.session_recorder import SessionRecorder

    assert isinstance(recorder, SessionRecorder)
    manifest = recorder.manifest
    output = session_dir / COMPOSITE_NAME
    made = await asyncio.to_thread(build_composite, session_dir, manifest, output)
    if made is not None:
        manifest.files = [f for f in manifest.files if f.kind != "composite"]  # an older one
        manifest.files.append(await asyncio.to_thread(composite_record, manifest, made))
        write_manifest(session_dir, manifest)
    return manifest


def composite_record(manifest: Manifest, made: Path) -> RecordedFile:
    probe = ffmpeg.probe(str(made))
    return RecordedFile(
        path=made.name,
        kind="composite",
        codec="h264+aac",
        participant="*",
        role="*",
        started_at=min((f.started_at for f in manifest.files), default=manifest.started_at),
        duration=round(float(probe["format"]["duration"]), 3),
        sha256=sha256_of(made),
        size_bytes=made.stat().st_size,
    )
