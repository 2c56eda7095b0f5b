"""Room scan coverage, and the synthetic checklist video other areas use."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
from click.testing import CliRunner
from proctorbot.detection.room_scan import RoomScanTracker

from tests.detection.vision_helpers import sample_face_or_skip
from tests.fixtures.synthetic import Segment, render_scenario, write_checklist_video

pytest.importorskip("dlib", reason="dlib-bin is not installed")


def _scan(segments: list[Segment], fps: float = 10.0) -> dict:
    face = sample_face_or_skip()
    tracker = RoomScanTracker()
    for t, frame in render_scenario(segments, fps=fps, face_photo=face):
        tracker.feed(t, frame)
    return tracker.result().to_json()


def test_a_panning_sweep_covers_most_of_the_room() -> None:
    # The synthetic room is 4.5 frames wide: the sweep turns ~230 degrees (60-degree camera).
    result = _scan([Segment("pan", 8.0)])
    assert 180 <= result["covered_deg"] <= 320, result
    assert result["lost_frames"] <= 2


def test_a_still_camera_covers_one_field_of_view() -> None:
    result = _scan([Segment("present", 3.0)])
    assert result["covered_deg"] == pytest.approx(60.0, abs=8.0)
    assert result["max_faces"] == 1 and result["face_sightings"]


def test_checklist_video_y4m_and_card(tmp_path: Path) -> None:
    sample_face_or_skip()
    video = tmp_path / "checklist.y4m"
    card = tmp_path / "card.png"
    write_checklist_video(
        video,
        "ИВАНОВ Пётр Сергеевич",
        card_path=card,
        fps=5,
        scenario=(Segment("pan", 1.0), Segment("card", 0.6), Segment("present", 0.4)),
    )
    header = video.read_bytes()[:64].split(b"\n")[0]
    assert header.startswith(b"YUV4MPEG2 W640 H480 F5:1")
    frame_bytes = 640 * 480 * 3 // 2
    assert video.stat().st_size == len(header) + 1 + 10 * (len(b"FRAME\n") + frame_bytes)
    image = cv2.imread(str(card))
    assert image is not None and image.shape[1] > image.shape[0]
    capture = cv2.VideoCapture(str(video))  # OpenCV (FFmpeg) reads it back
    ok, frame = capture.read()
    capture.release()
    assert ok and frame.shape == (480, 640, 3)


def test_room_scan_cli(tmp_path: Path) -> None:
    from proctorbot.cli import cli
    from tests.fixtures.synthetic import write_video

    face = sample_face_or_skip()
    video = tmp_path / "scan.avi"
    write_video(video, render_scenario([Segment("pan", 4.0)], fps=10, face_photo=face), fps=10)
    result = CliRunner().invoke(cli, ["room-scan", str(video), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["covered_deg"] > 150
