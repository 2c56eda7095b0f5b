"""The session recorder through a full disk and a killed bot (in-process, fast): what is
recorded, which gaps the manifest holds, what is left in the folder."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import time
from pathlib import Path

import pytest
from proctorbot.config.settings import RecordingSettings
from proctorbot.recording import analysis_wav, ivf, ogg_opus, session_recorder
from proctorbot.recording.frames import EncodedFrame
from proctorbot.recording.manifest import read_manifest, write_manifest
from proctorbot.recording.session_recorder import SessionRecorder, finalize_folder

from tests.bot.media_checks import decode_errors
from tests.recording.encoded import opus_frames, vp8_frames

KEY = "student-p1"


def _frames(start: float, seconds: float) -> list[EncodedFrame]:
    """A student's camera (15 fps, a keyframe a second) and microphone, by arrival."""
    video = vp8_frames(int(seconds * 15), keyframe_every=15, start=start)
    audio = opus_frames(int(seconds * 50), start=start)
    return sorted(video + audio, key=lambda f: f.arrival)


def _recorder(folder: Path, started_at: float) -> SessionRecorder:
    recorder = SessionRecorder(
        folder, "s1", RecordingSettings(segment_seconds=1.0), started_at=started_at
    )
    recorder.participant_joined(KEY, "student", "Anna", "p1")
    return recorder


def _feed(recorder: SessionRecorder, frames: list[EncodedFrame]) -> None:
    tracks = {
        kind: recorder.open_track(KEY, kind, codec, "student")
        for kind, codec in (("video", "vp8"), ("audio", "opus"))
    }
    for frame in frames:
        tracks[frame.kind].push(frame)


