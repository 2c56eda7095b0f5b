"""The full audio pass on tracks without sound: a microphone that sent nothing (a WAV of
its header only) is no failed step, and Whisper is not run on a track without speech.
Seen in the cluster test: an examiner's empty WAV failed `speech`, and a student's
noise-only track kept Whisper busy for two minutes."""

from __future__ import annotations

import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from proctorbot.handover.audio_pass import FullAudioPass
from proctorbot.handover.folder import AnalysisTrack


def write_wav(path: Path, samples: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(samples.astype(np.int16).tobytes())
    return path


@dataclass
class Span:
    start: float
    end: float


@dataclass
class LoudVad:
    """Speech wherever the samples are loud (a stand-in for silero)."""

    fed: list[np.ndarray] = field(default_factory=list)

    def feed(self, samples: np.ndarray) -> None:
        self.fed.append(samples)

    def segments(self) -> list[Span]:
        samples = np.concatenate(self.fed) if self.fed else np.zeros(0)
        loud = np.flatnonzero(np.abs(samples) > 0.1)  # float samples in [-1, 1]
        if loud.size == 0:
            return []
        return [Span(loud[0] / 16000, (loud[-1] + 1) / 16000)]


class Models:
    def new_vad(self) -> LoudVad:
        return LoudVad()


@dataclass
class CountingWhisper:
    engine: str = "fake"
    heard: list[int] = field(default_factory=list)

    def transcribe(self, samples: np.ndarray, language: str | None):  # noqa: ANN201
        self.heard.append(samples.size)

        class Transcript:
            segments: list = []

        return Transcript()


def track(folder: Path, name: str, role: str, samples: np.ndarray) -> AnalysisTrack:
    path = write_wav(folder / name / "analysis-16k.wav", samples)
    return AnalysisTrack(path=path, participant=name, role=role, offset=0.0)


def test_an_empty_microphone_and_a_silent_track_are_no_failure_and_no_whisper(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(3)
    speech = (np.sin(np.arange(32000) * 0.2) * 8000).astype(np.int16)
    tracks = [
        track(tmp_path, "student-1", "student", speech),
        track(tmp_path, "student-2", "student", rng.integers(-60, 60, 48000)),  # room noise
        track(tmp_path, "examiner-1", "examiner", np.zeros(0, np.int16)),  # header only
    ]
    whisper = CountingWhisper()
    audio = FullAudioPass(Models(), transcriber=lambda: whisper, language="ru")

    speech_spans = audio.speech(tmp_path, tracks)
    assert speech_spans["examiner-1"] == [] and speech_spans["student-2"] == []
    assert speech_spans["student-1"] and speech_spans["student-1"][0]["end"] > 1.9
    audio.transcribe(tmp_path, tracks)
    assert whisper.heard == [speech.size], "Whisper heard only the track with speech"
