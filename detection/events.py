"""What every detector emits: a typed, timestamped event with its evidence.

Detectors know nothing of rules, Telegram or reports; the rule engine (rules/)
turns events into violations using the session's rule profile.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any


class EventKind(enum.StrEnum):
    # audio (student's own track)
    THIRD_PARTY_VOICE = "third_party_voice"
    OVERLAPPED_SPEECH = "overlapped_speech"
    NO_AUDIO = "no_audio"
    # video (student's camera)
    EXTRA_PERSON = "extra_person"
    FACE_ABSENT = "face_absent"
    FACE_TOO_SMALL = "face_too_small"
    LOOKING_AWAY = "looking_away"
    FACE_COVERED = "face_covered"
    TOO_DARK = "too_dark"
    BACKLIT = "backlit"
    FROZEN_VIDEO = "frozen_video"
    BLACK_VIDEO = "black_video"
    PERSON_REPLACED = "person_replaced"
    # connection
    VIDEO_LOST = "video_lost"
    PARTICIPANT_LEFT = "participant_left"
    INACTIVITY = "inactivity"
    # the student's call page (conference/static/call.js), relayed by the bot [001 §4]
    PAGE_HIDDEN = "page_hidden"  # the exam tab hidden (another tab, minimised)
    WINDOW_BLUR = "window_blur"  # another window or application in front
    FULLSCREEN_LEFT = "fullscreen_left"  # out of full screen where the profile requires it


def event_kind(value: str) -> EventKind | str:
    """The built-in kind of that name, else the name itself (a profile's own detector)."""
    try:
        return EventKind(value)
    except ValueError:
        return value


@dataclass(frozen=True)
class DetectorEvent:
    """One finding of one detector on one track, times in seconds from session start."""

    # An EventKind, or the kind of a detector a rule profile adds (``[[detectors]]``).
    kind: EventKind | str
    start: float
    end: float
    score: float = 1.0
    track: str = ""  # participant id whose track it came from
    evidence: tuple[str, ...] = ()  # paths (clip, snapshot) relative to the session folder
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = str(self.kind)
        data["evidence"] = list(self.evidence)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DetectorEvent:
        return cls(
            kind=event_kind(str(data["kind"])),
            start=float(data["start"]),
            end=float(data["end"]),
            score=float(data.get("score", 1.0)),
            track=str(data.get("track", "")),
            evidence=tuple(data.get("evidence", ())),
            details=dict(data.get("details", {})),
        )
