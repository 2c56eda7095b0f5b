"""Offline analysis of a student's WAV with the same incremental detector the bot runs live."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from proctorbot.detection.audio_input import float_to_int16, load_audio
from proctorbot.detection.audio_models import AudioModels
from proctorbot.detection.events import DetectorEvent
from proctorbot.detection.third_party_voice import (
    ThirdPartyConfig,
    ThirdPartyVoiceDetector,
    WindowScore,
)
from proctorbot.detection.voiceprint import enroll
from proctorbot.storage.session_folder import ANALYSIS_SAMPLE_RATE as SAMPLE_RATE

CHUNK_SECONDS = 4.0  # a file is fed in 4-s chunks: its windows are embedded 4 at a time


@dataclass
class AudioAnalysis:
    """What ``analyze-audio`` prints: findings in seconds plus notes for the user."""

    third_party: list[dict[str, float]]
    overlap: list[dict[str, float]]
    speech: list[dict[str, float]]
    events: list[DetectorEvent] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    duration: float = 0.0
    windows: list[WindowScore] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"third_party": self.third_party, "overlap": self.overlap, "speech": self.speech}


def analyze_samples(
    models: AudioModels,
    student: np.ndarray,
    enroll_samples: np.ndarray | None,
    examiner: np.ndarray | None = None,
    config: ThirdPartyConfig | None = None,
    session_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> AudioAnalysis:
    """Feed 16 kHz float arrays chunk by chunk, as the live bot would."""
    messages: list[str] = []
    voiceprint = None
    if enroll_samples is not None:
        result = enroll(
            enroll_samples, models.embedder, models.new_vad(), models.settings.min_enroll_seconds
        )
        voiceprint = result.voiceprint
        messages += result.messages
    detector = ThirdPartyVoiceDetector(
        models, voiceprint, config, with_examiner=examiner is not None, session_dir=session_dir
    )
    step = int(CHUNK_SECONDS * SAMPLE_RATE)
    events: list[DetectorEvent] = []
    for i in range(0, len(student), step):
        if examiner is not None:
            events += detector.feed_examiner(float_to_int16(examiner[i : i + step]))
        events += detector.feed(float_to_int16(student[i : i + step]))
        if progress is not None:
            progress(min(step, len(student) - i))
    events += detector.finish()
    messages += detector.messages
    found = detector.findings_json()
    return AudioAnalysis(
        found["third_party"],
        found["overlap"],
        found["speech"],
        events,
        messages,
        len(student) / SAMPLE_RATE,
        detector.windows,
    )


def analyze_files(
    models: AudioModels,
    student_path: Path,
    enroll_path: Path | None,
    examiner_path: Path | None = None,
    session_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> AudioAnalysis:
    """Load (resample, downmix) the files and analyse; AudioInputError for unusable input."""
    student = load_audio(student_path)
    messages = [f"{student_path.name}: {w}" for w in student.warnings]
    enroll_audio = load_audio(enroll_path) if enroll_path is not None else None
    if enroll_audio is not None:
        messages += [f"{enroll_path.name}: {w}" for w in enroll_audio.warnings]  # type: ignore[union-attr]
    examiner = load_audio(examiner_path) if examiner_path is not None else None
    if examiner is not None:
        messages += [f"{examiner_path.name}: {w}" for w in examiner.warnings]  # type: ignore[union-attr]
    analysis = analyze_samples(
        models,
        student.samples,
        enroll_audio.samples if enroll_audio is not None else None,
        examiner.samples if examiner is not None else None,
        session_dir=session_dir,
        progress=progress,
    )
    analysis.messages = messages + analysis.messages
    return analysis
