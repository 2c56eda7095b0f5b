"""The passthrough writers, fed with frames from aiortc's encoders."""

from __future__ import annotations

import dataclasses
import errno
import logging
import shutil
import struct
import wave
from pathlib import Path

import numpy as np
import pytest
from proctorbot.recording.analysis_wav import AnalysisWavWriter
from proctorbot.recording.ivf import IvfWriter, is_keyframe, vp8_dimensions
from proctorbot.recording.manifest import RecordedFile, sha256_of
from proctorbot.recording.ogg_opus import OggOpusWriter, ogg_crc, opus_packet_samples
from proctorbot.recording.segments import SegmentedTrackWriter

from tests.bot.media_checks import decode_errors, ffprobe, packet_span
from tests.recording.encoded import h264_frames, opus_frames, vp8_frames


def _vp8_writer(
    folder: Path, segment_seconds: float, closed: list[RecordedFile], name: str = "student-1"
) -> SegmentedTrackWriter:
    """A student's VP8 track cut into ``segment_seconds`` files; closed files land in ``closed``."""
    return SegmentedTrackWriter(
        folder,
        name,
        "video-01",
        participant=name,
        role="student",
        codec="vp8",
        segment_seconds=segment_seconds,
        on_closed=closed.append,
    )


def test_ivf_holds_vp8_as_received(tmp_path: Path) -> None:
    frames = vp8_frames(30)
    assert frames[0].keyframe and vp8_dimensions(frames[0].data) == (320, 240)
    writer = IvfWriter(tmp_path / "v.ivf", "vp8", 320, 240)
    for frame in frames:
        writer.write(frame.timestamp, frame.data)
    writer.close()
    probe = ffprobe(tmp_path / "v.ivf")
    stream = probe["streams"][0]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("vp8", 320, 240)
    assert float(probe["format"]["duration"]) == pytest.approx(2.0, abs=0.01)
    assert decode_errors(tmp_path / "v.ivf") == ""
    body = (tmp_path / "v.ivf").read_bytes()[32:]
    assert frames[5].data in body, "bytes are stored exactly as encoded"


def test_ivf_left_open_still_plays(tmp_path: Path) -> None:
    """A killed writer never closed its file: everything written is readable."""
    writer = IvfWriter(tmp_path / "open.ivf", "vp8", 320, 240)
    for frame in vp8_frames(20):
        writer.write(frame.timestamp, frame.data)
    shutil.copy(tmp_path / "open.ivf", tmp_path / "copy.ivf")  # what a crash leaves
    writer.close()
    assert decode_errors(tmp_path / "copy.ivf") == ""
    assert packet_span(tmp_path / "copy.ivf") == pytest.approx(19 / 15, abs=0.01)


def test_ogg_opus_plays_and_conceals_lost_packets(tmp_path: Path) -> None:
    frames = opus_frames(100, skip=range(40, 50))  # 200 ms lost in the middle
    writer = OggOpusWriter(tmp_path / "a.ogg")
    for frame in frames:
        writer.write(frame.timestamp, frame.data)
    writer.close()
    assert writer.packets == 100, "10 lost packets concealed by zero-length frames"
    probe = ffprobe(tmp_path / "a.ogg")
    assert probe["streams"][0]["codec_name"] == "opus"
    assert float(probe["format"]["duration"]) == pytest.approx(2.0, abs=0.03)
    assert decode_errors(tmp_path / "a.ogg") == ""


def test_ogg_pages_carry_a_valid_crc(tmp_path: Path) -> None:
    writer = OggOpusWriter(tmp_path / "a.ogg")
    for frame in opus_frames(12):
        writer.write(frame.timestamp, frame.data)
    writer.close()
    data = bytearray((tmp_path / "a.ogg").read_bytes())
    assert data[:4] == b"OggS"
    stored = struct.unpack_from("<I", data, 22)[0]
    struct.pack_into("<I", data, 22, 0)
    segments = data[26]
    length = 27 + segments + sum(data[27 : 27 + segments])
    assert ogg_crc(bytes(data[:length])) == stored


def test_opus_toc_durations() -> None:
    assert opus_packet_samples(bytes([0xFC])) == 960  # CELT 20 ms, one frame
    assert opus_packet_samples(bytes([0x78 | 1])) == 1920  # config 15 (hybrid 20 ms) × 2
    assert opus_packet_samples(bytes([0x03, 0x03])) == 3 * 480  # SILK 10 ms, code 3 × 3


