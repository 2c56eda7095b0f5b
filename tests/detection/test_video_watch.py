"""The live video watcher on synthetic webcam scenes (and real faces when evaldata is there)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from proctorbot.detection.events import DetectorEvent, EventKind
from proctorbot.detection.faces import FaceAnalyzer
from proctorbot.detection.image_input import load_image
from proctorbot.detection.video_watch import VideoThresholds, VideoWatcher, watch_frames

from tests.detection.vision_helpers import fit_640x480, noisy, sample_face_or_skip
from tests.fixtures.synthetic import Segment, render_scenario, write_video

pytest.importorskip("dlib", reason="dlib-bin is not installed")

SCENARIO = [
    Segment("present", 3),  # 0-3
    Segment("absent", 4),  # 3-7
    Segment("present", 2),  # 7-9
    Segment("second_face", 3),  # 9-12
    Segment("present", 2),  # 12-14
    Segment("dark", 6),  # 14-20
    Segment("black", 4),  # 20-24
    Segment("frozen", 12),  # 24-36
    Segment("present", 2),  # 36-38
]


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer()


def _kinds(events: list[DetectorEvent], kind: EventKind) -> list[DetectorEvent]:
    return [e for e in events if e.kind is kind]


def _near(value: float, target: float, tolerance: float = 0.6) -> bool:
    return abs(value - target) <= tolerance


def test_scenario_events_have_the_right_times(analyzer: FaceAnalyzer, tmp_path: Path) -> None:
    face = sample_face_or_skip()
    watcher = VideoWatcher(analyzer=analyzer, track="student-1", evidence_dir=tmp_path / "evidence")
    events = watch_frames(render_scenario(SCENARIO, fps=2, face_photo=face), watcher)
    absent = _kinds(events, EventKind.FACE_ABSENT)
    assert len(absent) == 1 and _near(absent[0].start, 3) and _near(absent[0].end, 7)
    assert absent[0].details["total_absent_s"] == pytest.approx(4.0, abs=0.6)
    assert absent[0].details["over_limit"] is False
    extra = _kinds(events, EventKind.EXTRA_PERSON)
    assert len(extra) == 1 and _near(extra[0].start, 9) and _near(extra[0].end, 12)
    assert extra[0].details["faces"] == 2
    dark = _kinds(events, EventKind.TOO_DARK)
    assert len(dark) == 1 and _near(dark[0].start, 14) and _near(dark[0].end, 20)
    black = _kinds(events, EventKind.BLACK_VIDEO)
    assert len(black) == 1 and _near(black[0].start, 20) and _near(black[0].end, 24)
    frozen = _kinds(events, EventKind.FROZEN_VIDEO)
    assert len(frozen) == 1 and _near(frozen[0].start, 24.5) and _near(frozen[0].end, 36)
    assert not _kinds(events, EventKind.PERSON_REPLACED)  # nobody enrolled
    assert all(e.track == "student-1" for e in events)
    snapshot = tmp_path / absent[0].evidence[0]
    assert snapshot.is_file()
    assert all(DetectorEvent.from_json(e.to_json()) == e for e in events)


def test_quiet_session_has_no_events(analyzer: FaceAnalyzer) -> None:
    face = sample_face_or_skip()
    watcher = VideoWatcher(analyzer=analyzer)
    frames = list(render_scenario([Segment("present", 10)], fps=2, face_photo=face))
    watcher.enroll_from_frame(frames[0][1])
    assert watch_frames(frames, watcher) == []


def test_absence_over_the_limit_is_flagged(analyzer: FaceAnalyzer) -> None:
    face = sample_face_or_skip()
    segments = [
        Segment("present", 1),
        Segment("absent", 3),
        Segment("present", 1),
        Segment("absent", 3),
        Segment("present", 1),
    ]
    watcher = VideoWatcher(VideoThresholds(absence_total_limit_s=5.0), analyzer=analyzer)
    events = _kinds(
        watch_frames(render_scenario(segments, fps=2, face_photo=face), watcher),
        EventKind.FACE_ABSENT,
    )
    assert [e.details["over_limit"] for e in events] == [False, True]
    assert watcher.total_absent_s == pytest.approx(6.0, abs=1.0)


def test_live_conditions_are_visible_while_open(analyzer: FaceAnalyzer) -> None:
    face = sample_face_or_skip()
    watcher = VideoWatcher(analyzer=analyzer)
    frames = list(
        render_scenario([Segment("present", 1), Segment("absent", 2)], fps=2, face_photo=face)
    )
    for t, frame in frames:
        assert watcher.feed(t, frame) == []
    assert EventKind.FACE_ABSENT in watcher.active
    assert _kinds(watcher.finish(5.0), EventKind.FACE_ABSENT)[0].end == 5.0


def test_analyze_video_cli(tmp_path: Path) -> None:
    from proctorbot.cli import cli

    face = sample_face_or_skip()
    video = tmp_path / "webcam.avi"
    write_video(
        video,
        render_scenario(
            [Segment("present", 2), Segment("absent", 4), Segment("present", 2)],
            fps=4,
            face_photo=face,
        ),
        fps=4,
    )
    result = CliRunner().invoke(cli, ["analyze-video", str(video), "--json", "--fps", "2"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    kinds = [(e["kind"], e["start"], e["end"]) for e in data["events"]]
    assert len(kinds) == 1 and kinds[0][0] == "face_absent"
    assert _near(kinds[0][1], 2) and _near(kinds[0][2], 6)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video")
    result = CliRunner().invoke(cli, ["analyze-video", str(broken), "--json"])
    assert result.exit_code == 1 and "Error:" in result.output


def _still_frames(image: np.ndarray, seconds: float, start: float, fps: float = 2.0):
    frame = fit_640x480(image)
    return [(start + i / fps, noisy(frame, i)) for i in range(int(seconds * fps))]


def test_person_replaced_on_real_faces(evaldata: Path, analyzer: FaceAnalyzer) -> None:
    root = evaldata / "faces" / "one_face"
    student = load_image(root / "fr_obama.jpg")
    other = load_image(root / "fr_biden.jpg")
    watcher = VideoWatcher(VideoThresholds(identity_interval_s=1.0), analyzer=analyzer)
    assert watcher.enroll_from_frame(fit_640x480(student))
    frames = (
        _still_frames(student, 4, 0.0)
        + _still_frames(other, 6, 4.0)
        + _still_frames(student, 3, 10.0)
    )
    replaced = _kinds(watch_frames(frames, watcher), EventKind.PERSON_REPLACED)
    assert len(replaced) == 1
    assert _near(replaced[0].start, 4.0) and _near(replaced[0].end, 10.0, 1.1)
    assert replaced[0].details["distance"] > 0.6


def test_looking_away_on_a_real_turned_head(evaldata: Path, analyzer: FaceAnalyzer) -> None:
    root = evaldata / "faces"
    frontal = load_image(root / "one_face/if_image_T1.jpeg")
    turned = load_image(root / "one_face_head_pose/if_left_face.jpeg")
    frames = (
        _still_frames(frontal, 2, 0.0)
        + _still_frames(turned, 7, 2.0)
        + _still_frames(frontal, 2, 9.0)
    )
    events = watch_frames(frames, VideoWatcher(analyzer=analyzer))
    away = _kinds(events, EventKind.LOOKING_AWAY)
    assert len(away) == 1 and away[0].duration >= 5.0
    assert away[0].details["glance"] is False
    assert not _kinds(events, EventKind.FACE_ABSENT)


def test_thresholds_from_a_rule_profile() -> None:
    from proctorbot.config.profiles import load_profile

    profile = load_profile("university-admission")
    thresholds = VideoThresholds.from_profile(profile.thresholds, identity_interval_s=2.0)
    assert thresholds.absence_total_limit_s == profile.thresholds.away_total_seconds
    assert thresholds.look_away_limit_s == profile.thresholds.look_away_seconds
    assert thresholds.identity_interval_s == 2.0


async def test_watch_live_emits_as_frames_arrive(analyzer: FaceAnalyzer) -> None:
    from proctorbot.detection.video_watch import watch_live

    face = sample_face_or_skip()
    scenario = [Segment("present", 1), Segment("absent", 3), Segment("present", 1)]

    async def frames():
        for item in render_scenario(scenario, fps=2, face_photo=face):
            yield item

    emitted: list[DetectorEvent] = []
    await watch_live(frames(), VideoWatcher(analyzer=analyzer), emitted.append)
    assert [e.kind for e in emitted] == [EventKind.FACE_ABSENT]


def test_zero_absence_allowance_scores_without_crashing() -> None:
    """examus-like allows no time away: the watcher must still close the span."""
    import numpy as np
    from proctorbot.detection.events import EventKind
    from proctorbot.detection.video_watch import VideoThresholds, VideoWatcher

    watcher = VideoWatcher(VideoThresholds(absence_total_limit_s=0.0, absence_min_s=0.5))
    blank = np.full((240, 320, 3), 128, np.uint8)  # no face anywhere
    events = []
    for i in range(8):
        events += watcher.feed(i * 0.5, blank)
    events += watcher.finish(4.0)
    absent = [e for e in events if e.kind is EventKind.FACE_ABSENT]
    assert absent and absent[0].score == 1.0 and absent[0].details["over_limit"] is True
