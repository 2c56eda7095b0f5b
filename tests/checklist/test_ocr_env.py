"""The name step's Whisper ran empty after the ID step: tesseract's thread limit leaked.

detection/ocr.py set ``OMP_THREAD_LIMIT=1`` in ``os.environ`` for the tesseract child;
CTranslate2 (faster-whisper, ``cpu_threads=2``) loaded later in the bot process then
returned no words for clear speech. The limit belongs to the child only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest


def test_tesseract_thread_limit_stays_in_the_child(monkeypatch: pytest.MonkeyPatch) -> None:
    pytesseract = pytest.importorskip("pytesseract")
    if shutil.which("tesseract") is None:
        pytest.skip("tesseract is not installed")
    from proctorbot.detection.ocr import TesseractReader

    monkeypatch.delenv("OMP_THREAD_LIMIT", raising=False)
    monkeypatch.setattr(pytesseract.pytesseract, "environ", pytesseract.pytesseract.environ)
    TesseractReader(languages="eng").check()
    assert "OMP_THREAD_LIMIT" not in os.environ
    assert pytesseract.pytesseract.environ.get("OMP_THREAD_LIMIT") == "1"


SPEAK = """
import subprocess, sys, tempfile, wave, numpy as np
from proctorbot.config.settings import Settings
from proctorbot.detection.ocr import TesseractReader
from proctorbot.detection.transcription import build_transcriber
TesseractReader(languages="eng").check()  # what the ID step does first
with tempfile.TemporaryDirectory() as tmp:
    subprocess.run(["espeak-ng", "-v", "en", "-s", "130", "-w", tmp + "/a.wav",
                    "My name is Ivan Petrov."], check=True)
    subprocess.run(["sox", tmp + "/a.wav", "-r", "16000", "-c", "1", "-b", "16", tmp + "/b.wav",
                    "pad", "0.2", "1.0"], check=True)
    samples = np.frombuffer(wave.open(tmp + "/b.wav").readframes(10**7), dtype=np.int16)
print(build_transcriber(Settings().detection).transcribe(samples.astype(np.float32) / 32768, "en").text)
"""


@pytest.mark.slow
def test_whisper_loaded_after_tesseract_still_hears_the_name() -> None:
    for tool in ("tesseract", "espeak-ng", "sox"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    pytest.importorskip("faster_whisper")
    env = {k: v for k, v in os.environ.items() if k != "OMP_THREAD_LIMIT"}
    done = subprocess.run(
        [sys.executable, "-c", SPEAK], capture_output=True, text=True, env=env, timeout=300
    )
    if "ModelMissingError" in done.stderr:
        pytest.skip("the Whisper model is not available")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ivan" in done.stdout.lower(), (done.stdout, done.stderr[-1000:])
