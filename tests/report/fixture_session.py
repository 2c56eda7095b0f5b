"""A small but real session folder: ffmpeg-made media, events, checklist, transcript."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

STARTED_AT = 1_780_000_000.0  # wall clock of the session start (manifest times)
DURATION = 20.0


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, timeout=120)


def make_media(folder: Path) -> None:
    # The student: VP8 + Opus WebM, a tone (speech) at 2–6 s and 12–15 s.
    _ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"testsrc=size=160x120:rate=10:duration={DURATION}",
        "-f",
        "lavfi",
        "-i",
        f"aevalsrc='if(between(t,2,6)+between(t,12,15),0.5*sin(2*PI*440*t),0)':s=48000:d={DURATION}",
        "-c:v",
        "libvpx",
        "-b:v",
        "100k",
        "-deadline",
        "realtime",
        "-cpu-used",
        "8",
        "-c:a",
        "libopus",
        "-b:a",
        "32k",
        "-shortest",
        str(folder / "student.webm"),
    )
    # The examiner: Opus audio only, speaking at 0–2 s and 7–11 s.
    _ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"aevalsrc='if(between(t,0,2)+between(t,7,11),0.5*sin(2*PI*300*t),0)':s=48000:d={DURATION}",
        "-c:a",
        "libopus",
        "-b:a",
        "32k",
        str(folder / "examiner.ogg"),
    )
    evidence = folder / "evidence"
    evidence.mkdir(exist_ok=True)
    _ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x120:rate=1:duration=1",
        "-frames:v",
        "1",
        str(evidence / "extra-person-9.jpg"),
    )
    _ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=600:duration=2",
        "-c:a",
        "libopus",
        str(evidence / "voice-4.ogg"),
    )
    _ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x120:rate=1:duration=1",
        "-frames:v",
        "1",
        str(evidence / "id-document.jpg"),
    )


def make_session(root: Path, session_id: str = "fixture01", *, media: bool = True) -> Path:
    folder = root / session_id
    folder.mkdir(parents=True, exist_ok=True)
    if media:
        make_media(folder)
    manifest = {
        "session_id": session_id,
        "started_at": STARTED_AT,
        "ended_at": STARTED_AT + DURATION,
        "participants": [
            {
                "participant": "p-student",
                "role": "student",
                "name": "Иванова Анна Сергеевна",
                "person_id": "",
                "joined_at": STARTED_AT,
                "left_at": STARTED_AT + DURATION,
            },
            {
                "participant": "p-examiner",
                "role": "examiner",
                "name": "Петров Пётр Петрович",
                "person_id": "",
                "joined_at": STARTED_AT,
                "left_at": STARTED_AT + DURATION,
            },
        ],
        "files": [
            {
                "path": "student.webm",
                "kind": "video",
                "codec": "vp8",
                "participant": "p-student",
                "role": "student",
                "started_at": STARTED_AT,
                "duration": DURATION,
            },
            {
                "path": "examiner.ogg",
                "kind": "audio",
                "codec": "opus",
                "participant": "p-examiner",
                "role": "examiner",
                "started_at": STARTED_AT,
                "duration": DURATION,
            },
        ],
        "gaps": [],
        "errors": [],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2))
    events = [
        {
            "kind": "third_party_voice",
            "start": 4.0,
            "end": 6.0,
            "score": 0.9,
            "track": "p-student",
            "evidence": ["evidence/voice-4.ogg"],
            "details": {},
        },
        {
            "kind": "extra_person",
            "start": 9.0,
            "end": 11.5,
            "score": 0.8,
            "track": "p-student",
            "evidence": ["evidence/extra-person-9.jpg"],
            "details": {},
        },
        {
            "kind": "looking_away",
            "start": 13.0,
            "end": 14.0,
            "score": 0.7,
            "track": "p-student",
            "evidence": [],
            "details": {},
        },
        {
            "kind": "face_absent",
            "start": 16.0,
            "end": 18.0,
            "score": 1.0,
            "track": "p-student",
            "evidence": ["evidence/face-absent-16.jpg"],
            "details": {},
        },  # this file is missing
    ]
    (folder / "events.jsonl").write_text(
        "\n".join(json.dumps(e) for e in events) + "\n{broken line\n", encoding="utf-8"
    )
    checklist = {
        "session_id": session_id,
        "profile": "university-admission",
        "student_name": "Иванова Анна Сергеевна",
        "language": "ru",
        "mode": "proctored",
        "outcome": "admitted",
        "consent": {
            "given": True,
            "at": "2026-07-01T08:45:10+00:00",
            "text_version": "2026-1",
            "language": "ru",
            "actor": {"role": "student", "name": "Иванова"},
        },
        "steps": [
            {"kind": "equipment", "status": "passed", "attempts": 1, "evidence": []},
            {"kind": "room_scan", "status": "passed", "attempts": 1, "evidence": []},
            {
                "kind": "desk",
                "status": "overridden",
                "attempts": 2,
                "evidence": [],
                "reason": "книга убрана",
                "decided_by": {"role": "examiner", "name": "Петров"},
            },
            {
                "kind": "id_document",
                "status": "passed",
                "attempts": 1,
                "evidence": ["evidence/id-document.jpg"],
            },
            {"kind": "instruction", "status": "passed", "attempts": 1, "evidence": []},
        ],
    }
    (folder / "checklist.json").write_text(json.dumps(checklist, ensure_ascii=False))
    transcript = {
        "segments": [
            {
                "start": 0.2,
                "end": 1.8,
                "speaker": "p-examiner",
                "text": "Назовите, пожалуйста, тему.",
            },
            {
                "start": 2.1,
                "end": 5.9,
                "speaker": "p-student",
                "text": "Тема моего ответа — интегралы.",
            },
            {"start": 7.0, "end": 10.8, "speaker": "p-examiner", "text": "Хорошо, продолжайте."},
        ]
    }
    (folder / "transcript.json").write_text(json.dumps(transcript, ensure_ascii=False))
    return folder