def _full_disk(monkeypatch: pytest.MonkeyPatch) -> dict[str, bool]:
    """Every media, WAV and manifest write fails with ENOSPC while ``state["full"]``."""
    state = {"full": False}
    for module in (ivf, ogg_opus, analysis_wav):
        real = module.append_whole

        def append(handle, data, size, real=real):  # noqa: ANN001, ANN202
            if state["full"]:
                raise OSError(errno.ENOSPC, "No space left on device")
            return real(handle, data, size)

        monkeypatch.setattr(module, "append_whole", append)
    real_manifest = session_recorder.write_manifest

    def manifest(folder, data):  # noqa: ANN001, ANN202
        if state["full"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_manifest(folder, data)

    monkeypatch.setattr(session_recorder, "write_manifest", manifest)
    return state


async def test_a_full_disk_is_a_disk_full_gap_and_recording_resumes_by_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = _full_disk(monkeypatch)
    start = time.time()
    folder = tmp_path / "s1"
    recorder = _recorder(folder, start)
    tracks = {
        kind: recorder.open_track(KEY, kind, codec, "student")
        for kind, codec in (("video", "vp8"), ("audio", "opus"))
    }
    was_full = False
    for frame in _frames(start, 6.0):
        full = 2.0 <= frame.arrival - start < 3.5  # the disk is full for 1.5 s
        if full != was_full:  # in order with the frames, in the recording thread
            recorder.worker.submit(state.__setitem__, "full", full)
            was_full = full
        tracks[frame.kind].push(frame)
    manifest = await recorder.close()

    [gap] = manifest.gaps
    assert gap.reason == "disk_full" and gap.participant == KEY
    assert gap.start == pytest.approx(start + 2.0, abs=0.05)
    # the first try after the space came back (tries 1 s apart) found room
    assert start + 3.5 <= gap.end <= start + 4.6
    on_disk = read_manifest(folder)
    assert on_disk.gaps == manifest.gaps, "the manifest was written again once there was room"
    said = sorted(e.split(" at ")[0] for e in on_disk.errors)  # when each track stopped, resumed
    assert said == sorted(
        f"{KEY} {k} {w}" for k in ("video", "audio") for w in ("suspended", "resumed")
    )
    listed = {f.path for f in on_disk.files}
    media = {str(p.relative_to(folder)) for p in folder.glob("*/*") if p.suffix in (".ivf", ".ogg")}
    assert media == {p for p in listed if p.endswith((".ivf", ".ogg"))}, "no stray files"
    assert not list(folder.glob("*.tmp")) and not list(folder.glob("*/*.tmp"))
    for record in on_disk.files:
        assert record.frames > 0 or record.kind == "analysis"
        assert decode_errors(folder / record.path) == "", record.path
    audio = [f for f in on_disk.files if f.kind == "audio"]
    covered = sum(f.duration for f in audio)
    assert covered == pytest.approx(6.0 - (gap.end - gap.start), abs=0.3)


def test_a_failed_manifest_write_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = session_recorder.Manifest(session_id="s1", started_at=time.time())
    write_manifest(tmp_path, manifest)
    before = (tmp_path / "manifest.json").read_text()

    def full(self: Path, text: str, *args: object, **kwargs: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(OSError):
        write_manifest(tmp_path, manifest)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]
    assert (tmp_path / "manifest.json").read_text() == before


async def _killed(recorder: SessionRecorder) -> None:
    """What a kill -9 leaves: files as written so far, no close, no final manifest."""
    await recorder.worker.call(lambda: None)
    recorder.worker.stop()
    os.close(recorder._lock)


async def test_time_without_a_bot_is_a_bot_down_gap_closed_when_recorded_again(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "s1"
    first = _recorder(folder, time.time())
    _feed(first, _frames(time.time(), 2.0))
    await _killed(first)
    died = max(p.stat().st_mtime for p in (folder / KEY).iterdir())
    await asyncio.sleep(1.0)  # the bot restarts

    second = _recorder(folder, time.time())
    back = time.time()
    _feed(second, _frames(back, 2.0))
    manifest = await second.close()

    [gap] = manifest.gaps
    assert gap.reason == "bot_down" and gap.participant == KEY
    assert gap.start == pytest.approx(died, abs=0.01)
    assert gap.end == pytest.approx(back, abs=0.01)
    assert manifest.started_at == first.manifest.started_at


async def test_a_participant_away_when_the_bot_died_is_away_until_then_then_bot_down(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "s1"
    first = _recorder(folder, time.time())
    _feed(first, _frames(time.time(), 1.0))
    first.participant_left(KEY, "left", time.time())
    await _killed(first)
    died = max(p.stat().st_mtime for p in folder.glob("*") if p.is_file())
    await asyncio.sleep(0.5)
    second = _recorder(folder, time.time())
    back = time.time()
    _feed(second, _frames(back, 1.0))
    manifest = await second.close()
    left, down = sorted(manifest.gaps, key=lambda g: g.start)
    assert (left.reason, down.reason) == ("left", "bot_down")
    assert left.end == down.start == pytest.approx(died, abs=0.01)
    assert down.end == pytest.approx(back, abs=0.01)


async def test_a_participant_who_never_comes_back_leaves_no_gap(tmp_path: Path) -> None:
    folder = tmp_path / "s1"
    first = _recorder(folder, time.time())
    _feed(first, _frames(time.time(), 1.0))
    await _killed(first)
    second = SessionRecorder(folder, "s1", RecordingSettings(segment_seconds=1.0))
    manifest = await second.close()
    assert manifest.gaps == []  # gone while no bot was there: a departure, not a gap


async def test_finalize_after_a_kill_leaves_no_open_gap(tmp_path: Path) -> None:
    folder = tmp_path / "s1"
    first = _recorder(folder, time.time())
    _feed(first, _frames(time.time(), 1.0))
    first.participant_joined("examiner-e1", "examiner", "Olga", "e1")
    first.media_stalled(KEY, time.time())  # the student's media stopped: a gap opens
    first.participant_left("examiner-e1", "left", time.time())  # the examiner left
    await _killed(first)
    assert any(g["end"] is None for g in json.loads((folder / "manifest.json").read_text())["gaps"])

    manifest = finalize_folder(folder, "s1")
    assert [g.reason for g in manifest.gaps] == ["media_timeout"]
    assert all(g.end is not None for g in read_manifest(folder).gaps)
    assert all(p.left_at is not None for p in manifest.participants)
    assert manifest.ended_at is not None


async def test_events_wait_for_a_full_disk_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from proctorbot.bot import events_log
    from proctorbot.bot.events_log import EventsLog
    from proctorbot.detection.events import DetectorEvent, EventKind

    state = {"full": False}
    real = events_log.append_whole

    def append(handle, data, size):  # noqa: ANN001, ANN202
        if state["full"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(handle, data, size)

    monkeypatch.setattr(events_log, "append_whole", append)
    log = EventsLog(tmp_path)

    def event(n: int) -> DetectorEvent:
        return DetectorEvent(EventKind.PARTICIPANT_LEFT, n, n + 1, track=KEY)

    log.append(event(1))
    await log.flush()
    state["full"] = True
    log.append(event(2))
    log.append(event(3))
    await log.flush()
    assert len((tmp_path / "events.jsonl").read_text().splitlines()) == 1
    state["full"] = False
    log.append(event(4))
    await log.close()
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert [json.loads(line)["start"] for line in lines] == [1, 2, 3, 4]
