"""The one error a relay raises for a message it cannot relay (conference/signaling.py, and
the Janus bridge's relays): the sender gets ``{"type": "error", "code": ..., "message": ...}``."""

from __future__ import annotations


class BadMessage(Exception):
    """A client message that cannot be relayed; `code` goes back in the `error`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
