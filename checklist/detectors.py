"""What the checklist needs from the detectors and the bot, as small Protocols.

The checklist never imports a detector directly: the composition (checklist/wiring.py)
injects implementations, tests inject fakes. A detector left as ``None`` makes its
step fall back to the examiner's confirmation, and the panel says the automatic
check is unavailable.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from proctorbot.detection.events import DetectorEvent

VideoFrame = tuple[float, np.ndarray]  # (seconds from session start, BGR uint8)
AudioChunk = tuple[float, np.ndarray]  # (seconds from session start, int16 mono 16 kHz)
PanelHandler = Callable[[str, str, dict[str, Any]], Awaitable[None]]


class SessionBotLike(Protocol):
    """The part of bot/'s SessionBot the checklist uses (docs/architecture.md)."""

    @property
    def peers(self) -> Mapping[str, Any]: ...  # peer_id → (role, name, person_id)

    @property
    def session_dir(self) -> Path: ...

    def video_frames(self, peer_id: str, fps: float) -> AsyncIterator[VideoFrame]: ...

    def audio_chunks(self, peer_id: str) -> AsyncIterator[AudioChunk]: ...

    async def send_prompt(
        self, key: str, text: str, to: str | None = None, level: str = "info"
    ) -> None: ...

    async def send_panel(
        self, area: str, action: str, data: dict[str, Any], to: str | None = None
    ) -> None: ...

    def on_panel(self, area: str, handler: PanelHandler) -> None: ...

    def emit(self, event: DetectorEvent) -> None: ...


@dataclass(frozen=True)
class RoomScanFindings:
    coverage: float  # share of a full turn the camera swept, 0..1
    max_faces: int  # most faces seen in one frame
    extra_face_frames: tuple[int, ...] = ()  # indices of frames with more than one face
    details: dict[str, Any] = field(default_factory=dict)


class RoomScanAnalyzer(Protocol):
    def analyze(self, frames: list[VideoFrame]) -> RoomScanFindings:
        """Frames of the sweep in time order; the motion between them gives the coverage."""
        ...


class RoomScanProgress(Protocol):
    """A sweep followed as it happens (``analyzer.start()`` where an analyzer offers it)."""

    def feed(self, frames: list[VideoFrame]) -> RoomScanFindings:
        """The next frames; the findings so far (indices count every frame fed)."""
        ...


class AccumulatedRoomScan:
    """For an analyzer without ``start()``: the whole sweep so far analysed each time."""

    def __init__(self, analyzer: RoomScanAnalyzer) -> None:
        self.analyzer = analyzer
        self.frames: list[VideoFrame] = []

    def feed(self, frames: list[VideoFrame]) -> RoomScanFindings:
        self.frames.extend(frames)
        return self.analyzer.analyze(self.frames)


def start_room_scan(analyzer: RoomScanAnalyzer) -> RoomScanProgress:
    starter = getattr(analyzer, "start", None)
    return starter() if starter is not None else AccumulatedRoomScan(analyzer)


@dataclass(frozen=True)
class IdReading:
    """What was read off the ID document held to the camera."""

    full_name: str  # as printed, "" when nothing readable
    confidence: float  # 0..1 that a document was read at all
    name_matched: bool  # against the expected (roster) name
    name_score: float
    face_similarity: float | None = None  # card photo vs live face, 0..1; None: not compared
    images: dict[str, np.ndarray] = field(default_factory=dict)  # best_frame, card, card_face...
    details: dict[str, Any] = field(default_factory=dict)


class IdDocumentReader(Protocol):
    def read(self, frames: list[np.ndarray], expected_name: str) -> IdReading:
        """Read the document from a burst of frames (the sharpest card wins)."""
        ...


@dataclass(frozen=True)
class HeardSpeech:
    """What the recognizer heard: the text and each word with its probability (0..1)."""

    text: str
    words: tuple[tuple[str, float], ...] = ()


class Transcriber(Protocol):
    def transcribe(
        self, samples: np.ndarray, sample_rate: int, language: str
    ) -> HeardSpeech | str: ...


@dataclass(frozen=True)
class EnrolledVoice:
    path: Path  # the durable record (voiceprints/student.json)
    voiceprint: Any  # detection.voiceprint.Voiceprint: to the live watch, by the session bus


class VoiceEnroller(Protocol):
    def enroll(self, samples: np.ndarray, sample_rate: int, out_dir: Path) -> EnrolledVoice:
        """Store the student's voiceprint and hand it back."""
        ...


class DeskInspector(Protocol):
    def forbidden_objects(self, frame: np.ndarray) -> list[str]: ...


class RecordingProbe(Protocol):
    def sources_recording(self, peer_id: str) -> dict[str, bool]:
        """Which of the peer's sources (camera, microphone, screen) are being written."""
        ...


class AdmissionNotifier(Protocol):
    async def not_admitted(self, session_id: str, student_name: str, reason: str) -> None:
        """Tell the organizer a student was not admitted (identity not confirmed, ...)."""
        ...

    async def consent_refused(self, session_id: str, student_name: str) -> None: ...

    async def admitted(self, session_id: str, student_name: str) -> None:
        """Identity confirmed, checklist done: the exam starts."""
        ...


@dataclass
class ChecklistDetectors:
    """The injected implementations; any may be None (automatic check unavailable)."""

    room_scan: RoomScanAnalyzer | None = None
    id_reader: IdDocumentReader | None = None
    transcriber: Transcriber | None = None
    voice_enroller: VoiceEnroller | None = None
    desk: DeskInspector | None = None
    recording: RecordingProbe | None = None
