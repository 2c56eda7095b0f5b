"""The detection/ and notifications/ implementations behind the checklist's Protocols.

Each adapter gets its models from the process's one holder (``ctx.models``,
``proctorbot.process_models.ProcessModels``, shared with the live watch and the
hand-over): heavy models (Whisper, CAM++, dlib) load on the first use, in the check's
thread, not when the server starts, and once per process. A part that cannot be
imported (a module not installed, a model missing) leaves its Protocol unset, and
the step says its automatic check is unavailable.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from proctorbot.checklist.detectors import (
    ChecklistDetectors,
    EnrolledVoice,
    HeardSpeech,
    IdReading,
    RoomScanFindings,
    VideoFrame,
)
from proctorbot.config.settings import Settings
from proctorbot.storage.session_folder import ANALYSIS_SAMPLE_RATE, VOICEPRINT_FILE

from proctorbot.process_models import Once, ProcessModels

log = logging.getLogger(__name__)
Provider = Callable[[], Any]  # returns the (shared, lazily built) model; may raise when missing


def int16_to_float(samples: np.ndarray) -> np.ndarray:
    return samples.astype(np.float32) / 32768.0


class DetectionIdReader:
    """detection.id_document.IdDocumentReader: OCR + MRZ + card photo vs live face."""

    def __init__(self, reader: Provider) -> None:
        self.reader = reader

    def read(self, frames: list[np.ndarray], expected_name: str) -> IdReading:
        found = self.reader().read(frames, expected_name=expected_name)
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

    def __init__(self, face_analyzer: Provider, horizontal_fov_deg: float = 60.0) -> None:
        self.face_analyzer = face_analyzer
        self.horizontal_fov_deg = horizontal_fov_deg

    def analyze(self, frames: list[VideoFrame]) -> RoomScanFindings:
        return self.start().feed(frames)

    def start(self) -> TrackedRoomScan:
        """A sweep followed frame by frame as it arrives (the check stops once covered)."""
        from proctorbot.detection.room_scan import RoomScanTracker

        return TrackedRoomScan(
            RoomScanTracker(self.horizontal_fov_deg, analyzer=self.face_analyzer())
        )


class TrackedRoomScan:
    def __init__(self, tracker: Any) -> None:  # detection.room_scan.RoomScanTracker
        self.tracker = tracker
        self.times: list[float] = []

    def feed(self, frames: list[VideoFrame]) -> RoomScanFindings:
        for t, frame in frames:
            self.tracker.feed(t, frame)
            self.times.append(t)
        result = self.tracker.result()
        index = {t: i for i, t in enumerate(self.times)}
        extra = tuple(index[t] for t, count in result.face_sightings if count > 1 and t in index)
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

    def __init__(self, transcriber: Provider) -> None:
        self.transcriber = transcriber

    def transcribe(self, samples: np.ndarray, sample_rate: int, language: str) -> HeardSpeech:
        if sample_rate != ANALYSIS_SAMPLE_RATE:
            raise ValueError(f"expected 16 kHz audio, got {sample_rate}")
        # No initial_prompt with the roster name: measured, it makes Whisper write the
        # prompted name over another student's speech (benchmarks/spoken_names.py).
        transcript = self.transcriber().transcribe(int16_to_float(samples), language)
        words = tuple((w.text, w.probability) for s in transcript.segments for w in s.words)
        return HeardSpeech(transcript.text, words)


class CampPlusVoiceEnroller:
    """detection.voiceprint: the student's voiceprint from the name said aloud."""

    def __init__(self, models: Provider) -> None:
        self.models = models

    def enroll(self, samples: np.ndarray, sample_rate: int, out_dir: Path) -> EnrolledVoice:
        from proctorbot.detection.voiceprint import enroll

        models = self.models()
        result = enroll(int16_to_float(samples), models.embedder, models.new_vad())
        if result.voiceprint is None:
            raise ValueError("; ".join(result.messages) or "no voiceprint")
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / Path(VOICEPRINT_FILE).name
        path.write_text(json.dumps(result.voiceprint.to_json(), default=float), encoding="utf-8")
        return EnrolledVoice(path, result.voiceprint)


def build_detectors(settings: Settings, models: ProcessModels | None = None) -> ChecklistDetectors:
    """Every detector the installed detection/ offers, on the process's shared ``models``
    (``ctx.models``; a holder of its own when none is given), each loading lazily."""
    models = models or ProcessModels(settings)
    detectors = ChecklistDetectors()
    if _available("proctorbot.detection.room_scan"):
        detectors.room_scan = DetectionRoomScan(models.face_analyzer)
    if _available("proctorbot.detection.id_document"):

        def make_reader() -> Any:
            from proctorbot.detection.id_document import IdDocumentReader

            return IdDocumentReader(analyzer=models.face_analyzer())

        detectors.id_reader = DetectionIdReader(Once(make_reader))
    if _available("proctorbot.detection.transcription"):
        detectors.transcriber = WhisperNameTranscriber(models.transcriber)
    if _available("proctorbot.detection.voiceprint") and _available(
        "proctorbot.detection.audio_models"
    ):
        detectors.voice_enroller = CampPlusVoiceEnroller(models.audio_models)
    missing = [name for name, value in vars(detectors).items() if value is None]
    if missing:
        log.info("checklist: no automatic check for %s (examiner confirms)", ", ".join(missing))
    return detectors


def _available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False
