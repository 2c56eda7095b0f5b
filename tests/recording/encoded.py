"""Frames encoded by aiortc's own encoders, depacketized the way the receiver does."""

from __future__ import annotations

import fractions
import time

import av
import numpy as np
from aiortc.codecs import get_encoder
from aiortc.codecs.vpx import vp8_depayload
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from proctorbot.recording.frames import EncodedFrame
from proctorbot.recording.ivf import is_keyframe

from tests.bot.participant import moving_pattern

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000)
OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2)


def vp8_frames(
    count: int,
    fps: int = 15,
    size: tuple[int, int] = (320, 240),
    keyframe_every: int = 0,
    start: float | None = None,
) -> list[EncodedFrame]:
    encoder = get_encoder(VP8)
    images = moving_pattern(*size, 30)
    origin = time.time() if start is None else start
    frames = []
    for i in range(count):
        picture = av.VideoFrame.from_ndarray(images[i % 30], format="bgr24")
        picture.pts = i * (90000 // fps)
        picture.time_base = fractions.Fraction(1, 90000)
        force = keyframe_every > 0 and i > 0 and i % keyframe_every == 0
        payloads, timestamp = encoder.encode(picture, force_keyframe=force)
        data = b"".join(vp8_depayload(p) for p in payloads)
        seconds = i / fps
        frames.append(
            EncodedFrame(
                "video",
                "vp8",
                90000,
                i * (90000 // fps),
                origin + seconds,
                data,
                is_keyframe("vp8", data),
                origin + seconds,
            )
        )
    return frames


def opus_frames(
    count: int, start: float | None = None, skip: range = range(0)
) -> list[EncodedFrame]:
    """20 ms Opus packets of a 440 Hz tone; packets in `skip` are left out (loss)."""
    encoder = get_encoder(OPUS)
    origin = time.time() if start is None else start
    frames = []
    for i in range(count):
        t = (np.arange(960) + i * 960) / 48000
        tone = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
        chunk = av.AudioFrame.from_ndarray(
            np.stack([tone, tone]).reshape(1, -1), format="s16", layout="stereo"
        )
        chunk.sample_rate = 48000
        chunk.pts = i * 960
        chunk.time_base = fractions.Fraction(1, 48000)
        payloads, _ = encoder.encode(chunk)
        if i in skip or not payloads:
            continue
        seconds = i * 0.02
        frames.append(
            EncodedFrame(
                "audio",
                "opus",
                48000,
                i * 960,
                origin + seconds,
                payloads[0],
                True,
                origin + seconds,
            )
        )
    return frames


def h264_frames(count: int, fps: int = 15) -> list[bytes]:
    """Annex-B access units from aiortc's H.264 encoder, depacketized."""
    from aiortc.codecs.h264 import h264_depayload

    codec = RTCRtpCodecParameters(
        mimeType="video/H264",
        clockRate=90000,
        parameters={"packetization-mode": "1", "profile-level-id": "42e01f"},
    )
    encoder = get_encoder(codec)
    images = moving_pattern(320, 240, 30)
    units = []
    for i in range(count):
        picture = av.VideoFrame.from_ndarray(images[i % 30], format="bgr24")
        picture.pts = i * (90000 // fps)
        picture.time_base = fractions.Fraction(1, 90000)
        payloads, _ = encoder.encode(picture)
        units.append(b"".join(h264_depayload(p) for p in payloads))
    return units
