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
        receiver, "getSynchronizationSources",
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
