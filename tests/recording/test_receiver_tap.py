"""The tap on aiortc's RTCRtpReceiver: frames diverted, keyframes requested."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from aiortc import RTCPeerConnection
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpreceiver import RTCRtpSynchronizationSource
from proctorbot.recording.frames import EncodedFrame
from proctorbot.recording.receiver_tap import ReceivedTrack

from tests.recording.encoded import VP8, vp8_frames


@pytest.fixture
async def receiver() -> Any:
    pc = RTCPeerConnection()
    transceiver = pc.addTransceiver("video", direction="recvonly")
    yield transceiver.receiver
    await pc.close()


def feed(receiver: Any, frame: EncodedFrame) -> None:
    """What aiortc's _handle_rtp_packet does with a reassembled frame."""
    receiver._RTCRtpReceiver__decoder_queue.put((VP8, JitterFrame(frame.data, frame.timestamp)))


async def test_frames_reach_sinks_untouched_and_keyframes_are_requested(
    receiver: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    plis: list[int] = []

    async def send_pli(ssrc: int) -> None:
        plis.append(ssrc)

    monkeypatch.setattr(receiver, "_send_rtcp_pli", send_pli)
    monkeypatch.setattr(
        receiver,
        "getSynchronizationSources",
        lambda: [RTCRtpSynchronizationSource(timestamp=dt.datetime.now(), source=1234)],
    )
    track = ReceivedTrack(receiver, "video", segment_seconds=2.0, min_pli_interval=0.0)
    got: list[EncodedFrame] = []
    track.sinks.append(got.append)
    frames = vp8_frames(45, keyframe_every=0)  # 3 s, only the first is a keyframe

    assert track.check_keyframe_needs() == "start"  # nothing yet: ask for a keyframe
    feed(receiver, frames[0])
    assert track.check_keyframe_needs() is None
    for frame in frames[1:31]:
        feed(receiver, frame)
    assert track.check_keyframe_needs() == "segment", "2 s since the segment's keyframe"

    nack = receiver._RTCRtpReceiver__nack_generator
    nack.missing.update({100, 101})
    track.segment_seconds = 60.0
    assert track.check_keyframe_needs() is None  # a NACK may still repair it
    assert track.check_keyframe_needs() == "loss"  # still missing: ask for a keyframe

    assert [f.data for f in got] == [f.data for f in frames[:31]]
    assert got[0].keyframe and not any(f.keyframe for f in got[1:])
    await asyncio.sleep(0)  # the PLIs are sent by tasks
    assert plis == [1234, 1234, 1234]
    assert receiver._RTCRtpReceiver__decoder_queue.qsize() == 0, "nothing is left to decode"


async def test_tap_refuses_a_started_receiver(receiver: Any) -> None:
    receiver._RTCRtpReceiver__decoder_thread = object()
    with pytest.raises(RuntimeError, match="already started"):
        ReceivedTrack(receiver, "video")


async def test_a_reordered_frame_is_no_rtp_wrap(receiver: Any) -> None:
    """aiortc's TimestampMapper takes any step back for a 32-bit wrap (+47,722 s at 90 kHz)."""
    track = ReceivedTrack(receiver, "video")
    got: list[EncodedFrame] = []
    track.sinks.append(got.append)
    mapper = receiver._RTCRtpReceiver__timestamp_mapper
    frames = vp8_frames(30)
    base = (1 << 32) - 10 * 6000  # a real wrap comes after 10 frames, too
    order = list(range(30))
    order[20], order[21] = 21, 20  # a late (retransmitted) frame arrives after its successor
    for index in order:
        raw = (base + frames[index].timestamp) % (1 << 32)
        jitter = JitterFrame(frames[index].data, mapper.map(raw))  # what _handle_rtp_packet does
        track._on_jitter_frame(VP8, jitter)
    stamps = [f.timestamp for f in got]
    assert max(stamps) - min(stamps) == 29 * 6000, "2 s of frames span 2 s, wrap or not"
    assert track.discontinuities == 0


async def test_a_timestamp_reset_continues_from_the_wall_clock(receiver: Any) -> None:
    track = ReceivedTrack(receiver, "video")
    got: list[EncodedFrame] = []
    track.sinks.append(got.append)
    frames = vp8_frames(20)
    for index, frame in enumerate(frames):
        jump = 0 if index < 10 else 3_000_000_000  # a new sender origin (~9 h ahead)
        track._on_jitter_frame(VP8, JitterFrame(frame.data, frame.timestamp + jump))
    assert track.discontinuities == 1
    stamps = [f.timestamp for f in got]
    assert stamps == sorted(stamps) and (stamps[-1] - stamps[0]) / 90000 < 2.0
