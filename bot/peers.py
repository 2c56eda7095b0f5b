"""Who is in the call, as the signaling server describes them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class PeerInfo:
    peer_id: str
    role: str
    name: str
    person_id: str = ""
    mic: bool = True
    cam: bool = True
    device: str = "main"  # which of the person's devices (a second one is a second source)

    @property
    def main_device(self) -> bool:
        return self.device in ("", "main")

    @classmethod
    def from_message(cls, data: dict[str, Any]) -> PeerInfo:
        return cls(
            peer_id=str(data["peer_id"]),
            role=str(data.get("role", "")),
            name=str(data.get("name", "")),
            person_id=str(data.get("person_id", "") or ""),
            mic=bool(data.get("mic", True)),
            cam=bool(data.get("cam", True)),
            device=str(data.get("device", "") or "main"),
        )
