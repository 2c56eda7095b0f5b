"""The room scan records until the room is covered (or the capture time is over) and tells
the student how far they have got; the real tracker on a generated sweep of a room."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from proctorbot.checklist.adapters import DetectionRoomScan
from proctorbot.checklist.checks import CheckContext, CheckThresholds, check_room_scan
from proctorbot.checklist.detectors import ChecklistDetectors
from proctorbot.checklist.records import StepKind

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
FPS = 8.0


class ListFeed:
    """Hands out pre-rendered frames in one-second batches, as StudentFeed does live."""

    def __init__(self, frames: list[tuple[float, Any]]) -> None:
        self.frames = frames
        self.handed = 0

    async def frame_batches(self, fps: float, seconds: float, every_s: float = 1.0):
        start = self.frames[0][0]
        batch: list[tuple[float, Any]] = []
        for t, image in self.frames:
            if t - start > seconds:
                break
            batch.append((t, image))
            self.handed += 1
            if batch[-1][0] - batch[0][0] >= every_s:
                yield batch
                batch = []
        if batch:
            yield batch


def sweep(*segments: tuple[str, float]) -> list[tuple[float, Any]]:
    from tests.fixtures.synthetic import Segment, SyntheticAssetMissing, render_scenario

    try:
        return list(render_scenario([Segment(k, s) for k, s in segments], fps=FPS))
    except SyntheticAssetMissing as missing:
        pytest.skip(str(missing))


def context(tmp_path: Path, feed: ListFeed, reports: list[dict], capture_s: float = 60.0):
    from proctorbot.detection.faces import FaceAnalyzer

    analyzer = FaceAnalyzer()

    async def progress(data: dict) -> None:
        reports.append(data)

    return CheckContext(
        bot=SimpleNamespace(session_dir=tmp_path, emit=lambda event: None),
        peer_id="student-1",
        feed=feed,  # type: ignore[arg-type]
        kind=StepKind.ROOM_SCAN,
        attempt=1,
        student_name="Анна Смирнова",
        language="ru",
        capture_s=capture_s,
        detectors=ChecklistDetectors(room_scan=DetectionRoomScan(lambda: analyzer)),
        thresholds=CheckThresholds(room_coverage=0.6),
        progress=progress,
    )


async def test_the_scan_goes_on_until_the_room_is_covered(tmp_path: Path) -> None:
    frames = sweep(("present", 2.0), ("pan", 12.0), ("present", 30.0))
    feed, reports = ListFeed(frames), []
    result = await check_room_scan(context(tmp_path, feed, reports))
    assert result.passed, result
    assert result.details["coverage"] >= 0.6
    assert feed.handed < len(frames) / 2, "it stopped once the room was covered"
    assert len(reports) >= 2 and reports[-1]["done"] is True
    shares = [r["coverage"] for r in reports]
    assert shares == sorted(shares) and shares[0] < 0.6 <= shares[-1], shares
    assert (tmp_path / result.evidence[0]).is_file(), "the contact sheet for the examiner"


async def test_a_camera_that_never_turns_fails_when_the_time_is_over(tmp_path: Path) -> None:
    frames = sweep(("present", 12.0))
    feed, reports = ListFeed(frames), []
    result = await check_room_scan(context(tmp_path, feed, reports, capture_s=10.0))
    assert not result.passed and result.summary == "room_not_covered"
    assert feed.handed >= 10 * FPS, "it kept recording for the whole capture time"
    assert reports and all(r["done"] is False for r in reports), "the student saw how far"
