"""Events of one track grouped into episodes: the time the rules measure.

The spans are pyannote.core's: an episode is one segment of the support
(``Timeline.support()``) of its events' segments on one track. Overlapping or touching
events make one episode, so the face detector and the connection reporting the same
absence count once; touching is pyannote's, a gap up to its precision (1 µs) is
arithmetic noise between spans meant to meet. What pyannote does not keep (which events
made a segment) the episode adds: their kinds, evidence and details.

An instantaneous event (``start == end``, or shorter than pyannote's precision) is no
segment of a ``Timeline``: it joins the episode whose span holds its time, or makes an
episode of its own (with other instants at that time). An event whose end precedes its
start is an instant at its start.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from proctorbot.detection.events import DetectorEvent
from pyannote.core import Segment, Timeline


@dataclass(frozen=True)
class Episode:
    """Events of one kind group on one track, overlapping ones merged."""

    start: float
    end: float
    track: str
    kinds: tuple[str, ...]
    evidence: tuple[str, ...]
    details: dict

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)

    @property
    def segment(self) -> Segment:
        return Segment(self.start, self.end)


def event_timeline(events: Iterable[DetectorEvent], uri: str | None = None) -> Timeline:
    """The events' spans as a pyannote ``Timeline`` (instantaneous events leave none)."""
    return Timeline([Segment(e.start, e.end) for e in events], uri=uri)


def merge_episodes(events: Iterable[DetectorEvent]) -> list[Episode]:
    """One episode per segment of each track's support, in time order."""
    by_track: dict[str, list[DetectorEvent]] = {}
    for event in events:
        by_track.setdefault(event.track, []).append(event)
    episodes: list[Episode] = []
    for track, items in by_track.items():
        items.sort(key=lambda e: (e.start, e.end))
        episodes += [_episode(track, group) for group in _groups(items)]
    episodes.sort(key=lambda ep: (ep.start, ep.track))
    return episodes


def _groups(events: Sequence[DetectorEvent]) -> list[list[DetectorEvent]]:
    """The events of each support segment (in the events' order), and of each point."""
    support = list(event_timeline(events).support())
    starts = [segment.start for segment in support]
    spans: dict[int, list[DetectorEvent]] = {}
    points: list[list[DetectorEvent]] = []
    for event in events:
        index = bisect_right(starts, event.start) - 1
        if index >= 0 and event.start <= support[index].end:
            spans.setdefault(index, []).append(event)
        elif points and event.start <= max(e.end for e in points[-1]):
            points[-1].append(event)  # another instant at the same time
        else:
            points.append([event])
    return list(spans.values()) + points


def _episode(track: str, events: Sequence[DetectorEvent]) -> Episode:
    evidence: list[str] = []
    kinds: list[str] = []
    details: dict = {}
    for event in events:
        evidence.extend(p for p in event.evidence if p not in evidence)
        if str(event.kind) not in kinds:
            kinds.append(str(event.kind))
        details.update(event.details)
    return Episode(
        start=min(e.start for e in events),
        end=max(e.end for e in events),
        track=track,
        kinds=tuple(kinds),
        evidence=tuple(evidence),
        details=details,
    )
