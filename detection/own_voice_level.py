"""How close this student's own windows usually come to their voiceprint.

A fixed cosine threshold (0.35) separates most voices from the student's, but a prompter
whose voice resembles the student's scores 0.36–0.45 and passes it, while the student's own
windows score 0.7–0.9. ``OwnVoiceLevel`` keeps the similarities of the windows judged to be
the student's and says when a window falls far below that level; the detector flags a run
of such windows (a few seconds of speech), never one alone.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np


@dataclass
class OwnVoiceLevel:
    drop: float = 0.3  # below the median of the student's recent windows by this much …
    cap: float = 0.5  # … and below this cosine
    history_min: int = 10  # windows of the student's own voice before the level is trusted
    history: int = 60  # the level follows the last this many windows (~1 min of speech)
    _seen: deque[float] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._seen = deque(maxlen=self.history)

    @property
    def level(self) -> float | None:
        """Median similarity of the student's recent windows; None until enough are seen."""
        if len(self._seen) < self.history_min:
            return None
        return float(np.median(self._seen))

    def below(self, similarity: float) -> bool:
        """True when the window is far below the student's level; otherwise it counts as the
        student's own and moves the level."""
        level = self.level
        if level is not None and similarity < min(self.cap, level - self.drop):
            return True
        self._seen.append(similarity)
        return False

    def add(self, similarity: float) -> None:
        """A window judged the student's by other means (e.g. with the examiner speaking)."""
        self._seen.append(similarity)
