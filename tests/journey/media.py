"""The student's fake camera and microphone for the exam journey, one loop of LOOP seconds.

Chromium opens both devices at the same moment and loops each file, so one phase
(``self-video.currentTime % LOOP``) tells where both are. The camera: the student,
the room turned through, the ID card held up, the student answering, a second face
beside them, the student again. The microphone (espeak-ng, sox): the student talking
throughout, and a prompter's voice while the second face is in the picture.
"""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.browser_helpers import FakeMedia

STUDENT_NAME = "Анна Смирнова"  # the demo's first session (storage/demo.py)
CARD_NAME = "СМИРНОВА Анна"
FPS = 10  # under the regulation's 15: the examiner decides the equipment step
# (kind, seconds) of the camera loop, and where each part starts
SCENARIO = (
    ("present", 3.0),
    ("pan", 14.0),
    ("present", 2.0),
    ("card", 10.0),
    ("present", 21.0),
    ("second_face", 8.0),
    ("present", 14.0),
)
LOOP = sum(seconds for _, seconds in SCENARIO)
PHASE = {}
_at = 0.0
for _kind, _seconds in SCENARIO:
    PHASE.setdefault(_kind, []).append((_at, _at + _seconds))
    _at += _seconds
CARD_START = PHASE["card"][0][0]
SECOND_FACE = PHASE["second_face"][0]
PROMPTER = (SECOND_FACE[0], SECOND_FACE[0] + 6.0)  # the prompter talks while seen
RATE = 48000

STUDENT_LINES = (
    "Меня зовут Анна Смирнова. Я готова отвечать.",
    "Производная произведения равна сумме двух слагаемых.",
    "Сначала берём производную первого множителя и умножаем на второй.",
    "Затем прибавляем первый множитель, умноженный на производную второго.",
    "Это правило часто используется в математическом анализе.",
    "Теперь рассмотрим производную сложной функции.",
)
PROMPTER_LINE = "Скажи про цепное правило, цепное правило, и напиши формулу."


def _speak(directory: Path, name: str, text: str, voice: str, effects: list[str]) -> np.ndarray:
    raw, out = directory / f"{name}-raw.wav", directory / f"{name}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True)
    command = ["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(out), *effects]
    subprocess.run(command, check=True)
    with wave.open(str(out)) as handle:
        return np.frombuffer(handle.readframes(handle.getnframes()), "<i2").astype(np.float32)


def _fill(track: np.ndarray, lines: list[np.ndarray], start: float, end: float) -> None:
    """The student's lines one after another (0.6 s apart), looped, inside [start, end)."""
    at, index = int(start * RATE), 0
    while True:
        line = lines[index % len(lines)]
        if at + len(line) > int(end * RATE):
            return
        track[at : at + len(line)] += line
        at += len(line) + int(0.6 * RATE)
        index += 1


def make_journey_media(directory: Path) -> tuple[FakeMedia, FakeMedia]:
    """(the student's media, the staff's media: a test pattern and a short greeting)."""
    from tests.fixtures.synthetic import (
        Segment,
        SyntheticAssetMissing,
        write_checklist_video,
    )

    for tool in ("espeak-ng", "sox", "ffmpeg"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    made = (
        FakeMedia(directory / "student.y4m", directory / "student.wav"),
        FakeMedia(directory / "staff.y4m", directory / "staff.wav"),
    )
    if (directory / "done").exists():  # made once per test run (or kept for reruns)
        return made
    directory.mkdir(parents=True, exist_ok=True)
    try:
        video = write_checklist_video(
            directory / "student.y4m",
            CARD_NAME,
            card_path=directory / "card.png",
            fps=FPS,
            scenario=tuple(Segment(kind, seconds) for kind, seconds in SCENARIO),
        )
    except SyntheticAssetMissing as missing:
        pytest.skip(str(missing))
    student = [
        _speak(directory, f"s{i}", line, "ru+m3", ["speed", "0.85"])
        for i, line in enumerate(STUDENT_LINES)
    ]
    prompter = _speak(directory, "prompter", PROMPTER_LINE, "ru+f4", ["pitch", "500"])
    track = np.zeros(int(LOOP * RATE), np.float32)
    _fill(track, student, 0.3, PROMPTER[0] - 1.5)
    _fill(track, student, PROMPTER[1] + 1.5, LOOP - 0.5)
    turn = prompter[: int((PROMPTER[1] - PROMPTER[0]) * RATE)]
    track[int(PROMPTER[0] * RATE) : int(PROMPTER[0] * RATE) + len(turn)] += turn
    audio = directory / "student.wav"
    with wave.open(str(audio), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(RATE)
        handle.writeframes(np.clip(track, -32768, 32767).astype("<i2").tobytes())

    staff_video, staff_audio = directory / "staff.y4m", directory / "staff.wav"
    subprocess.run(
        [
            "ffmpeg", "-y", "-loglevel", "error", "-f", "lavfi",
            "-i", "testsrc=size=320x240:rate=15", "-t", "6", "-pix_fmt", "yuv420p",
            str(staff_video),
        ],
        check=True,
    )  # fmt: skip
    greeting = _speak(directory, "examiner", "Здравствуйте. Начинаем экзамен.", "ru+klatt4", [])
    quiet = np.zeros(int(15 * RATE), np.float32)  # a question now and then
    quiet[: len(greeting)] = greeting[: len(quiet)] * 0.5
    with wave.open(str(staff_audio), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(RATE)
        handle.writeframes(quiet.astype("<i2").tobytes())
    assert made == (FakeMedia(video, audio), FakeMedia(staff_video, staff_audio))
    (directory / "done").write_text("ok")
    return made
