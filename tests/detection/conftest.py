"""Audio models loaded once per test session, and self-made voices from espeak-ng + sox."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

SR = 16000

STUDENT_TEXT = (
    "Good morning. The derivative of a product equals the sum of two terms. First we take the "
    "derivative of the first factor and multiply it by the second factor, then we add the first "
    "factor times the derivative of the second one. This rule is used very often in analysis."
)
ENROLL_TEXT = (
    "My name is Ivan Petrov. I was born in Moscow and I study mathematics at the university."
)
PROMPTER_TEXT = "Say the chain rule, the chain rule, and then write the formula on the board."
EXAMINER_TEXT = (
    "Thank you. Now please explain what happens with the derivative of a composite function."
)


@pytest.fixture(scope="session")
def audio_models():
    torch = pytest.importorskip("torch")
    from proctorbot.config.settings import DetectionSettings
    from proctorbot.detection.audio_models import AudioModels

    torch.set_num_threads(2)
    return AudioModels(DetectionSettings(torch_threads=2))


@dataclass
class SyntheticVoices:
    """Float32 16 kHz arrays: the student (enrollment and talk), a prompter and an examiner."""

    enroll: np.ndarray
    student: np.ndarray
    prompter: np.ndarray
    examiner: np.ndarray


def _speak(
    out: Path, text: str, voice: str, effects: list[str], extra: list[str] | None = None
) -> np.ndarray:
    from proctorbot.detection.audio_input import load_audio

    raw = out.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", voice, *(extra or []), "-w", str(raw), text], check=True)
    subprocess.run(
        ["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(out), *effects], check=True
    )
    return load_audio(out).samples


@pytest.fixture(scope="session")
def voices(tmp_path_factory: pytest.TempPathFactory) -> SyntheticVoices:
    """Distinct synthetic speakers: sox changes speed/pitch so CAM++ hears different people."""
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.skip("espeak-ng and sox are needed for the synthetic voices")
    d = tmp_path_factory.mktemp("voices")
    student_fx = ["speed", "0.8"]
    return SyntheticVoices(
        enroll=_speak(d / "enroll.wav", ENROLL_TEXT, "en-us+m3", student_fx),
        student=_speak(d / "student.wav", STUDENT_TEXT, "en-us+m3", student_fx),
        prompter=_speak(
            d / "prompter.wav", PROMPTER_TEXT, "en-gb+f4", ["pitch", "500"], ["-p", "70"]
        ),
        examiner=_speak(d / "examiner.wav", EXAMINER_TEXT, "en+klatt4", ["speed", "1.1"]),
    )


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)) + 1e-12))


def place(
    base: np.ndarray,
    extra: np.ndarray,
    at_seconds: float,
    gain_db: float,
    ref: np.ndarray | None = None,
) -> tuple[float, float]:
    """Add ``extra`` into ``base`` in place at ``gain_db`` relative to ``ref`` (default base)."""
    ref = base if ref is None else ref
    gain = rms(ref) / rms(extra) * 10 ** (gain_db / 20)
    a = int(at_seconds * SR)
    n = min(len(extra), len(base) - a)
    base[a : a + n] += extra[:n] * gain
    return at_seconds, at_seconds + n / SR


def echo_of(examiner: np.ndarray, delay: float = 0.12, gain_db: float = -12.0) -> np.ndarray:
    """The examiner as heard through the student's speakers: delayed, filtered, quieter, a small room."""
    from scipy.signal import butter, lfilter

    b, a = butter(4, [300 / (SR / 2), 3400 / (SR / 2)], btype="band")
    y = lfilter(b, a, examiner).astype(np.float32)
    room = np.zeros(int(0.05 * SR), np.float32)
    room[0], room[int(0.013 * SR)], room[int(0.031 * SR)], room[-1] = 1.0, 0.4, 0.25, 0.12
    y = np.convolve(y, room)[: len(examiner)]
    y = np.concatenate([np.zeros(int(delay * SR), np.float32), y])[: len(examiner)]
    return (y * 10 ** (gain_db / 20) * rms(examiner) / max(rms(y), 1e-9)).astype(np.float32)


def overlaps(found: list[dict[str, float]], start: float, end: float) -> bool:
    return any(f["start"] < end and f["end"] > start for f in found)
