"""The unit that flows from the RTP receiver to the writers: one encoded frame."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """A depacketized frame exactly as the browser encoded it.

    ``timestamp`` is the RTP timestamp relative to the track's first frame (aiortc's
    TimestampMapper), in ``clock_rate`` units; ``arrival`` is the wall clock
    (``time.time()``) when its last packet arrived.
    """

    kind: str  # "audio" | "video"
    codec: str  # "vp8" | "h264" | "opus"
    clock_rate: int
    timestamp: int
    arrival: float
    data: bytes
    keyframe: bool = True

    @property
    def seconds(self) -> float:
        return self.timestamp / self.clock_rate
