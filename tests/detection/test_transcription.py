"""Both Whisper engines behind one interface, word timestamps, forced language."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from proctorbot.detection.model_files import default_cache_dir

    # the joined/converted models are large: reuse the user cache when it is writable
    cache = default_cache_dir()
    try:
        cache.mkdir(parents=True, exist_ok=True)
        return cache
    except OSError:
        return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def faster(model_cache: Path):
    from proctorbot.config.settings import DetectionSettings
    from proctorbot.detection.transcription import build_transcriber

    return build_transcriber(DetectionSettings(), model_cache)


def test_faster_whisper_on_synthetic_speech(faster, voices):
    transcript = faster.transcribe(voices.student, "en")
    assert transcript.engine == "faster-whisper" and transcript.language == "en"
    text = transcript.text.lower()
    assert "derivative" in text and "product" in text, text
    words = [w for s in transcript.segments for w in s.words]
    assert len(words) > 20
    assert all(a.start <= b.start for a, b in zip(words, words[1:], strict=False))
    assert words[-1].end <= len(voices.student) / 16000 + 0.5


def test_faster_whisper_russian_and_english_real(faster, evaldata):
    from proctorbot.detection.audio_input import load_audio

    ru = faster.transcribe(
        load_audio(evaldata / "speech_single/russian/pisets_test_sound_ru.wav").samples, "ru"
    )
    assert ru.language == "ru" and "сети" in ru.text.lower()
    en = faster.transcribe(load_audio(evaldata / "speech_single/english/jfk.wav").samples, "en")
    assert "ask not what your country" in en.text.lower()


def test_openai_whisper_really_runs(model_cache: Path, evaldata):
    """whisper.load_model(path) on the packaged base model converted once to a .pt."""
    from proctorbot.config.settings import DetectionSettings
    from proctorbot.detection.audio_input import load_audio
    from proctorbot.detection.transcription import OpenAIWhisperTranscriber, build_transcriber

    transcriber = build_transcriber(DetectionSettings(whisper_engine="openai-whisper"), model_cache)
    assert isinstance(transcriber, OpenAIWhisperTranscriber)
    audio = load_audio(evaldata / "speech_single/english/pisets_test_sound_en.wav").samples
    transcript = transcriber.transcribe(audio, "en")
    assert transcript.engine == "openai-whisper"
    assert "neural networks" in transcript.text.lower(), transcript.text
    assert transcript.segments[0].words and transcript.segments[0].words[0].end > 0


def test_openai_whisper_name_without_file_is_refused():
    from proctorbot.detection.model_files import ModelMissingError
    from proctorbot.detection.transcription import OpenAIWhisperTranscriber

    with pytest.raises(ModelMissingError, match="download it yourself|not found"):
        OpenAIWhisperTranscriber("base")


def test_transcribe_cli_json(voices, tmp_path: Path, monkeypatch, model_cache: Path):
    from click.testing import CliRunner
    from proctorbot.detection.audio_input import write_wav

    from proctorbot.cli import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PROCTORBOT_CONFIG", raising=False)
    monkeypatch.setenv("PROCTORBOT_DETECTION__MODEL_CACHE_DIR", str(model_cache))
    write_wav(tmp_path / "a.wav", voices.enroll)
    out = CliRunner().invoke(cli, ["transcribe", "a.wav", "--language", "en", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout.strip().splitlines()[-1])
    assert data["language"] == "en" and "petrov" in data["text"].lower()
    assert data["segments"][0]["words"][0]["start"] >= 0.0
