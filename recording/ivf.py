"""IVF: the simplest container for VP8 (and H.264) frames exactly as received.

Each frame is one ``write`` of a 12-byte header plus the payload on an unbuffered
file, so a ``kill -9`` of the bot loses nothing that reached ``write``; ffmpeg reads
an IVF whose header frame count was never updated (the count is patched on close).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

FOURCC = {"vp8": b"VP80", "h264": b"H264"}
IVF_HEADER = struct.Struct("<4sHH4sHHIII4x")
FRAME_HEADER = struct.Struct("<IQ")


def vp8_is_keyframe(data: bytes) -> bool:
    """The VP8 frame tag's P bit is 0 on keyframes (RFC 6386 §9.1)."""
    return len(data) >= 3 and (data[0] & 0x01) == 0


def vp8_dimensions(data: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 keyframe header, or None for inter frames."""
    if not vp8_is_keyframe(data) or len(data) < 10 or data[3:6] != b"\x9d\x01\x2a":
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
        self._file = open(path, "wb", buffering=0)  # noqa: SIM115 - closed in close()
        self._file.write(
            IVF_HEADER.pack(b"DKIF", 0, 32, FOURCC[codec], width, height, 90000, 1, 0)
        )

    def write(self, pts_90k: int, data: bytes) -> None:
        self._file.write(FRAME_HEADER.pack(len(data), pts_90k) + data)
        self.frames += 1

    def close(self) -> None:
        if self._file.closed:
            return
        try:
            os.pwrite(self._file.fileno(), struct.pack("<I", self.frames), 24)
            os.fsync(self._file.fileno())
        finally:
            self._file.close()
