"""The detection/ and notifications/ implementations behind the checklist's Protocols.

Each adapter is built lazily: heavy models (Whisper, CAM++, dlib) load on the first
use, in the check's thread, not when the server starts. A part that cannot be
imported (a module not installed, a model missing) leaves its Protocol unset, and
the step says its automatic check is unavailable.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
from proctorbot.checklist.detectors import (
    ChecklistDetectors,
    IdReading,
    RoomScanFindings,
    VideoFrame,
)
from proctorbot.config.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")


class Lazy(Generic[T]):
    """Builds its object once, on first use, from any thread."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._value: T | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        with self._lock:
            if self._value is None:
                self._value = self._build()
            return self._value


def int16_to_float(samples: np.ndarray) -> np.ndarray:
    return samples.astype(np.float32) / 32768.0


class DetectionIdReader:
    """detection.id_document.IdDocumentReader: OCR + MRZ + card photo vs live face."""

    def __init__(self, reader: Lazy[Any]) -> None:
        self._reader = reader

    def read(self, frames: list[np.ndarray], expected_name: str) -> IdReading:
        found = self._reader.get().read(frames, expected_name=expected_name)
        return IdReading(
            full_name=found.name,
            confidence=float(found.confidence),
            name_matched=bool(found.name_match),
            name_score=float(found.name_score),
            face_similarity=found.face_match,
            images={
                k: v
                for k, v in found.images.items()
                if k in ("best_frame", "card", "card_face", "live_face")
            },
            details={
                "document": found.document,
                "card_found": found.card_found,
                "mrz_name": found.mrz_name,
                "face_distance": found.face_distance,
            },
        )


class DetectionRoomScan:
    """detection.room_scan.RoomScanTracker: how far the camera turned, faces seen."""

    def __init__(self, face_analyzer: Lazy[Any], horizontal_fov_deg: float = 60.0) -> None:
        self._face_analyzer = face_analyzer
        self.horizontal_fov_deg = horizontal_fov_deg

    def analyze(self, frames: list[VideoFrame]) -> RoomScanFindings:
        from proctorbot.detection.room_scan import RoomScanTracker

        tracker = RoomScanTracker(self.horizontal_fov_deg, analyzer=self._face_analyzer.get())
        for t, frame in frames:
            tracker.feed(t, frame)
        result = tracker.result()
        times = [t for t, _ in frames]
        extra = tuple(
            times.index(t) for t, count in result.face_sightings if count > 1 and t in times
        )
        return RoomScanFindings(
            coverage=result.coverage,
            max_faces=result.max_faces,
            extra_face_frames=extra,
            details={
                "covered_deg": round(result.covered_deg, 1),
                "lost_frames": result.lost_frames,
            },
        )


class WhisperNameTranscriber:
    """detection.transcription: the words of the name said aloud."""

    def __init__(self, transcriber: Lazy[Any]) -> None:
        self._transcriber = transcriber

    def transcribe(self, samples: np.ndarray, sample_rate: int, language: str) -> str:
        if sample_rate != 16000:
            raise ValueError(f"expected 16 kHz audio, got {sample_rate}")
        return self._transcriber.get().transcribe(int16_to_float(samples), language).text


class CampPlusVoiceEnroller:
    """detection.voiceprint: the student's voiceprint from the name said aloud."""

    def __init__(self, models: Lazy[Any]) -> None:
        self._models = models

    def enroll(self, samples: np.ndarray, sample_rate: int, out_dir: Path) -> Path:
        from proctorbot.detection.voiceprint import enroll

        models = self._models.get()
        result = enroll(int16_to_float(samples), models.embedder, models.new_vad())
        if result.voiceprint is None:
            raise ValueError("; ".join(result.messages) or "no voiceprint")
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "student.json"
        path.write_text(json.dumps(result.voiceprint.to_json(), default=float), encoding="utf-8")
        return path


def build_detectors(settings: Settings) -> ChecklistDetectors:
    """Every detector the installed detection/ offers, each loading its models lazily."""
    detection = settings.detection
    detectors = ChecklistDetectors()

    def make_face_analyzer() -> Any:
        from proctorbot.detection.faces import FaceAnalyzer

        return FaceAnalyzer()

    faces = Lazy(make_face_analyzer)
    if _available("proctorbot.detection.room_scan"):
        detectors.room_scan = DetectionRoomScan(faces)
    if _available("proctorbot.detection.id_document"):

        def make_reader() -> Any:
            from proctorbot.detection.id_document import IdDocumentReader

            return IdDocumentReader(analyzer=faces.get())

        detectors.id_reader = DetectionIdReader(Lazy(make_reader))
    if _available("proctorbot.detection.transcription"):

        def make_transcriber() -> Any:
            from proctorbot.detection.transcription import build_transcriber

            return build_transcriber(detection, getattr(detection, "model_cache_dir", None))

        detectors.transcriber = WhisperNameTranscriber(Lazy(make_transcriber))
    if _available("proctorbot.detection.voiceprint") and _available(
        "proctorbot.detection.audio_models"
    ):

        def make_models() -> Any:
            from proctorbot.detection.audio_models import AudioModels

            return AudioModels(detection, getattr(detection, "model_cache_dir", None))

        detectors.voice_enroller = CampPlusVoiceEnroller(Lazy(make_models))
    missing = [name for name, value in vars(detectors).items() if value is None]
    if missing:
        log.info("checklist: no automatic check for %s (examiner confirms)", ", ".join(missing))
    return detectors


def _available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False
