"""Speech per participant for the timeline: the detectors' segments or a quick energy check.

If ``speech.json`` (``{participant: [{"start", "end"}, ...]}``) lies in the session
folder it is used as is; otherwise each participant's audio is decoded with ffmpeg at
8 kHz and frames well above that track's noise floor count as speech. Coarse, but it
only draws the timeline; the detectors do the real work.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
from proctorbot.report.session_files import MediaFile, SessionFolder

RATE = 8000
FRAME_SECONDS = 0.25

Spans = list[tuple[float, float]]


def speech_by_participant(folder: SessionFolder) -> dict[str, Spans]:
    given = _from_file(folder.path / "speech.json")
    if given is not None:
        return given
    result: dict[str, Spans] = {}
    for media in _audio_sources(folder):
        spans = [
            (media.offset + a, media.offset + b) for a, b in energy_speech(folder.path / media.path)
        ]
        result.setdefault(media.participant, []).extend(spans)
    return {key: sorted(value) for key, value in result.items()}


def _from_file(path: Path) -> dict[str, Spans] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {
            str(who): [(float(s["start"]), float(s["end"])) for s in spans]
            for who, spans in data.items()
        }
    except (ValueError, KeyError, TypeError, AttributeError, OSError):
        return None


def _audio_sources(folder: SessionFolder) -> list[MediaFile]:
    """Per participant: analysis WAVs if any, else audio files, else videos (their sound)."""
    chosen: list[MediaFile] = []
    by_participant: dict[str, list[MediaFile]] = {}
    for media in folder.media:
        if media.playable and media.kind != "composite":
            by_participant.setdefault(media.participant, []).append(media)
    for files in by_participant.values():
        for kind in ("analysis", "audio", "video"):
            picked = [m for m in files if m.kind == kind]
            if picked:
                chosen.extend(picked)
                break
    return chosen


def energy_speech(path: Path, min_speech: float = 0.3) -> Spans:
    """Spans (seconds from the file start) where the sound is well above the floor."""
    try:
        result = subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-i",
                str(path),
                "-vn",
                "-ac",
                "1",
                "-ar",
                str(RATE),
                "-f",
                "s16le",
                "-",
            ],
            capture_output=True,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    if result.returncode != 0 or not result.stdout:
        return []
    samples = np.frombuffer(result.stdout, dtype=np.int16).astype(np.float32)
    size = int(RATE * FRAME_SECONDS)
    count = len(samples) // size
    if count == 0:
        return []
    rms = np.sqrt(np.mean(samples[: count * size].reshape(count, size) ** 2, axis=1) + 1e-9)
    floor = float(np.percentile(rms, 20))
    threshold = max(floor * 4.0, 150.0)
    active = rms > threshold
    spans: Spans = []
    start = None
    for index, on in enumerate(active):
        if on and start is None:
            start = index
        elif not on and start is not None:
            spans.append((start * FRAME_SECONDS, index * FRAME_SECONDS))
            start = None
    if start is not None:
        spans.append((start * FRAME_SECONDS, count * FRAME_SECONDS))
    return [(a, b) for a, b in spans if b - a >= min_speech]
