"""The composite shows the student's other sources: the shared screen wide under the
student's camera (readable), the phone as a small tile like any other participant."""

from __future__ import annotations

from pathlib import Path

import pytest
from proctorbot.handover.session_handover import composite_labels
from proctorbot.recording.composite import (
    BIG,
    LABEL_HEIGHT,
    SCREEN,
    build_composite,
    plan_layout,
)
from proctorbot.recording.manifest import Manifest, ParticipantEntry

from tests.recording.test_composite import ORIGIN, frame_at, record_runs

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def test_screen_share_tile_is_wide_under_the_student() -> None:
    layout = plan_layout(
        [
            ("student-b-screen", "student"),
            ("examiner-a", "examiner"),
            ("student-b", "student"),
            ("student-b-phone", "student"),
        ],
        {},
    )
    tiles = {t.participant: t for t in layout.tiles}
    assert layout.tiles[0].participant == "student-b"  # the camera stays the big one
    screen = tiles["student-b-screen"]
    assert (screen.x, screen.y) == (0, BIG[1] + LABEL_HEIGHT)
    assert (screen.width, screen.height) == (SCREEN[0], SCREEN[1] + LABEL_HEIGHT)
    assert tiles["student-b-phone"].x >= BIG[0]  # the phone: a small tile on the right
    assert layout.height >= screen.y + screen.height
    assert layout.width % 2 == 0 and layout.height % 2 == 0


def test_screen_share_is_in_the_composite(tmp_path: Path) -> None:
    files = record_runs(tmp_path, "student-s1", "student", ((0.0, 6.0),))
    files += record_runs(tmp_path, "student-s1-screen", "student", ((1.0, 5.0),))
    entries = [
        ParticipantEntry("student-s1", "student", "Анна Смирнова", "s1", ORIGIN),
        ParticipantEntry("student-s1-screen", "student", "Анна Смирнова", "s1", ORIGIN),
    ]
    manifest = Manifest("s", ORIGIN, ORIGIN + 6.0, participants=entries, files=files)
    labels = composite_labels("en", manifest)
    assert labels["student-s1-screen"] == "Анна Смирнова · student · screen"
    made = build_composite(tmp_path, manifest, tmp_path / "composite.mp4", labels)
    assert made is not None
    top = BIG[1] + LABEL_HEIGHT
    screen_area = (slice(top, top + SCREEN[1]), slice(0, SCREEN[0]))
    assert float(frame_at(made, 0.5)[screen_area].mean()) < 5  # not shared yet: black
    assert float(frame_at(made, 3.5)[screen_area].mean()) > 20  # shared: its picture (letterboxed)
