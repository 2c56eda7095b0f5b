"""Is every source of the student being recorded? [002 §5.9] Looks at the files.

The bot's recorder writes each participant's tracks as they arrive into
``<session>/<role>-<name>/`` (``audio-*.ogg``, ``video-*.ivf``); a file of the kind
written to within the last few seconds means that source is being recorded.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

SOURCES = {"camera": "video-*", "microphone": "audio-*"}


class RecordingFilesProbe:
    """Implements ``RecordingProbe`` for a SessionBot's session folder."""

    def __init__(self, bot: Any, fresh_s: float = 5.0) -> None:
        self.bot = bot
        self.fresh_s = fresh_s

    def sources_recording(self, peer_id: str) -> dict[str, bool]:
        info = self.bot.peers.get(peer_id)
        role = getattr(info, "role", None) or (info or {}).get("role", "student")
        session_dir = Path(self.bot.session_dir)
        now = time.time()
        found = {source: False for source in SOURCES}
        for folder in session_dir.glob(f"{role}-*"):
            for source, pattern in SOURCES.items():
                for path in folder.glob(pattern):
                    if now - path.stat().st_mtime <= self.fresh_s and path.stat().st_size > 0:
                        found[source] = True
        return found
