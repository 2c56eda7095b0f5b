"""The rule ``page_focus``: the call page off the screen, counted like time away [001 §4]."""

from __future__ import annotations

from proctorbot.config.profiles import PageFocus, load_profile
from proctorbot.detection.events import DetectorEvent, EventKind
from proctorbot.rules.engine import evaluate

TRACK = "student-s1-main"


def event(kind: EventKind, start: float, end: float, **details) -> DetectorEvent:
    return DetectorEvent(kind, start, end, track=TRACK, details=details)


def profile(**focus):
    base = load_profile("university-admission")
    return base.model_copy(update={"focus": PageFocus(**focus)})


def focus_findings(events, **focus):
    return [f for f in evaluate(events, profile(**focus)) if f.rule == "page_focus"]


def test_a_tab_switch_is_one_finding_of_its_overlapping_reports() -> None:
    events = [
        event(EventKind.PAGE_HIDDEN, 10.0, 10.0, open=True),  # written at once
        event(EventKind.WINDOW_BLUR, 9.9, 15.2),
        event(EventKind.PAGE_HIDDEN, 10.0, 15.0),
        event(EventKind.FULLSCREEN_LEFT, 10.0, 16.0),
    ]
    [finding] = focus_findings(events, require_fullscreen=True)
    assert finding.severity == "violation" and finding.reason == "focus_hidden"
    assert (finding.start, finding.end) == (9.9, 16.0)
    assert set(finding.event_kinds) == {"page_hidden", "window_blur", "fullscreen_left"}


def test_full_screen_counts_only_where_the_profile_requires_it() -> None:
    events = [event(EventKind.FULLSCREEN_LEFT, 10.0, 20.0)]
    assert focus_findings(events, require_fullscreen=False) == []
    [finding] = focus_findings(events, require_fullscreen=True)
    assert finding.reason == "focus_fullscreen" and finding.values["episode"] == 10.0


def test_allowance_short_episodes_and_counts() -> None:
    events = [
        event(EventKind.WINDOW_BLUR, 5.0, 5.5),  # a click on the browser's bar
        event(EventKind.WINDOW_BLUR, 10.0, 30.0),
        event(EventKind.PAGE_HIDDEN, 40.0, 60.0),
    ]
    short, within, over = focus_findings(events, allowance_seconds=30, min_seconds=2)
    assert (short.severity, short.reason) == ("note", "focus_blur_short")
    assert (within.severity, within.reason) == ("note", "focus_blur_within")
    assert (over.severity, over.reason, over.values["total"]) == ("violation", "focus_hidden", 40.0)
    assert all(f.severity == "note" for f in focus_findings(events, counts=False))


def test_every_reason_reads_in_both_languages() -> None:
    from proctorbot.config.catalogue import Catalogue
    from proctorbot.report.html import finding_text

    events = [event(EventKind.PAGE_HIDDEN, 1.0, 9.0), event(EventKind.WINDOW_BLUR, 20.0, 20.5)]
    for language in ("ru", "en"):
        texts = Catalogue.load(language)
        for finding in focus_findings(events):
            text = finding_text(texts, finding)
            assert ": " in text and "{" not in text and "page_focus" not in text, text
