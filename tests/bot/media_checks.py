"""ffprobe and signal helpers shared by the bot's tests."""

from __future__ import annotations

import json
import subprocess
import wave
from pathlib import Path

import numpy as np


def ffprobe(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def packet_span(path: Path) -> float:
    """Seconds from the first to the last packet, read by ffprobe (ignores header claims)."""
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "0",
            "-show_entries",
            "packet=pts_time,duration_time",
            "-of",
            "csv=p=0",
            str(path),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    rows = [r.split(",") for r in out if r]
    times = [float(r[0]) for r in rows if r[0] not in ("", "N/A")]
    return max(times) - min(times) if times else 0.0


def decode_errors(path: Path) -> str:
    """ffmpeg's complaints while decoding the whole file (empty = it plays cleanly).

    Frames keep their own timestamps (``-fps_mode passthrough``) in the input's time base
    (``-enc_time_base -1``): WebRTC frame intervals vary, and rounding them to a guessed
    frame rate would make ffmpeg complain about the null output, not about the file.
    """
    result = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(path),
            "-fps_mode",
            "passthrough",
            "-enc_time_base",
            "-1",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
    )
    return (
        result.stderr.strip()
        if result.returncode == 0
        else f"rc={result.returncode} {result.stderr}"
    )


def read_wav_mono(path: Path, rate: int = 16000) -> np.ndarray:
    """Any WAV as float mono at `rate` (via ffmpeg, so the source can be 48 kHz)."""
    raw = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(path),
            "-ac",
            "1",
            "-ar",
            str(rate),
            "-f",
            "s16le",
            "-",
        ],
        check=True,
        capture_output=True,
    ).stdout
    return np.frombuffer(raw, dtype="<i2").astype(np.float64)


def wav_header_samples(path: Path) -> int:
    with wave.open(str(path)) as handle:
        return handle.getnframes()


def best_normalized_correlation(recorded: np.ndarray, source: np.ndarray) -> float:
    """Max over lags of the normalized cross-correlation of `recorded` with a looping `source`.

    `recorded` is a window (shorter than the source) cut from a recording of the
    source played in a loop, so the source is tiled twice to cover every phase.
    """
    tiled = np.concatenate([source, source])
    n = len(recorded)
    window = recorded - recorded.mean()
    norm_w = np.linalg.norm(window)
    if norm_w == 0:
        return 0.0
    size = 1 << int(np.ceil(np.log2(len(tiled) + n)))
    corr = np.fft.irfft(np.fft.rfft(tiled, size) * np.conj(np.fft.rfft(window, size)), size)
    corr = corr[: len(tiled) - n + 1]
    # local norms of the tiled source (mean removed) for each lag
    csum = np.concatenate([[0.0], np.cumsum(tiled)])
    csum2 = np.concatenate([[0.0], np.cumsum(tiled**2)])
    sums = csum[n:] - csum[:-n]
    sums2 = csum2[n:] - csum2[:-n]
    local = np.sqrt(np.maximum(sums2 - sums**2 / n, 1e-9))
    return float(np.max(corr / (local * norm_w)))


def median_window_correlation(
    recorded: np.ndarray,
    source: np.ndarray,
    rate: int = 16000,
    window_s: float = 2.0,
    hop_s: float = 0.5,
    skip_s: float = 1.0,
) -> float:
    """Median over 2 s windows of the best normalized correlation with the looping source.

    Short windows, because the browser's fake microphone does not loop the file with
    sample accuracy and jitter shifts the phase a little from one loop to the next.
    """
    starts = np.arange(skip_s, len(recorded) / rate - window_s - skip_s, hop_s)
    values = [
        best_normalized_correlation(recorded[int(s * rate) : int((s + window_s) * rate)], source)
        for s in starts
    ]
    return float(np.median(values)) if values else 0.0
