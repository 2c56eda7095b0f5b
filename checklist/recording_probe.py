"""Is every source of the student being recorded? [002 §5.9] The bot knows: a frame of
the camera and of the microphone reached its recorder a moment ago (nothing of the
session folder is read while the session runs)."""

from __future__ import annotations

from typing import Any


class BotRecordingProbe:
    """Implements ``RecordingProbe`` by asking the session's bot (``SessionBot``)."""

    def __init__(self, bot: Any, fresh_s: float = 5.0) -> None:
        self.bot = bot
        self.fresh_s = fresh_s

    def sources_recording(self, peer_id: str) -> dict[str, bool]:
        return dict(self.bot.sources_recording(peer_id, self.fresh_s))
