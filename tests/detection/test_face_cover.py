"""Lower face covered (mask, hand) and tilted faces in the live watcher."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from proctorbot.detection.events import EventKind
from proctorbot.detection.face_cover import assess_lower_face
from proctorbot.detection.faces import Face, FaceAnalyzer
from proctorbot.detection.frame_analysis import analyze_frame
from proctorbot.detection.image_input import load_image
from proctorbot.detection.video_watch import VideoWatcher, watch_frames

from tests.detection.vision_helpers import fit_640x480, sample_face_or_skip
from tests.fixtures.synthetic import Segment, render_scenario
from tests.fixtures.synthetic_cover import MASK_STYLES, draw_hand, draw_mask

pytest.importorskip("dlib", reason="dlib-bin is not installed")

COVERINGS = [*MASK_STYLES, "hand", "hand_over_mouth"]


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer()


@pytest.fixture(scope="module")
def sample(analyzer: FaceAnalyzer) -> tuple[np.ndarray, Face]:
    face = sample_face_or_skip()
    found = analyzer.detect(face)[0]
    analyzer.add_landmarks(face, found)
    return face, found


def cover(image: np.ndarray, landmarks: np.ndarray, kind: str, seed: int = 0) -> np.ndarray:
    if kind == "hand":
        return draw_hand(image, landmarks, seed=seed)
    if kind == "hand_over_mouth":
        return draw_hand(image, landmarks, seed=seed + 1, over_nose=False)
    return draw_mask(image, landmarks, kind, seed=seed)


def landmarks_in_box(analyzer: FaceAnalyzer, image: np.ndarray, box) -> np.ndarray:  # noqa: ANN001
    """dlib's landmarks placed in a known face box (as the watcher does for a kept face)."""
    return analyzer.add_landmarks(image, Face(box, 0.0))


@pytest.mark.parametrize("kind", COVERINGS)
def test_masks_and_hands_are_flagged(
    analyzer: FaceAnalyzer, sample: tuple[np.ndarray, Face], kind: str
) -> None:
    image, face = sample
    covered = cover(image, face.landmarks, kind)
    result = assess_lower_face(covered, landmarks_in_box(analyzer, covered, face.box))
    assert result is not None and result.covered, result


def test_uncovered_faces_are_not_flagged(
    analyzer: FaceAnalyzer, sample: tuple[np.ndarray, Face]
) -> None:
    image, face = sample  # glasses, an elderly face, a strong light
    dim = (image * 0.45).astype(np.uint8)
    mirrored = cv2.flip(image, 1)
    for variant in (image, dim, mirrored):
        found = analyzer.detect(variant)[0]
        result = assess_lower_face(variant, analyzer.add_landmarks(variant, found))
        assert result is not None and not result.covered, result
    # Too dark to judge colours: not assessed rather than guessed.
    night = (image * 0.15).astype(np.uint8)
    assert assess_lower_face(night, face.landmarks) is None


def _frames(
    photo: np.ndarray, seconds: float, t0: float = 0.0, tilt: float = 0.0
) -> Iterator[tuple[float, np.ndarray]]:
    for t, frame in render_scenario([Segment("present", seconds)], fps=2, face_photo=photo):
        if tilt:
            matrix = cv2.getRotationMatrix2D((320, 150), tilt, 1.0)
            frame = cv2.warpAffine(frame, matrix, (640, 480), borderMode=cv2.BORDER_REFLECT)
        yield round(t + t0, 3), frame


@pytest.mark.parametrize("kind", ["medical_blue", "black", "hand"])
def test_watcher_reports_a_covered_lower_face(
    analyzer: FaceAnalyzer, sample: tuple[np.ndarray, Face], kind: str
) -> None:
    image, face = sample
    covered = cover(image, face.landmarks, kind)
    frames = [*_frames(image, 3), *_frames(covered, 6, t0=3)]
    events = watch_frames(frames, VideoWatcher(analyzer=analyzer))
    kinds = [e.kind for e in events]
    assert EventKind.FACE_ABSENT not in kinds, events
    cover_events = [e for e in events if e.kind is EventKind.FACE_COVERED]
    assert len(cover_events) == 1, events
    assert cover_events[0].details["part"] == "lower_face"
    assert cover_events[0].start == pytest.approx(3.0, abs=0.6)


@pytest.mark.parametrize("tilt", [30, -30, 50, -50])
def test_tilted_face_is_not_absent_in_live_mode(
    analyzer: FaceAnalyzer, sample: tuple[np.ndarray, Face], tilt: float
) -> None:
    image, _ = sample
    if abs(tilt) >= 50:
        # dlib's detector has filters for ~+-40 degrees of roll; beyond, the upright pass
        # alone loses the face and only the live rotated passes find it.
        assert not analyzer.detect(next(_frames(image, 1, tilt=tilt))[1])
    # Tilted from the first frame (no face seen yet) and after an upright start.
    for frames in (
        list(_frames(image, 5, tilt=tilt)),
        [*_frames(image, 2), *_frames(image, 5, t0=2, tilt=tilt)],
    ):
        watcher = VideoWatcher(analyzer=analyzer)
        events = watch_frames(frames, watcher)
        assert not [e for e in events if e.kind is EventKind.FACE_ABSENT], events
        assert not [e for e in events if e.kind is EventKind.FACE_COVERED], events
        assert watcher.last_analysis is not None and watcher.last_analysis.face_count == 1


