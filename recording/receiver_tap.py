"""The one place that reaches inside aiortc: encoded frames taken off RTCRtpReceiver.

aiortc 1.16's ``RTCRtpReceiver._handle_rtp_packet`` depacketizes RTP, reassembles a
frame in its jitter buffer and hands ``(codec, JitterFrame)`` to a ``queue.Queue``
that its decoder thread reads (``RTCRtpReceiver.__decoder_queue``). We replace that
queue, before ``receive()`` starts the thread, with ``EncodedFrameTap``: every
reassembled frame goes to our sink as it was encoded, nothing is decoded and the
unread ``RemoteStreamTrack`` queue never grows. The ``None`` that stops the decoder
still goes through, so aiortc shuts down as usual.

Timestamps are kept on the wall clock: when a frame arrives more than
``max_lag_seconds`` later than its RTP timestamp says, frame after frame (the sender stalled but its
clock did not jump), the track's timeline is moved forward by the lag, so a stall becomes a hole in the files, not a shift of all
that follows.

aiortc's ``TimestampMapper`` takes *any* backwards RTP timestamp for a 32-bit wrap and
adds 2**32 to everything after it: one reordered frame (a late retransmission, a
padding packet with an older timestamp, a new sender origin after a renegotiation)
made the timeline jump 47,722 s at 90 kHz. So the tap unwraps the mapped timestamps
again with signed 32-bit differences, and a step of the media clock that disagrees
with the wall clock (more than ``MAX_JUMP_SECONDS`` ahead, or more than
``MAX_BACK_SECONDS`` back) is logged and the timeline continues from the wall clock.

Keyframes are requested with the receiver's own PLI sender (``_send_rtcp_pli``) at
the start, when packets stay missing (NACKs did not repair them), and when a new
segment is due. Checked against aiortc 1.16.0; ``tap_receiver`` fails loudly if the
private names change.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import time
from collections.abc import Callable
from typing import Any

from aiortc import RTCRtpReceiver
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from proctorbot.recording.frames import EncodedFrame
from proctorbot.recording.ivf import is_keyframe

logger = logging.getLogger(__name__)

_QUEUE = "_RTCRtpReceiver__decoder_queue"
_THREAD = "_RTCRtpReceiver__decoder_thread"
_NACK = "_RTCRtpReceiver__nack_generator"
_RTX = "_RTCRtpReceiver__rtx_ssrc"
_JITTER = "_RTCRtpReceiver__jitter_buffer"
_MAPPER = "_RTCRtpReceiver__timestamp_mapper"
_CODECS = "_RTCRtpReceiver__codecs"

FrameSink = Callable[[EncodedFrame], None]
LATE_FRAMES_TO_REANCHOR = 8
MAX_JUMP_SECONDS = 5.0  # media clock ahead of the wall clock by more: a discontinuity
MAX_BACK_SECONDS = 1.0  # media clock stepping back by more: a discontinuity
_WRAP = 1 << 32
_HALF = 1 << 31


def unwrap_step(previous: int, current: int) -> int:
    """The signed difference of two 32-bit RTP timestamps (serial number arithmetic)."""
    return ((current - previous + _HALF) % _WRAP) - _HALF


class EncodedFrameTap(queue.Queue):
    """Stands in for the receiver's decoder queue and diverts frames to a sink."""

    def __init__(self, kind: str, sink: Callable[[RTCRtpCodecParameters, Any], None]) -> None:
        super().__init__()
        self.kind = kind
        self._sink = sink

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:  # end of track: let aiortc's decoder thread finish
            super().put(None, block, timeout)
            return
        codec, jitter_frame = item
        self._sink(codec, jitter_frame)


class _FlushedFrame:
    def __init__(self, data: bytes, timestamp: int) -> None:
        self.data = data
        self.timestamp = timestamp