def test_segments_start_on_keyframes_and_list_hashes(tmp_path: Path) -> None:
    closed: list[RecordedFile] = []
    writer = _vp8_writer(tmp_path, 2.0, closed)
    frames = vp8_frames(90, keyframe_every=15)  # 6 s, a keyframe each second
    for frame in frames[3:]:  # start mid-stream: frames before a keyframe are skipped
        writer.write(frame)
    writer.close()
    assert [c.path for c in closed] == [f"student-1/video-01-{i:04d}.ivf" for i in range(3)]
    assert sum(c.frames for c in closed) == 90 - 15
    for record in closed:
        path = tmp_path / record.path
        assert record.sha256 == sha256_of(path)
        assert decode_errors(path) == ""
        assert float(ffprobe(path)["format"]["duration"]) == pytest.approx(
            record.duration, abs=0.05
        )
    assert closed[0].started_at == pytest.approx(frames[15].wall)


def test_a_frame_from_the_middle_of_a_keyframe_is_not_a_keyframe(tmp_path: Path) -> None:
    """Seen in the journey: after a jitter-buffer overflow a fragment whose first byte had
    the P bit clear started a segment; nothing in it decoded until the real keyframe."""
    frames = vp8_frames(30, keyframe_every=15)
    keyframe = frames[15]
    fragment = dataclasses.replace(keyframe, data=bytes([0x1C]) + keyframe.data[700:])
    assert is_keyframe("vp8", keyframe.data) and not is_keyframe("vp8", fragment.data)
    closed: list[RecordedFile] = []
    writer = _vp8_writer(tmp_path, 0.5, closed)
    for frame in frames[:15]:
        writer.write(frame)
    writer.write(dataclasses.replace(fragment, keyframe=is_keyframe("vp8", fragment.data)))
    for frame in frames[16:]:
        writer.write(frame)
    writer.close()
    assert len(closed) == 1, "no segment starts on the fragment"
    assert closed[0].frames == 30


