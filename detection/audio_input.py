"""Reading any audio a user hands us into 16 kHz mono float32, or a clear reason why not.

Stereo is downmixed and other rates are resampled; empty, truncated, non-audio, silent
and clipped inputs are reported as ``AudioInputError`` or as warnings, never a traceback.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from proctorbot.storage.session_folder import ANALYSIS_SAMPLE_RATE as SAMPLE_RATE

SILENCE_DBFS = -60.0
CLIPPED_FRACTION = 0.01


class AudioInputError(ValueError):
    """The file cannot be used as audio (the message says why)."""


@dataclass
class LoadedAudio:
    """16 kHz mono float32 in [-1, 1], plus what was done to get there and what looks wrong."""

    samples: np.ndarray
    source_rate: int
    source_channels: int
    warnings: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return len(self.samples) / SAMPLE_RATE


def _read_wave(path: Path) -> tuple[np.ndarray, int, int]:
    with wave.open(str(path), "rb") as wav:
        rate, channels, width = wav.getframerate(), wav.getnchannels(), wav.getsampwidth()
        raw = wav.readframes(wav.getnframes())
    usable = len(raw) - len(raw) % (width * channels)
    raw = raw[:usable]  # a truncated file keeps its whole frames
    if width == 1:
        data = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        data = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3)
        ints = (
            b[:, 0].astype(np.int32)
            | (b[:, 1].astype(np.int32) << 8)
            | (b[:, 2].astype(np.int32) << 16)
        )
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
        data = ints.astype(np.float32) / float(1 << 23)
    elif width == 4:
        data = np.frombuffer(raw, "<i4").astype(np.float32) / float(1 << 31)
    else:
        raise AudioInputError(f"{path}: unsupported sample width {width} bytes")
    return data.reshape(-1, channels), rate, channels


def _read_with_av(path: Path) -> tuple[np.ndarray, int, int]:
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise AudioInputError(f"{path}: the file has no audio stream")
            stream = container.streams.audio[0]
            channels = stream.codec_context.channels or 1
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            parts: list[np.ndarray] = []
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    parts.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                parts.append(out.to_ndarray().reshape(-1))
            rate = stream.rate or SAMPLE_RATE
    except AudioInputError:
        raise
    except Exception as exc:  # av raises many kinds for garbage input
        raise AudioInputError(
            f"{path}: not a readable audio file ({exc.__class__.__name__}: {exc})"
        ) from None
    data = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    # already mono at 16 kHz
    return data.reshape(-1, 1), SAMPLE_RATE if rate else SAMPLE_RATE, channels


def resample(audio: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    if rate == target or audio.size == 0:
        return audio.astype(np.float32, copy=False)
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(rate, target)
    return resample_poly(audio, target // g, rate // g).astype(np.float32)


def check_levels(samples: np.ndarray) -> list[str]:
    """Warnings for silent or clipped audio (both still analysable, but the user must know)."""
    notes: list[str] = []
    if samples.size == 0:
        return notes
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    if rms == 0.0 or 20 * np.log10(rms) < SILENCE_DBFS:
        notes.append("the audio is silent (no signal above -60 dBFS)")
    clipped = float(np.mean(np.abs(samples) >= 0.999))
    if clipped > CLIPPED_FRACTION:
        notes.append(
            f"the audio is clipped ({clipped:.1%} of samples at full scale); results may be poor"
        )
    return notes


def load_audio(path: str | Path) -> LoadedAudio:
    """Load a file as 16 kHz mono float32; raises AudioInputError with a readable reason."""
    path = Path(path)
    if not path.is_file():
        raise AudioInputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise AudioInputError(f"{path}: the file is empty")
    warnings: list[str] = []
    try:
        data, rate, channels = _read_wave(path)
    except (wave.Error, EOFError):
        data, rate, channels = _read_with_av(path)
    if channels > 1:
        warnings.append(f"{channels} channels downmixed to mono")
    if rate != SAMPLE_RATE:
        warnings.append(f"resampled from {rate} Hz to {SAMPLE_RATE} Hz")
        if rate < SAMPLE_RATE:
            warnings.append(f"{rate} Hz audio lacks high frequencies; accuracy will be lower")
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    samples = resample(mono, rate)
    if samples.size == 0:
        raise AudioInputError(f"{path}: the file holds no audio samples")
    warnings.extend(check_levels(samples))
    return LoadedAudio(np.ascontiguousarray(samples, np.float32), rate, channels, warnings)


def int16_to_float(chunk: np.ndarray) -> np.ndarray:
    return np.asarray(chunk, dtype=np.float32) / 32768.0


def float_to_int16(samples: np.ndarray) -> np.ndarray:
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)


def write_wav(path: str | Path, samples: np.ndarray, rate: int = SAMPLE_RATE) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(float_to_int16(samples).tobytes())
    return path
