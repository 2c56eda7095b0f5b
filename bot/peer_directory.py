"""Who is in the call right now, telling the session bus of every arrival and departure.

A ``dict`` of peer id → ``PeerInfo`` (the shape every part of a session already reads),
whose changes publish ``PeerJoined`` / ``PeerLeft``: the bus hears of each, whoever made
the change, so no part of the session has to poll the list to notice one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from proctorbot.bot.session_bus import PeerJoined, PeerLeft
from proctorbot.recording.session_recorder import participant_key


class PeerDirectory(dict):
    def __init__(self, publish: Callable[[object], None]) -> None:
        super().__init__()
        self._publish = publish

    def __setitem__(self, peer_id: str, peer: Any) -> None:
        known = peer_id in self
        super().__setitem__(peer_id, peer)
        if not known:
            self._publish(PeerJoined(peer))

    def update(self, *others: Any, **more: Any) -> None:  # type: ignore[override]
        for peer_id, peer in dict(*others, **more).items():
            self[peer_id] = peer

    def __delitem__(self, peer_id: str) -> None:
        peer = self[peer_id]
        super().__delitem__(peer_id)
        self._publish(PeerLeft(peer, "left"))

    def pop(self, peer_id: str, *default: Any) -> Any:
        return self.remove(peer_id, "left", *default)

    def remove(self, peer_id: str, reason: str, *default: Any) -> Any:
        """Drop a peer, telling the bus why (``left``, ``replaced``, ``signaling_lost``)."""
        if peer_id not in self:
            if default:
                return default[0]
            raise KeyError(peer_id)
        peer = super().pop(peer_id)
        self._publish(PeerLeft(peer, reason))
        return peer

    def clear(self) -> None:
        for peer_id in list(self):
            self.remove(peer_id, "left")

    def replace_all(self, peers: Iterable[Any], reason: str = "signaling_lost") -> None:
        """The server's list after a (re)join is the truth: who is gone leaves, who is new
        joins, who stayed is updated in place without a word."""
        fresh = {peer.peer_id: peer for peer in peers}
        for peer_id in [p for p in self if p not in fresh]:
            self.remove(peer_id, reason)
        for peer_id, peer in fresh.items():
            self[peer_id] = peer


def peer_field(info: Any, name: str) -> str:
    """A field of a peer as a session knows it (a mapping or a ``PeerInfo``); "" when
    missing."""
    value = info.get(name, "") if isinstance(info, Mapping) else getattr(info, name, "")
    return "" if value is None else str(value)


def track_key(info: Any, peer_id: str) -> str:
    """The participant key the recorder and the report use for this peer's tracks."""
    return participant_key(
        peer_field(info, "role"),
        peer_field(info, "person_id"),
        peer_field(info, "name"),
        peer_id,
        peer_field(info, "device") or "main",
    )
