"""Network quality of one participant's connection, read from aiortc's receive stats.

The equipment step of the checklist needs "network quality" (seed 002 §5.9): the share
of RTP packets lost and the interarrival jitter of what the bot receives from the
student are exactly what the exam's recording will suffer from.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from aiortc import RTCPeerConnection

# RTP clock rates of what browsers send (VP8/H.264 video, Opus audio).
CLOCK_RATE = {"video": 90_000, "audio": 48_000}


@dataclass(frozen=True)
class NetworkQuality:
    packets_received: int
    packets_lost: int
    jitter_ms: float  # the worst stream's interarrival jitter

    @property
    def loss_ratio(self) -> float:
        total = self.packets_received + max(self.packets_lost, 0)
        return max(self.packets_lost, 0) / total if total else 0.0

    def acceptable(self, max_loss_ratio: float = 0.05, max_jitter_ms: float = 100.0) -> bool:
        return (
            self.packets_received > 0
            and self.loss_ratio <= max_loss_ratio
            and self.jitter_ms <= max_jitter_ms
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["loss_ratio"] = round(self.loss_ratio, 4)
        data["jitter_ms"] = round(self.jitter_ms, 1)
        return data


def quality_from_stats(stats: list[Any]) -> NetworkQuality:
    """Sum the inbound RTP streams of one connection's stats report."""
    received = lost = 0
    jitter_ms = 0.0
    for entry in stats:
        if getattr(entry, "type", "") != "inbound-rtp":
            continue
        received += int(entry.packetsReceived or 0)
        lost += int(entry.packetsLost or 0)
        rate = CLOCK_RATE.get(getattr(entry, "kind", ""), 90_000)
        jitter_ms = max(jitter_ms, 1000.0 * float(entry.jitter or 0) / rate)
    return NetworkQuality(packets_received=received, packets_lost=lost, jitter_ms=jitter_ms)


async def measure(pc: RTCPeerConnection) -> NetworkQuality:
    report = await pc.getStats()
    return quality_from_stats(list(report.values()))