def test_full_disk_suspends_one_track_and_resumes_by_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    closed: list[RecordedFile] = []

    def make(name: str) -> SegmentedTrackWriter:
        return _vp8_writer(tmp_path, 1.0, closed, name)

    broken, healthy = make("student-1"), make("examiner-1")
    frames = vp8_frames(60, keyframe_every=15)  # 4 s, a keyframe each second
    full = {"now": False}
    real_write = IvfWriter.write

    def write(self: IvfWriter, pts: int, data: bytes) -> None:
        if "student-1" in str(self.path) and full["now"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(self, pts, data)

    monkeypatch.setattr(IvfWriter, "write", write)
    written = []
    with caplog.at_level(logging.WARNING):
        for index, frame in enumerate(frames):
            full["now"] = 20 <= index < 35  # the disk is full from 1.33 s to 2.33 s
            written.append(broken.write(frame))
            healthy.write(frame)
    broken.close()
    healthy.close()
    assert broken.suspended_since is None and not healthy.failed
    assert "recording of student-1 video suspended: No space left on device" in caplog.text
    assert "recording of student-1 video resumed after" in caplog.text
    # frames 20-44 lost: the first try after 1 s found room, the track waited for a keyframe
    assert [i for i, ok in enumerate(written) if not ok] == list(range(20, 45))
    mine = [c for c in closed if c.participant == "student-1"]
    assert [(c.path[-8:], c.frames, c.complete) for c in mine] == [
        ("0000.ivf", 15, True),
        ("0001.ivf", 5, False),
        ("0002.ivf", 15, True),
    ]
    for record in mine:
        assert decode_errors(tmp_path / record.path) == ""
        assert record.sha256 == sha256_of(tmp_path / record.path)
    assert sum(c.frames for c in closed if c.participant == "examiner-1") == 60
    assert sorted(p.name for p in (tmp_path / "student-1").iterdir()) == [
        f"video-01-{i:04d}.ivf" for i in range(3)
    ]


def test_a_torn_write_is_cut_back_to_the_last_whole_frame(tmp_path: Path) -> None:
    """A nearly full disk takes part of a frame: the file ends on the frame before."""
    path = tmp_path / "a.ivf"
    writer = IvfWriter(path, "vp8", 320, 240)
    frames = vp8_frames(10)
    for frame in frames[:5]:
        writer.write(frame.timestamp, frame.data)
    whole = path.stat().st_size

    class Half:
        def __init__(self, handle) -> None:  # noqa: ANN001 - the writer's raw file
            self.handle = handle

        def write(self, data: bytes) -> int:
            return self.handle.write(data[: len(data) // 2])

        def __getattr__(self, name: str):  # noqa: ANN204
            return getattr(self.handle, name)

    writer._file = Half(writer._file)
    with pytest.raises(OSError) as raised:
        writer.write(frames[5].timestamp, frames[5].data)
    assert raised.value.errno == errno.ENOSPC
    assert path.stat().st_size == whole
    writer._file = writer._file.handle
    writer.close()
    assert decode_errors(path) == ""


def test_analysis_wav_keeps_wall_clock_positions(tmp_path: Path) -> None:
    writer = AnalysisWavWriter(tmp_path / "a.wav", 16000)
    tone = (np.ones(3200) * 1000).astype(np.int16)
    writer.write_at(0, tone)
    writer.write_at(16000, tone)  # 0.8 s later than the end: a hole of silence
    writer.write_at(19200 + 100, tone)  # 100 samples of jitter: appended as is
    writer.close()
    with wave.open(str(tmp_path / "a.wav")) as handle:
        assert (handle.getframerate(), handle.getnchannels()) == (16000, 1)
        samples = np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2")
    assert len(samples) == 16000 + 3200 * 2
    assert not samples[3200:16000].any() and samples[16000:].all()


def test_ivf_holds_h264_when_the_browser_negotiates_it(tmp_path: Path) -> None:
    units = h264_frames(30)
    assert is_keyframe("h264", units[0]) and not is_keyframe("h264", units[1])
    writer = IvfWriter(tmp_path / "h.ivf", "h264", 320, 240)
    for i, unit in enumerate(units):
        writer.write(i * 6000, unit)
    writer.close()
    stream = ffprobe(tmp_path / "h.ivf")["streams"][0]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 320, 240)
    assert decode_errors(tmp_path / "h.ivf") == ""


def test_a_timestamp_jump_never_makes_hours_of_segment(tmp_path: Path) -> None:
    """What aiortc's false 32-bit wrap did: +2**32 ticks mid-stream (a 47,731 s segment)."""
    closed: list[RecordedFile] = []
    writer = _vp8_writer(tmp_path, 10.0, closed)
    frames = vp8_frames(45, keyframe_every=15)  # 3 s
    for index, frame in enumerate(frames):
        if index >= 20:
            frame = dataclasses.replace(frame, timestamp=frame.timestamp + (1 << 32))
        if index == 30:
            frame = dataclasses.replace(
                frame, timestamp=frame.timestamp - 90000 * 120
            )  # back 2 min
        writer.write(frame)
    writer.close()
    assert writer.discontinuities == 3  # jump, step back, and forward again after it
    assert len(closed) == 1
    assert closed[0].duration == pytest.approx(3.0, abs=0.2)
    path = tmp_path / closed[0].path
    assert float(ffprobe(path)["format"]["duration"]) == pytest.approx(3.0, abs=0.2)
    assert packet_span(path) == pytest.approx(3.0, abs=0.2)
    assert decode_errors(path) == ""


def test_composite_is_bounded_by_the_wall_clock(tmp_path: Path) -> None:
    import time

    from proctorbot.recording.composite import build_composite
    from proctorbot.recording.manifest import Manifest

    closed: list[RecordedFile] = []
    writer = _vp8_writer(tmp_path, 10.0, closed)
    frames = vp8_frames(30)
    for frame in frames:
        writer.write(frame)
    writer.close()
    closed[0].duration = 47731.0  # what a segment claimed before the fix
    manifest = Manifest(
        "s", started_at=frames[0].wall, ended_at=frames[-1].wall + 1.0, files=closed
    )
    began = time.monotonic()
    made = build_composite(tmp_path, manifest, tmp_path / "composite.mp4")
    assert made is not None and time.monotonic() - began < 60
    assert float(ffprobe(made)["format"]["duration"]) < 5.0
