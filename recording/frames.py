"""The unit that flows from the RTP receiver to the writers: one encoded frame."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """A depacketized frame exactly as the browser encoded it.

    ``timestamp`` is the RTP timestamp relative to the track's first frame (aiortc's
    TimestampMapper, moved on after stalls), in ``clock_rate`` units; ``arrival`` is the
    wall clock (``time.time()``) when the jitter buffer released it; ``wall`` is the
    wall-clock time the frame belongs to: the track's least-delayed arrival so far
    projected along the RTP timeline, so jitter and late first frames cancel out.
    """

    kind: str  # "audio" | "video"
    codec: str  # "vp8" | "h264" | "opus"
    clock_rate: int
    timestamp: int
    arrival: float
    data: bytes
    keyframe: bool = True
    wall: float = 0.0

    @property
    def seconds(self) -> float:
        return self.timestamp / self.clock_rate
