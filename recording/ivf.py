"""IVF: the simplest container for VP8 (and H.264) frames exactly as received.

Each frame is one ``write`` of a 12-byte header plus the payload on an unbuffered
file, so a ``kill -9`` of the bot loses nothing that reached ``write``.

The header's 32-bit "frame count" is what ffmpeg reports as the stream duration (in
time-base ticks), and players show that; so the writer stores the duration in
1/90000 ticks there, refreshed about once a second (after a crash the file plays in
full, its announced length at most a second short).
"""

from __future__ import annotations

import os
import struct
import time
from pathlib import Path

from proctorbot.recording.whole_writes import append_whole

FOURCC = {"vp8": b"VP80", "h264": b"H264"}
IVF_HEADER = struct.Struct("<4sHH4sHHIII4x")
FRAME_HEADER = struct.Struct("<IQ")


VP8_START_CODE = b"\x9d\x01\x2a"


def vp8_is_keyframe(data: bytes) -> bool:
    """The VP8 frame tag's P bit is 0 on keyframes and the start code follows it (RFC 6386
    §9.1). The start code matters: after aiortc's jitter buffer overflows it may hand over
    a frame from a packet in its middle, whose first byte has the P bit clear half of the
    time; taken for a keyframe, a segment started on it and nothing in it decoded."""
    return len(data) >= 10 and (data[0] & 0x01) == 0 and data[3:6] == VP8_START_CODE


def vp8_dimensions(data: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 keyframe header, or None for inter frames."""
    if not vp8_is_keyframe(data):
        return None
    width, height = struct.unpack_from("<HH", data, 6)
    return width & 0x3FFF, height & 0x3FFF


def h264_is_keyframe(data: bytes) -> bool:
    """True when an Annex-B access unit holds an IDR slice (NAL type 5) or an SPS."""
    index = 0
    while True:
        index = data.find(b"\x00\x00\x01", index)
        if index < 0 or index + 3 >= len(data):
            return False
        nal_type = data[index + 3] & 0x1F
        if nal_type in (5, 7):
            return True
        index += 3


def is_keyframe(codec: str, data: bytes) -> bool:
    return vp8_is_keyframe(data) if codec == "vp8" else h264_is_keyframe(data)


class IvfWriter:
    """Appends encoded video frames to one IVF file; timestamps in a 1/90000 base."""

    def __init__(self, path: Path, codec: str, width: int = 0, height: int = 0) -> None:
        if codec not in FOURCC:
            raise ValueError(f"IVF cannot hold {codec!r}")
        self.path = path
        self.frames = 0
        self.duration_ticks = 0
        self._last_pts: int | None = None
        self._last_header = time.monotonic()
        self._file = open(path, "wb", buffering=0)  # noqa: SIM115 - closed in close()
        header = IVF_HEADER.pack(b"DKIF", 0, 32, FOURCC[codec], width, height, 90000, 1, 0)
        self._size = 0
        try:
            self._size = append_whole(self._file, header, 0)
        except OSError:
            self._file.close()
            raise

    def write(self, pts_90k: int, data: bytes) -> None:
        """One frame, whole or not at all (an ``OSError`` on a full disk)."""
        self._size = append_whole(
            self._file, FRAME_HEADER.pack(len(data), pts_90k) + data, self._size
        )
        self.frames += 1
        delta = pts_90k - self._last_pts if self._last_pts is not None else 0
        self._last_pts = pts_90k
        # the last frame lasts as long as the one before it
        self.duration_ticks = max(self.duration_ticks, pts_90k + max(delta, 0))
        if time.monotonic() - self._last_header > 1.0:
            self._write_duration()

    def _write_duration(self) -> None:
        os.pwrite(self._file.fileno(), struct.pack("<I", self.duration_ticks & 0xFFFFFFFF), 24)
        self._last_header = time.monotonic()

    def close(self) -> None:
        if self._file.closed:
            return
        try:
            self._write_duration()
            os.fsync(self._file.fileno())
        finally:
            self._file.close()
