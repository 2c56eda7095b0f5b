"""The student's other sources (the phone as a second camera, the screen share) have gaps
of their own, counted against their own allowances, never as the student's time away."""

from __future__ import annotations

from proctorbot.config.profiles import load_profile
from proctorbot.detection.events import DetectorEvent, EventKind
from proctorbot.rules.engine import evaluate, source_device


def left(track: str, start: float, end: float) -> DetectorEvent:
    return DetectorEvent(
        EventKind.PARTICIPANT_LEFT, start, end, track=track, details={"reason": "left"}
    )


def test_source_device_of_a_track() -> None:
    assert source_device("student-p1") == "main"
    assert source_device("student-p1-phone") == "phone"
    assert source_device("student-p1-screen") == "screen"
    assert source_device("student-anna-phoneless") == "main"


def test_phone_camera_gaps_use_their_own_allowance_not_the_students_time_away() -> None:
    profile = load_profile("examus-like")  # any time away is gross there; the phone has 60 s
    assert profile.thresholds.phone_away_allowance_s == 60
    findings = evaluate(
        [left("student-p1-phone", 100.0, 130.0), left("student-p1-phone", 200.0, 240.0)],
        profile,
    )
    assert [(f.rule, f.severity) for f in findings] == [
        ("phone_away", "note"),
        ("phone_away", "violation"),
    ]
    assert findings[1].values["total"] == 70.0
    # the laptop's own gap is still time away, counted apart
    findings = evaluate(
        [left("student-p1", 50.0, 55.0), left("student-p1-phone", 100.0, 110.0)], profile
    )
    assert {f.rule: f.severity for f in findings} == {"away": "gross", "phone_away": "note"}


def test_screen_share_stopping_is_its_own_rule() -> None:
    profile = load_profile("examus-like")  # screen_away_allowance_s = 0
    findings = evaluate([left("student-p1-screen", 10.0, 25.0)], profile)
    assert [(f.rule, f.severity, f.track) for f in findings] == [
        ("screen_stopped", "violation", "student-p1-screen")
    ]
    school = load_profile("school-interview")  # the default 30 s allowance
    assert evaluate([left("student-p1-screen", 10.0, 25.0)], school)[0].severity == "note"


def test_the_phone_put_face_down_counts_against_the_phone_not_the_students_video() -> None:
    """The phone stays in the call but shows nothing (black, then frozen): the side view is
    gone just as if it had left, so it is the phone's allowance that runs out."""
    profile = load_profile("examus-like")  # phone: 60 s in total
    phone = "student-p1-phone"
    findings = evaluate(
        [
            DetectorEvent(EventKind.BLACK_VIDEO, 100.0, 140.0, track=phone),
            DetectorEvent(EventKind.FROZEN_VIDEO, 300.0, 330.0, track=phone),
        ],
        profile,
    )
    assert [(f.rule, f.severity, f.track) for f in findings] == [
        ("phone_away", "note", phone),
        ("phone_away", "violation", phone),
    ]
    assert findings[1].values["total"] == 70.0
    # the laptop's black picture is still the student's video interruption
    laptop = evaluate(
        [DetectorEvent(EventKind.BLACK_VIDEO, 10.0, 20.0, track="student-p1")], profile
    )
    assert [f.rule for f in laptop] == ["technical_interruption"]
