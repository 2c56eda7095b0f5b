"""The phone's side view: a phone put face down (black) or stuck (frozen) is an event on
the phone's own track; a moving picture is none. Fake faces, drawn frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from proctorbot.detection.events import EventKind
from proctorbot.detection.side_view import SideViewWatcher

TRACK = "student-p1-phone"


class OneFace:
    def __init__(self) -> None:
        self.calls = 0

    def detect(self, frame: np.ndarray) -> list[object]:
        self.calls += 1
        return [object()]


def desk(t: float) -> np.ndarray:
    """A lit desk with something moving over it (never black, never frozen)."""
    rng = np.random.default_rng(int(t * 10))
    return rng.integers(60, 200, size=(120, 160, 3), dtype=np.uint8)


def test_phone_face_down_is_black_video_and_a_still_picture_frozen_on_the_phone_track(
    tmp_path: Path,
) -> None:
    faces = OneFace()
    watcher = SideViewWatcher(faces, track=TRACK, min_seconds=1.0, evidence_dir=tmp_path)
    events = []
    still = desk(99.0)
    black = np.zeros((120, 160, 3), dtype=np.uint8)
    t = 0.0
    while t < 40.0:
        if t < 5.0:
            frame = desk(t)
        elif t < 15.0:  # put face down
            frame = black
        elif t < 20.0:
            frame = desk(t)
        else:  # the phone's camera stuck on one picture
            frame = still
        events += watcher.feed(t, frame)
        t += 0.5
    events += watcher.finish(t)
    closed = [(e.kind, e.track, e.start, e.end) for e in events if not e.details.get("open")]
    assert closed == [
        (EventKind.BLACK_VIDEO, TRACK, 5.0, 15.0),
        (EventKind.FROZEN_VIDEO, TRACK, 20.5, 40.0),
    ]
    assert any(e.kind == EventKind.BLACK_VIDEO and e.details.get("open") for e in events)
    assert faces.calls == 80 - 20  # no face search in a black frame
