"""Bad input gives a clear message or a usable, converted signal — never a traceback."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
from proctorbot.detection.audio_input import AudioInputError, load_audio


def _wav(path: Path, data: np.ndarray, rate: int = 16000, channels: int = 1) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data.astype("<i2").tobytes())
    return path


def _tone(seconds: float, rate: int, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * 220 * t) * amp * 32767).astype(np.int16)


def test_empty_missing_and_non_audio(tmp_path: Path):
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioInputError, match="empty"):
        load_audio(tmp_path / "empty.wav")
    with pytest.raises(AudioInputError, match="no such file"):
        load_audio(tmp_path / "absent.wav")
    (tmp_path / "notes.wav").write_text("this is not audio at all\n" * 50)
    with pytest.raises(AudioInputError, match="not a readable audio file|no audio"):
        load_audio(tmp_path / "notes.wav")


def test_header_only_wav_has_no_samples(tmp_path: Path):
    path = _wav(tmp_path / "zero.wav", np.zeros(0, np.int16))
    with pytest.raises(AudioInputError, match="no audio samples"):
        load_audio(path)


def test_truncated_wav_keeps_whole_frames(tmp_path: Path):
    path = _wav(tmp_path / "full.wav", _tone(2.0, 16000))
    cut = tmp_path / "cut.wav"
    cut.write_bytes(path.read_bytes()[: 44 + 16001])  # header says 2 s, half a frame at the end
    audio = load_audio(cut)
    assert 0.49 < audio.duration < 0.51


def test_8khz_stereo_is_resampled_and_downmixed(tmp_path: Path):
    mono = _tone(1.0, 8000)
    stereo = np.stack([mono, mono], axis=1).reshape(-1)
    audio = load_audio(_wav(tmp_path / "st.wav", stereo, rate=8000, channels=2))
    assert audio.source_rate == 8000 and audio.source_channels == 2
    assert abs(audio.duration - 1.0) < 0.01
    assert any("downmixed" in w for w in audio.warnings)
    assert any("8000 Hz" in w for w in audio.warnings)


def test_silent_and_clipped_are_reported(tmp_path: Path):
    silent = load_audio(_wav(tmp_path / "silent.wav", np.zeros(16000, np.int16)))
    assert any("silent" in w for w in silent.warnings)
    loud = np.clip(np.sin(np.arange(16000) / 8.0) * 3.0, -1.0, 1.0) * 32767
    clipped = load_audio(_wav(tmp_path / "clip.wav", loud.astype(np.int16)))
    assert any("clipped" in w for w in clipped.warnings)


def test_cli_turns_bad_input_into_a_message(tmp_path: Path, monkeypatch):
    from click.testing import CliRunner

    from proctorbot.cli import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PROCTORBOT_CONFIG", raising=False)
    (tmp_path / "bad.wav").write_bytes(b"RIFF\x00\x00garbage")
    result = CliRunner().invoke(cli, ["analyze-audio", "bad.wav", "--json"])
    assert result.exit_code == 1
    assert "Error:" in result.output and "Traceback" not in result.output