class ReceivedTrack:
    """One remote track as a stream of ``EncodedFrame``s, with keyframe requests."""

    def __init__(
        self,
        receiver: RTCRtpReceiver,
        kind: str,
        *,
        segment_seconds: float = 10.0,
        min_pli_interval: float = 1.0,
    ) -> None:
        if not hasattr(receiver, _QUEUE) or not hasattr(receiver, _THREAD):
            raise RuntimeError("aiortc's RTCRtpReceiver changed: cannot tap encoded frames")
        if getattr(receiver, _THREAD) is not None:
            raise RuntimeError("the receiver already started decoding; tap it on 'track'")
        self.receiver = receiver
        self.kind = kind
        self.codec: str | None = None
        self.frames = 0
        self.keyframes = 0
        self.last_arrival: float | None = None
        self.sinks: list[FrameSink] = []
        self.segment_seconds = segment_seconds
        self.min_pli_interval = min_pli_interval
        self.plis_sent = 0
        self._last_pli = 0.0
        self._last_key_ts: int | None = None
        self._segment_start_ts: int | None = None
        self._last_ts = 0
        self._clock = 90000
        self._missing_before: set[int] = set()
        self.max_lag_seconds = 1.0
        self._origin_wall: float | None = None
        self._offset = 0
        self._late_streak = 0
        self._last_mapped: int | None = None
        self._unwrapped = 0
        self._prev: tuple[int, float] | None = (
            None  # (timestamp + offset, arrival) of the last frame
        )
        self.discontinuities = 0
        setattr(receiver, _QUEUE, EncodedFrameTap(kind, self._on_jitter_frame))

    # event loop: called from aiortc's RTP handler
    def _on_jitter_frame(self, codec: RTCRtpCodecParameters, jitter_frame: Any) -> None:
        name = codec.name.lower()
        data: bytes = jitter_frame.data
        if not data:
            # padding-only packets (bandwidth probes) carry the previous frame's timestamp
            # and no payload; the jitter buffer turns them into an empty "frame"
            return
        keyframe = True if self.kind == "audio" else is_keyframe(name, data)
        arrival = time.time()
        clock = codec.clockRate
        timestamp = self._unwrap(jitter_frame.timestamp)
        self._check_discontinuity(timestamp, arrival, clock)
        candidate = arrival - (timestamp + self._offset) / clock
        if self._origin_wall is None or candidate < self._origin_wall:
            self._origin_wall = candidate  # the least-delayed frame so far sets the origin
        lag = candidate - self._origin_wall
        # a few late frames are frames the jitter buffer held back over a pause; only
        # a lasting lag means the sender's clock skipped the stall
        self._late_streak = self._late_streak + 1 if lag > self.max_lag_seconds else 0
        if self._late_streak >= LATE_FRAMES_TO_REANCHOR:
            step = 960 if self.kind == "audio" else 1  # keep Opus on its 20 ms grid
            self._offset += round(lag * clock / step) * step
            self._late_streak = 0
        frame = EncodedFrame(
            kind=self.kind,
            codec=name,
            clock_rate=clock,
            timestamp=timestamp + self._offset,
            arrival=arrival,
            data=data,
            keyframe=keyframe,
            wall=self._origin_wall + (timestamp + self._offset) / clock,
        )
        self._prev = (frame.timestamp, arrival)
        self.codec = name
        self._clock = codec.clockRate
        self._last_ts = frame.timestamp
        self.frames += 1
        self.last_arrival = frame.arrival
        if keyframe and self.kind == "video":
            self.keyframes += 1
            self._last_key_ts = frame.timestamp
            # mirror SegmentedTrackWriter: a segment starts at the first keyframe that
            # comes segment_seconds or more after the current segment's start
            start = self._segment_start_ts
            if start is None or (frame.timestamp - start) / self._clock >= self.segment_seconds:
                self._segment_start_ts = frame.timestamp
        for sink in self.sinks:
            sink(frame)

    def _unwrap(self, mapped: int) -> int:
        """Undo aiortc's false wraps: follow the mapped timestamps modulo 2**32."""
        if self._last_mapped is None:
            self._unwrapped = mapped
        else:
            self._unwrapped += unwrap_step(self._last_mapped, mapped)
        self._last_mapped = mapped
        return self._unwrapped

    def _check_discontinuity(self, timestamp: int, arrival: float, clock: int) -> None:
        """A media-clock step the wall clock does not confirm: continue from the wall clock."""
        if self._prev is None:
            return
        previous, previous_arrival = self._prev
        media_step = (timestamp + self._offset - previous) / clock
        wall_step = max(0.0, arrival - previous_arrival)
        if media_step <= wall_step + MAX_JUMP_SECONDS and media_step >= -MAX_BACK_SECONDS:
            return
        quantum = 960 if self.kind == "audio" else 1
        ticks = max(quantum, round(wall_step * clock / quantum) * quantum)
        self._offset = previous + ticks - timestamp
        self.discontinuities += 1
        logger.warning(
            "%s track: RTP timestamp stepped %.3f s while %.3f s passed; "
            "continuing from the wall clock",
            self.kind,
            media_step,
            wall_step,
        )

    def flush(self) -> int:
        """Hand over the complete frames still held in aiortc's jitter buffer.

        The buffer releases a frame only when a later one starts (audio keeps 4 back),
        so when a participant leaves, its last frames would be lost without this.
        """
        buffer = getattr(self.receiver, _JITTER, None)
        mapper = getattr(self.receiver, _MAPPER, None)
        codecs = getattr(self.receiver, _CODECS, {})
        if buffer is None or mapper is None or buffer._origin is None:
            return 0
        packets = []
        for count in range(buffer.capacity):
            packet = buffer._packets[(buffer._origin + count) % buffer.capacity]
            if packet is None:
                break
            packets.append(packet)
        groups: list[list[Any]] = []
        for packet in packets:
            if groups and groups[-1][0].timestamp == packet.timestamp:
                groups[-1].append(packet)
            else:
                groups.append([packet])
        flushed = 0
        for group in groups:
            codec = codecs.get(group[0].payload_type)
            if codec is None or (self.kind == "video" and not group[-1].marker):
                break  # an incomplete frame: nothing after it is decodable either
            frame = _FlushedFrame(b"".join(p._data for p in group), mapper.map(group[0].timestamp))
            self._on_jitter_frame(codec, frame)
            flushed += 1
        buffer.remove(len(packets))
        return flushed

    # keyframe policy ---------------------------------------------------------------
    def request_keyframe(self, reason: str) -> bool:
        """Send a PLI for each media SSRC, at most once per ``min_pli_interval``."""
        if self.kind != "video":
            return False
        now = time.monotonic()
        if now - self._last_pli < self.min_pli_interval:
            return False
        rtx = set(getattr(self.receiver, _RTX, {}))
        sources = [
            s.source for s in self.receiver.getSynchronizationSources() if s.source not in rtx
        ]
        if not sources:
            return False
        self._last_pli = now
        self.plis_sent += 1
        logger.debug("PLI (%s) for %s", reason, sources)
        for ssrc in sources:
            asyncio.ensure_future(self.receiver._send_rtcp_pli(ssrc))
        return True

    def check_keyframe_needs(self) -> str | None:
        """Called ~4 times a second; returns why a keyframe was requested, if it was."""
        if self.kind != "video":
            return None
        reason = None
        if self._last_key_ts is None:
            reason = "start"
        elif (
            self._segment_start_ts is not None
            and (self._last_ts - self._segment_start_ts) / self._clock >= self.segment_seconds
        ):
            reason = "segment"
        else:
            nack = getattr(self.receiver, _NACK, None)
            missing = set(nack.missing) if nack is not None else set()
            if missing & self._missing_before:  # still missing after a NACK round
                reason = "loss"
            self._missing_before = missing
        if reason and self.request_keyframe(reason):
            return reason
        return None

    async def run_keyframe_policy(self, interval: float = 0.25) -> None:
        while True:
            await asyncio.sleep(interval)
            self.check_keyframe_needs()
