"""From the bot's leave to the organizers' report, on a session of N minutes.

    python benchmarks/handover.py --minutes 15 [--json] [--folder DIR]

Builds a finished session folder as the bot leaves it — a student and an examiner, each
with VP8 640x480 at 15 fps in 10-s IVF segments, Opus in 10-s Ogg segments and the
16 kHz analysis WAV; the student talking 70 % of the time (the real Russian clips of
../shared/evaldata, looped; espeak-ng without it), the examiner (espeak-ng) now and then; a manifest and a few live events — in a temporary database with the session,
then runs the server's hand-over (``SessionHandOver``, the real models of
``ProcessModels``) and prints when each step ended, counted from the leave:

    step           ended after (s)
    report         ...   <- the organizers' report and link ("report ready")
    ...
    report_final   ...   <- with the composite, the speech, diarization and transcripts

The last line with ``--json`` is one object: ``{"minutes", "report_ready_s",
"notified_s", "complete_s", "steps": {name: seconds}, "load_average"}``. Models load
before the clock starts (a server has them from the live watch). ``--folder`` keeps the
generated media there and reuses it on the next run (generating 15 minutes takes a few
minutes of ffmpeg).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SEGMENT_S = 10
ORIGIN = 1_790_000_000.0
LINES = (
    "Производная произведения равна сумме двух слагаемых.",
    "Сначала берём производную первого множителя и умножаем на второй.",
    "Затем прибавляем первый множитель, умноженный на производную второго.",
    "Это правило часто используется в математическом анализе.",
)
QUESTIONS = ("Хорошо. Расскажите про производную сложной функции.", "Спасибо, дальше.")


RUSSIAN = ROOT.parent / "shared" / "evaldata" / "speech_single" / "russian"


def speech(folder: Path, lines: tuple[str, ...], voice: str, seconds: float, busy: float) -> Path:
    """A 48 kHz WAV of ``seconds``: the lines spoken one after another, ``busy`` of the time.

    ``voice`` "evaldata": the real Russian clips of ../shared/evaldata (looped), else an
    espeak-ng voice speaking ``lines`` (Whisper makes little of those: a worst case)."""
    rate = 48000
    spoken = []
    sources = sorted(RUSSIAN.glob("*.wav")) if voice == "evaldata" else []
    if voice == "evaldata" and not sources:
        print("../shared/evaldata absent: the student speaks with espeak-ng", file=sys.stderr)
        voice = "ru+m3"
    for index, line in enumerate(sources or lines):
        raw = folder / f"{voice.replace('+', '_')}-{index}.wav"
        if sources:
            shutil.copy(line, raw)
        else:
            subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), line], check=True)
        with wave.open(str(raw)) as handle:
            data = np.frombuffer(handle.readframes(handle.getnframes()), "<i2")
            spoken.append(np.interp(
                np.arange(0, len(data), handle.getframerate() / rate), np.arange(len(data)), data
            ))  # fmt: skip
    track = np.zeros(int(seconds * rate), np.float32)
    at, index = 0, 0
    while at < len(track):
        line = spoken[index % len(spoken)]
        end = min(len(track), at + len(line))
        track[at:end] = line[: end - at]
        pause = len(line) * (1.0 - busy) / busy
        at = end + int(pause) + rate // 2
        index += 1
    out = folder / f"{voice.replace('+', '_')}-track.wav"
    with wave.open(str(out), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(track.astype("<i2").tobytes())
    return out


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", *args], check=True)


def make_participant(media: Path, key: str, sound: Path, minutes: float, pattern: str) -> None:
    """10-s VP8 IVF and Opus Ogg segments and the 16 kHz WAV of one participant."""
    folder = media / key
    folder.mkdir(parents=True, exist_ok=True)
    seconds = str(minutes * 60)
    ffmpeg(
        "-f", "lavfi", "-i", f"{pattern}=size=640x480:rate=15", "-t", seconds,
        "-c:v", "libvpx", "-b:v", "600k", "-deadline", "realtime", "-cpu-used", "8",
        "-g", "150", "-keyint_min", "150", "-f", "segment", "-segment_time", str(SEGMENT_S),
        "-segment_format", "ivf", str(folder / "video-01-%04d.ivf"),
    )  # fmt: skip
    ffmpeg(
        "-i", str(sound), "-t", seconds, "-c:a", "libopus", "-b:a", "32k", "-ar", "48000",
        "-f", "segment", "-segment_time", str(SEGMENT_S), "-segment_format", "ogg",
        str(folder / "audio-01-%04d.ogg"),
    )  # fmt: skip
    ffmpeg(
        "-i", str(sound), "-t", seconds, "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le",
        str(folder / "analysis-16k.wav"),
    )  # fmt: skip


def make_media(media: Path, minutes: float) -> None:
    if (media / "done").exists():
        return
    shutil.rmtree(media, ignore_errors=True)
    media.mkdir(parents=True)
    seconds = minutes * 60 + 5
    student = speech(media, LINES, "evaldata", seconds, busy=0.7)
    examiner = speech(media, QUESTIONS, "ru+klatt4", seconds, busy=0.15)
    make_participant(media, "student-s1", student, minutes, "testsrc2")
    make_participant(media, "examiner-e1", examiner, minutes, "smptebars")
    (media / "done").write_text("ok")


def manifest_of(folder: Path, session_id: str, minutes: float) -> dict:
    from proctorbot.recording.manifest import sha256_of

    files = []
    for participant, role in (("student-s1", "student"), ("examiner-e1", "examiner")):
        for path in sorted((folder / participant).iterdir()):
            kind = {".ivf": "video", ".ogg": "audio", ".wav": "analysis"}[path.suffix]
            index = int(path.stem.rsplit("-", 1)[1]) if kind != "analysis" else 0
            duration = SEGMENT_S if kind != "analysis" else minutes * 60
            rate = 15 if kind == "video" else 50
            files.append(
                {
                    "path": f"{participant}/{path.name}",
                    "kind": kind,
                    "codec": {"video": "vp8", "audio": "opus", "analysis": "pcm_s16le"}[kind],
                    "participant": participant,
                    "role": role,
                    "started_at": ORIGIN + index * SEGMENT_S,
                    "duration": float(duration),
                    "frames": int(duration * rate) if kind != "analysis" else 0,
                    "width": 640 if kind == "video" else 0,
                    "height": 480 if kind == "video" else 0,
                    "sha256": sha256_of(path),
                    "size_bytes": path.stat().st_size,
                }
            )
    return {
        "session_id": session_id,
        "started_at": ORIGIN,
        "ended_at": ORIGIN + minutes * 60,
        "participants": [
            {
                "participant": "student-s1",
                "role": "student",
                "name": "Анна Смирнова",
                "person_id": "s1",
                "joined_at": ORIGIN,
                "left_at": ORIGIN + minutes * 60,
            },
            {
                "participant": "examiner-e1",
                "role": "examiner",
                "name": "Ольга Соколова",
                "person_id": "e1",
                "joined_at": ORIGIN,
                "left_at": ORIGIN + minutes * 60,
            },
        ],  # fmt: skip
        "files": files,
        "gaps": [],
        "errors": [],
    }


def make_session(ctx) -> str:  # noqa: ANN001
    from proctorbot.storage.models import (
        ExamSession,
        Organization,
        Person,
        SessionMember,
        SessionStatus,
    )

    now = dt.datetime.now(dt.UTC)
    with ctx.db.begin() as db:
        org = Organization(name="benchmark")
        db.add(org)
        db.flush()
        session = ExamSession(
            organization_id=org.id,
            title="hand-over benchmark",
            profile="university-admission",
            language="ru",
            starts_at=now - dt.timedelta(minutes=20),
            ends_at=now,
            status=SessionStatus.LIVE,
        )
        db.add(session)
        db.flush()
        for role in ("student", "examiner", "organizer"):
            person = Person(
                organization_id=org.id, role=role, full_name=role, email=f"{role}@bench.example"
            )
            db.add(person)
            db.flush()
            if role != "organizer":
                db.add(SessionMember(session_id=session.id, person_id=person.id, role=role))
        return session.id


async def run(minutes: float, media: Path, data_dir: Path) -> dict:
    from proctorbot.config.settings import load_settings
    from proctorbot.handover.session_handover import SessionHandOver, composite_labels

    from proctorbot.context import AppContext

    settings = load_settings(data_dir=data_dir)
    ctx = AppContext.build(settings)
    session_id = make_session(ctx)
    folder = settings.recordings_dir / session_id
    shutil.copytree(media, folder, ignore=shutil.ignore_patterns("*.wav", "done"))
    for participant in ("student-s1", "examiner-e1"):
        shutil.copy(media / participant / "analysis-16k.wav", folder / participant)
    (folder / "manifest.json").write_text(json.dumps(manifest_of(folder, session_id, minutes)))
    events = [
        {"kind": "third_party_voice", "start": 200.0, "end": 204.0, "track": "student-s1"},
        {"kind": "extra_person", "start": 400.0, "end": 409.0, "track": "student-s1"},
        {"kind": "participant_left", "start": 500.0, "end": 520.0, "track": "examiner-e1"},
    ]
    (folder / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    print("loading models ...", file=sys.stderr)
    audio_models = await asyncio.to_thread(ctx.models.audio_models)
    transcriber = await asyncio.to_thread(ctx.models.transcriber)
    hand_over = SessionHandOver(
        ctx,
        audio_models=lambda: audio_models,
        transcriber=lambda: transcriber,
        labels=composite_labels,
    )
    print(f"hand-over of a {minutes:g}-min session ...", file=sys.stderr)
    left = time.monotonic()
    ended: dict[str, float] = {}
    task = asyncio.create_task(hand_over(session_id))
    while not task.done():  # when each step ended, from handover.json as it is written
        await asyncio.sleep(0.2)
        try:
            progress = json.loads((folder / "handover.json").read_text("utf-8"))
        except (FileNotFoundError, ValueError):
            continue
        for step in progress["steps"]:
            ended.setdefault(step["name"], round(time.monotonic() - left, 1))
    result = task.result()
    for step in result.steps:
        ended.setdefault(step.name, round(time.monotonic() - left, 1))
    ctx.engine.dispose()
    return {
        "minutes": minutes,
        "report_ready_s": ended.get("report"),
        "notified_s": ended.get("notify"),
        "complete_s": round(time.monotonic() - left, 1),
        "steps": ended,
        "failed": [s.name for s in result.steps if not s.ok],
        "load_average": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--folder", type=Path, default=None, help="keep/reuse the media here")
    args = parser.parse_args()
    os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory(prefix="handover-bench-") as temporary:
        media = args.folder or Path(temporary) / "media"
        print(f"making {args.minutes:g} minutes of media in {media} ...", file=sys.stderr)
        make_media(media, args.minutes)
        figures = asyncio.run(run(args.minutes, media, Path(temporary) / "var"))
    print(f"{'step':<14} ended after (s), from the bot's leave")
    for name, seconds in figures["steps"].items():
        print(f"{name:<14} {seconds:>7.1f}")
    print(
        f"report ready {figures['report_ready_s']} s after the leave; everything "
        f"{figures['complete_s']} s (load average {figures['load_average']})"
    )
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