def test_empty_frames_are_still_absent(
    analyzer: FaceAnalyzer, sample: tuple[np.ndarray, Face]
) -> None:
    image, _ = sample
    scenario = [Segment("present", 2), Segment("absent", 5), Segment("present", 1)]
    events = watch_frames(
        render_scenario(scenario, fps=2, face_photo=image), VideoWatcher(analyzer=analyzer)
    )
    absent = [e for e in events if e.kind is EventKind.FACE_ABSENT]
    assert len(absent) == 1 and absent[0].start == pytest.approx(2.0, abs=0.6)
    assert absent[0].end == pytest.approx(7.0, abs=0.6)
    only_empty = render_scenario([Segment("absent", 4)], fps=2, face_photo=image)
    events = watch_frames(only_empty, VideoWatcher(analyzer=analyzer))
    assert [e.kind for e in events] == [EventKind.FACE_ABSENT]


def test_analyze_image_json_has_the_lower_face_fields(
    tmp_path: Path, sample: tuple[np.ndarray, Face]
) -> None:
    from proctorbot.cli import cli

    image, face = sample
    runner = CliRunner()
    path = tmp_path / "face.jpg"
    cv2.imwrite(str(path), image)
    data = json.loads(runner.invoke(cli, ["analyze-image", str(path), "--json"]).output)
    assert data["faces"] == 1 and data["eye_visibility"] is not None  # old keys kept
    assert data["lower_face_covered"] is False
    assert 0.0 <= data["lower_face_cover_score"] < 0.5
    hand = tmp_path / "hand.jpg"
    cv2.imwrite(str(hand), cover(image, face.landmarks, "hand_over_mouth"))
    data = json.loads(runner.invoke(cli, ["analyze-image", str(hand), "--json"]).output)
    assert isinstance(data["lower_face_covered"], bool)
    if data["faces"]:  # found by HOG in a single photo: then it must be flagged
        assert data["lower_face_covered"] is True
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((120, 160, 3), 128, np.uint8))
    data = json.loads(runner.invoke(cli, ["analyze-image", str(blank), "--json"]).output)
    assert data["lower_face_covered"] is False and data["lower_face_cover_score"] is None


def test_odd_frames_after_a_face_never_crash(
    analyzer: FaceAnalyzer, sample: tuple[np.ndarray, Face]
) -> None:
    image, _ = sample
    watcher = VideoWatcher(analyzer=analyzer)
    t, frame = next(_frames(image, 1))
    watcher.feed(t, frame)  # a face, a template and a last box to fall back on
    rng = np.random.default_rng(0)
    odd = [
        np.zeros((20, 20, 3), np.uint8),
        rng.integers(0, 255, (48, 64), dtype=np.uint8),  # gray
        cv2.resize(frame, (160, 120)),  # the camera changed resolution
        frame[:, :90],  # a sliver at the edge
        np.full((480, 640, 3), 255, np.uint8),
    ]
    for i, picture in enumerate(odd):
        watcher.feed(1.0 + i * 0.5, picture)
    watcher.finish()
    # Degenerate landmarks (all on one point) on a tiny picture: an answer, no exception.
    result = assess_lower_face(cv2.resize(image, (40, 40)), np.zeros((68, 2)))
    assert result is None or isinstance(result.covered, bool)


# -- real photos (skip without ../shared) ---------------------------------------------
def _one_face_photos(evaldata: Path) -> list[tuple[str, np.ndarray]]:
    root = evaldata / "faces"
    rows = csv.DictReader((root / "labels.csv").open())
    return [
        (row["file"], load_image(root / row["file"]))
        for row in rows
        if row["file"].startswith(("one_face/", "one_face_head_pose/"))
    ]


def test_real_masked_photo_is_flagged_and_plain_photos_are_not(
    evaldata: Path, analyzer: FaceAnalyzer
) -> None:
    flagged = []
    for name, image in _one_face_photos(evaldata):
        result = analyze_frame(analyzer, image, thorough=True)
        if "medical face mask" in _note(evaldata, name):
            assert result.lower_face_covered, name
        elif result.lower_face_covered:
            flagged.append(name)
    assert flagged == []


def test_drawn_coverings_on_real_photos_in_live_mode(
    evaldata: Path, analyzer: FaceAnalyzer
) -> None:
    flagged = assessed = total = 0
    for name, image in _one_face_photos(evaldata):
        if "medical face mask" in _note(evaldata, name):
            continue
        frame = fit_640x480(image)
        faces = analyzer.detect(frame)
        if len(faces) != 1:
            continue
        landmarks = analyzer.add_landmarks(frame, faces[0])
        for seed, kind in enumerate(("medical_blue", "white", "skin", "hand")):
            watcher = VideoWatcher(analyzer=analyzer)
            watcher.feed(0.0, frame)
            watcher.feed(0.5, cover(frame, landmarks, kind, seed=seed))
            analysis = watcher.last_analysis
            total += 1
            assessed += analysis is not None and analysis.lower_face is not None
            flagged += analysis is not None and analysis.lower_face_covered
    assert total >= 30
    assert flagged / total >= 0.75, (flagged, assessed, total)
    assert flagged >= assessed - 2, (flagged, assessed, total)


def _note(evaldata: Path, name: str) -> str:
    for row in csv.DictReader((evaldata / "faces" / "labels.csv").open()):
        if row["file"] == name:
            return row["notes"]
    return ""
