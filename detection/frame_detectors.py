"""Detectors a rule profile adds in one line: each reads the student's video frames.

A profile's ``[[detectors]]`` entry names the class (``"package.module:Class"``), the
event kind it reports and the rule its events make (``config.profiles.DetectorRule``);
its name for people goes in ``config/locales/<lang>/detectors.toml``. The live watch
builds one per student connection and feeds it the frames the built-in ``VideoWatcher``
sees, in the same worker thread; the events go the way every event goes (the session
bus, ``events.jsonl``, the rule engine, alerts, the report).

Writing one::

    class PhoneOnDesk:
        def __init__(self, *, kind: str, track: str, min_seconds: float) -> None:
            self.spans = ConditionSpans(kind, track, min_seconds)

        def feed(self, t: float, frame: np.ndarray) -> list[DetectorEvent]:
            return self.spans.update(t, holds=phone_seen(frame))

        def finish(self, t: float) -> list[DetectorEvent]:
            return self.spans.finish(t)
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from proctorbot.detection.events import DetectorEvent


class FrameDetector(Protocol):
    def feed(self, t: float, frame: np.ndarray) -> list[DetectorEvent]:
        """One BGR frame at ``t`` (seconds from the recording start): events it ends or
        confirms (a condition that already counts is reported open, ``details.open``)."""
        ...

    def finish(self, t: float) -> list[DetectorEvent]:
        """The frames ended at ``t``: close what is open."""
        ...


def load_frame_detector(path: str, *, kind: str, track: str, min_seconds: float) -> Any:
    """``"package.module:Class"`` built for one student connection."""
    module, _, name = path.partition(":")
    detector_class = getattr(importlib.import_module(module), name)
    return detector_class(kind=kind, track=track, min_seconds=min_seconds)


@dataclass
class ConditionSpans:
    """A yes/no condition seen frame by frame → events: once it has held ``min_seconds``
    an open event (alerted at once), then one each ``extent_every_s`` as it grows, and the
    closed event when it stops (the same start: one finding)."""

    kind: str
    track: str
    min_seconds: float = 1.0
    extent_every_s: float = 5.0
    start: float | None = None
    last: float = 0.0
    reported: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def update(
        self, t: float, holds: bool, details: dict[str, Any] | None = None
    ) -> list[DetectorEvent]:
        if not holds:
            return self.finish(t)
        if self.start is None:
            self.start, self.reported, self.details = t, None, {}
        self.last = t
        self.details.update(details or {})
        long_enough = t - self.start >= self.min_seconds
        due = self.reported is None or t - self.reported >= self.extent_every_s
        if long_enough and due:
            self.reported = t
            return [self._event(t, {**self.details, "open": True})]
        return []

    def finish(self, t: float) -> list[DetectorEvent]:
        if self.start is None:
            return []
        start, self.start = self.start, None
        if t - start < self.min_seconds:
            return []
        return [self._event(t, dict(self.details), start)]

    def _event(self, end: float, details: dict[str, Any], start: float | None = None) -> Any:
        begin = self.start if start is None else start
        return DetectorEvent(
            kind=self.kind,
            start=round(float(begin), 3),
            end=round(end, 3),
            track=self.track,
            details=details,
        )
