"""Loopback-only ICE for tests and single-machine demos.

aioice's ``Connection.gather_candidates`` offers every host address except
127.0.0.1. When ``settings.conference.allow_loopback`` is on, the bot's peer
connections gather **only** 127.0.0.1 and drop remote candidates that are not
loopback, so a test never sends a packet to another address. The change is made
per connection (no module-level patching): ``restrict_to_loopback(pc)`` must run
before ``setLocalDescription`` gathers candidates.
"""

from __future__ import annotations

import ipaddress
import types
from typing import Any

from aiortc import RTCPeerConnection

LOOPBACK = "127.0.0.1"


def _ice_connections(pc: RTCPeerConnection) -> list[Any]:
    connections = []
    for transceiver in pc.getTransceivers():
        gatherer = transceiver.receiver.transport.transport.iceGatherer
        connections.append(gatherer._connection)
    return connections


def _gather_only(address: str) -> Any:
    async def gather(self: Any) -> None:
        """Replacement for aioice ``Connection.gather_candidates``: one host address only."""
        if self._local_candidates_start:
            return
        self._local_candidates_start = True
        for component in self._components:
            self._local_candidates += await self.get_component_candidates(
                component=component, addresses=[address]
            )
        self._local_candidates_end = True

    return gather


def restrict_to_address(pc: RTCPeerConnection, address: str) -> None:
    """Gather host candidates on ``address`` only (e.g. a test's veth address: Janus
    refuses loopback candidates); same rules as ``restrict_to_loopback``."""
    gather = _gather_only(address)
    for connection in _ice_connections(pc):
        if not hasattr(connection, "get_component_candidates"):
            raise RuntimeError("aioice changed: cannot restrict ICE to one address")
        connection.gather_candidates = types.MethodType(gather, connection)


def restrict_to_loopback(pc: RTCPeerConnection) -> None:
    restrict_to_address(pc, LOOPBACK)


def is_loopback_candidate(candidate_line: str) -> bool:
    """True for an SDP candidate (``candidate:… 127.0.0.1 …``) on a loopback address."""
    parts = candidate_line.split()
    if len(parts) < 5:
        return False
    try:
        return ipaddress.ip_address(parts[4]).is_loopback
    except ValueError:
        return False  # an mDNS name (xxx.local) or garbage


def loopback_only_sdp(sdp: str) -> str:
    """Drop every ``a=candidate`` line that is not on a loopback address."""
    kept = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:") and not is_loopback_candidate(line[2:]):
            continue
        kept.append(line)
    return "\r\n".join(kept) + "\r\n"
