"""The student's voiceprint: enrolled from ≥ 3 s of speech, refined from clean exam speech."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from proctorbot.detection.campplus import CampPlusEmbedder
from proctorbot.detection.speech_activity import StreamingVad
from proctorbot.storage.session_folder import ANALYSIS_SAMPLE_RATE as SAMPLE_RATE

MIN_ENROLL_SECONDS = 3.0
ENROLL_WINDOW_SECONDS = 3.0


@dataclass
class Voiceprint:
    """Mean of unit CAM++ embeddings; ``weight`` counts the windows averaged so far."""

    vector: np.ndarray
    speech_seconds: float
    weight: float = 1.0
    source: str = "enrollment"

    def similarity(self, embedding: np.ndarray) -> float:
        return float(np.dot(self.unit, embedding))

    @property
    def unit(self) -> np.ndarray:
        return self.vector / max(float(np.linalg.norm(self.vector)), 1e-9)

    def refine(self, embedding: np.ndarray, seconds: float) -> None:
        """Running mean with one more confident window (the exam's own clean speech)."""
        self.vector = (self.vector * self.weight + embedding) / (self.weight + 1.0)
        self.weight += 1.0
        self.speech_seconds += seconds

    def to_json(self) -> dict[str, Any]:
        return {
            "vector": [round(float(v), 6) for v in self.unit],
            "speech_seconds": self.speech_seconds,
            "weight": self.weight,
            "source": self.source,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Voiceprint:
        """A voiceprint stored by the checklist (enrollment) for the live detector."""
        return cls(
            np.asarray(data["vector"], dtype=np.float32),
            float(data["speech_seconds"]),
            float(data.get("weight", 1.0)),
            str(data.get("source", "enrollment")),
        )


@dataclass
class EnrollmentResult:
    voiceprint: Voiceprint | None
    speech_seconds: float
    messages: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.voiceprint is not None


def speech_only(samples: np.ndarray, vad: StreamingVad) -> np.ndarray:
    """Concatenate the speech frames found by the VAD (drops silences that blur an embedding)."""
    vad.feed(samples)
    segments = vad.segments(min_speech=0.2, min_silence=0.2)
    parts = [samples[int(s.start * SAMPLE_RATE) : int(s.end * SAMPLE_RATE)] for s in segments]
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def enroll(
    samples: np.ndarray,
    embedder: CampPlusEmbedder,
    vad: StreamingVad,
    min_seconds: float = MIN_ENROLL_SECONDS,
) -> EnrollmentResult:
    """Voiceprint from the student's speech (e.g. saying their full name at the checklist)."""
    speech = speech_only(samples, vad)
    seconds = len(speech) / SAMPLE_RATE
    if seconds < min_seconds:
        return EnrollmentResult(
            None,
            seconds,
            [
                f"enrollment too short: {seconds:.1f} s of speech, need at least {min_seconds:.0f} s; "
                "falling back to clustering the student's track"
            ],
        )
    win = int(ENROLL_WINDOW_SECONDS * SAMPLE_RATE)
    starts = list(range(0, max(1, len(speech) - win + 1), win // 2))
    vectors = [embedder.embed(speech[s : s + win]) for s in starts]
    vector = np.mean(vectors, axis=0)
    return EnrollmentResult(Voiceprint(vector, seconds, float(len(vectors))), seconds)
