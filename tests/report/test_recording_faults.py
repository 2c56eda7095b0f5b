"""Gaps the recording caused (no bot, a full disk) are shown, and never held against the
student: the rules skip them, the timeline draws them apart from the student's own gaps."""

from __future__ import annotations

from proctorbot.config.profiles import load_profile
from proctorbot.detection.events import DetectorEvent, EventKind
from proctorbot.report.timeline import TimelineRow, timeline_svg
from proctorbot.rules.engine import evaluate

STUDENT = "student-p1"


def _left(start: float, end: float, reason: str) -> DetectorEvent:
    return DetectorEvent(
        EventKind.PARTICIPANT_LEFT, start, end, track=STUDENT, details={"reason": reason}
    )


def test_time_without_a_bot_or_disk_is_never_the_students_absence() -> None:
    profile = load_profile("university-admission")  # away: 5 min in total allowed
    mine = [_left(0.0, 200.0, "left")]
    faults = [_left(300.0, 900.0, "bot_down"), _left(1000.0, 1400.0, "disk_full")]
    away = [f for f in evaluate(mine + faults, profile) if f.rule == "away"]
    assert [(f.start, f.end, f.severity) for f in away] == [(0.0, 200.0, "note")]
    assert evaluate(faults, profile) == []


def test_the_timeline_draws_recording_gaps_apart_with_their_reason() -> None:
    row = TimelineRow(
        STUDENT, "Anna Smirnova", [(0.0, 5.0)], [(10.0, 20.0)], [(30.0, 42.5, "bot_down")]
    )
    svg = timeline_svg(
        60.0, [row], [], labels={"speech": "speech", "findings_row": "findings"}, finding_titles={}
    )
    assert svg.count('class="gap"') == 1
    assert svg.count('class="gap recording-gap" data-reason="bot_down"') == 1
    assert "no bot (not the participant&#x27;s absence)" in svg or "no bot" in svg
