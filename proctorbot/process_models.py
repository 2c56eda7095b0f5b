"""The detection models of one server process, built once, on first use, from any thread.

The checklist (face analysis for the room scan and the ID, Whisper for the name said
aloud, CAM++ for the voiceprint), the live watch and the hand-over after the session
all ask the same ``ProcessModels`` (``AppContext.models``) for them, so a process
loads each model once and every area sees the same object. Nothing here imports
``detection/`` until a model is first asked for: the server starts without loading
anything, and an area whose detection module is absent never triggers a load.

Sharing means several threads call one model at once (two sessions, the checklist of
one and the live watch of another). dlib's HOG detector runs without the GIL and keeps
its scan state in the object: two threads on one detector get wrong boxes (measured:
155 of 192 calls differed). So the face analyzer is ``Serialized`` (one call at a time),
and so is an openai-whisper transcriber (its decoding hooks live on the model);
faster-whisper (CTranslate2) and the torch audio models are safe to share as they are.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from proctorbot.config.settings import Settings

T = TypeVar("T")


class Once(Generic[T]):
    """Builds its object on the first call, from any thread, then returns the same one.

    A build that raises (a model file missing) is not remembered: the next call tries
    again, and every caller sees the error.
    """

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._value: T | None = None
        self._built = False
        self._lock = threading.Lock()

    def __call__(self) -> T:
        if self._built:
            return self._value  # type: ignore[return-value]
        with self._lock:
            if not self._built:
                self._value = self._build()
                self._built = True
            return self._value  # type: ignore[return-value]

    @property
    def built(self) -> bool:
        return self._built


class Serialized:
    """The wrapped object with every method call made under one lock."""

    def __init__(self, target: Any) -> None:
        self.wrapped = target
        self._lock = threading.RLock()

    def __getattr__(self, name: str) -> Any:
        if name in ("wrapped", "_lock"):  # not set yet (a copy being made)
            raise AttributeError(name)
        value = getattr(self.wrapped, name)
        if not callable(value):
            return value

        @functools.wraps(value)
        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return value(*args, **kwargs)

        return locked


@dataclass(frozen=True)
class ModelBuilders:
    """How each model is made; tests pass light fakes."""

    audio_models: Callable[
        [], Any
    ]  # -> detection.audio_models.AudioModels (CAM++, VAD, segmentation)
    face_analyzer: Callable[[], Any]  # -> detection.faces.FaceAnalyzer, loaded, Serialized
    transcriber: Callable[[], Any]  # -> detection.transcription.build_transcriber(...)

    @classmethod
    def from_settings(cls, settings: Settings) -> ModelBuilders:
        detection = settings.detection

        def audio_models() -> Any:
            from proctorbot.detection.audio_models import AudioModels

            return AudioModels(detection, detection.model_cache_dir)

        def face_analyzer() -> Any:
            from proctorbot.detection.faces import FaceAnalyzer

            analyzer = FaceAnalyzer()
            analyzer.load()
            return Serialized(analyzer)

        def transcriber() -> Any:
            from proctorbot.detection.transcription import build_transcriber

            built = build_transcriber(detection, detection.model_cache_dir)
            return Serialized(built) if detection.whisper_engine == "openai-whisper" else built

        return cls(audio_models, face_analyzer, transcriber)


class ProcessModels:
    """``models.audio_models()``, ``models.face_analyzer()``, ``models.transcriber()``:
    each built on its first call (in the caller's thread, others wait) and shared after."""

    def __init__(
        self, settings: Settings | None = None, builders: ModelBuilders | None = None
    ) -> None:
        if builders is None:
            if settings is None:
                raise ValueError("ProcessModels needs the settings or the builders")
            builders = ModelBuilders.from_settings(settings)
        self.audio_models: Callable[[], Any] = Once(builders.audio_models)
        self.face_analyzer: Callable[[], Any] = Once(builders.face_analyzer)
        self.transcriber: Callable[[], Any] = Once(builders.transcriber)
