"""Episodes on pyannote.core spans: what merges, what the episode keeps of its events."""

from proctorbot.detection.events import DetectorEvent, EventKind
from proctorbot.rules.episodes import event_timeline, merge_episodes
from proctorbot.rules.findings import Finding, findings_annotation
from pyannote.core import Annotation, Segment, Timeline
from pyannote.metrics.detection import DetectionErrorRate


def ev(kind: EventKind, start: float, end: float, track: str = "student-p1", **kw) -> DetectorEvent:
    return DetectorEvent(kind=kind, start=start, end=end, track=track, **kw)


def test_overlapping_and_touching_events_of_a_track_are_one_episode() -> None:
    events = [
        ev(EventKind.PARTICIPANT_LEFT, 10, 20, evidence=("b.jpg",), details={"reason": "left"}),
        ev(EventKind.FACE_ABSENT, 0, 10, evidence=("a.jpg", "b.jpg"), details={"reason": "x"}),
        ev(EventKind.FACE_ABSENT, 15, 25),
        ev(EventKind.FACE_ABSENT, 30, 31),
    ]
    first, second = merge_episodes(events)
    assert (first.start, first.end, second.start, second.end) == (0, 25, 30, 31)
    # in time order: kinds and evidence once each, a later event's details win
    assert first.kinds == ("face_absent", "participant_left")
    assert first.evidence == ("a.jpg", "b.jpg")
    assert first.details == {"reason": "left"}
    assert [ep.segment for ep in (first, second)] == list(event_timeline(events).support())


def test_tracks_never_merge() -> None:
    events = [ev(EventKind.FACE_ABSENT, 0, 10), ev(EventKind.FACE_ABSENT, 5, 15, track="s2")]
    assert [(ep.track, ep.start, ep.end) for ep in merge_episodes(events)] == [
        ("student-p1", 0, 10),
        ("s2", 5, 15),
    ]


def test_a_gap_of_arithmetic_noise_is_no_gap_a_millisecond_is() -> None:
    noise = [ev(EventKind.NO_AUDIO, 17.7, 19.2), ev(EventKind.NO_AUDIO, 19.200000000000003, 21.7)]
    [episode] = merge_episodes(noise)
    assert (episode.start, episode.end) == (17.7, 21.7)
    apart = [ev(EventKind.NO_AUDIO, 17.7, 19.2), ev(EventKind.NO_AUDIO, 19.201, 21.7)]
    assert len(merge_episodes(apart)) == 2


def test_instants_join_the_span_that_holds_them_or_stand_alone() -> None:
    span = ev(EventKind.PERSON_REPLACED, 10, 20, evidence=("span.jpg",))
    inside = ev(EventKind.PERSON_REPLACED, 15, 15, evidence=("in.jpg",))
    at_end = ev(EventKind.PERSON_REPLACED, 20, 20, evidence=("end.jpg",))
    alone = [ev(EventKind.PERSON_REPLACED, 30, 30, evidence=(f"{n}.jpg",)) for n in "ab"]
    first, second = merge_episodes([span, inside, at_end, *alone])
    assert (first.start, first.end, first.evidence) == (10, 20, ("span.jpg", "in.jpg", "end.jpg"))
    assert (second.start, second.end, second.duration) == (30, 30, 0.0)
    assert second.evidence == ("a.jpg", "b.jpg")


def test_findings_meet_a_reference_in_pyannote_metrics() -> None:
    found = [
        Finding("f1", "third_party_voice", "violation", 30.0, 35.0, "student-p1", "r"),
        Finding("f2", "away", "note", 60.0, 70.0, "student-p1", "r"),
    ]
    hypothesis = findings_annotation(found, uri="session")
    assert hypothesis.labels() == ["away", "third_party_voice"]
    reference = Annotation(uri="session")
    reference[Segment(30, 35)] = "third_party_voice"
    reference[Segment(60, 70)] = "away"
    session = Timeline([Segment(0, 90)])
    assert DetectionErrorRate()(reference, hypothesis, uem=session) == 0.0
