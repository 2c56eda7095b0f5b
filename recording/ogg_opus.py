"""Ogg Opus written page by page from Opus packets exactly as received.

Pages are flushed every ~200 ms with one unbuffered ``write`` each, so a killed
bot leaves a valid file missing at most the last page. Holes in the RTP timeline
(packet loss, DTX) are filled with 1-byte "lost frame" packets (RFC 6716 §3.2.1:
a zero-length frame), so the file's timeline stays equal to the wall clock and a
decoder conceals the hole instead of shifting everything after it.
"""

from __future__ import annotations

import os
import random
import struct
from pathlib import Path

from proctorbot.recording.whole_writes import append_whole

OPUS_RATE = 48000


def _crc_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        crc = i << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return tuple(table)


CRC_TABLE = _crc_table()


def ogg_crc(data: bytes) -> int:
    crc = 0
    table = CRC_TABLE
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ table[((crc >> 24) ^ byte) & 0xFF]
    return crc


def opus_packet_samples(packet: bytes) -> int:
    """Samples at 48 kHz in one Opus packet, from its TOC byte (RFC 6716 §3.1)."""
    if not packet:
        return 0
    toc = packet[0]
    config = toc >> 3
    if config < 12:
        frame = (480, 960, 1920, 2880)[config % 4]
    elif config < 16:
        frame = (480, 960)[config % 2]
    else:
        frame = (120, 240, 480, 960)[config % 4]
    code = toc & 0x03
    if code == 0:
        count = 1
    elif code in (1, 2):
        count = 2
    else:
        count = packet[1] & 0x3F if len(packet) > 1 else 1
    return frame * count


class OggOpusWriter:
    """One Ogg Opus file; ``write`` takes a packet and its RTP timestamp at 48 kHz."""

    def __init__(
        self, path: Path, channels: int = 2, packets_per_page: int = 10, pre_skip: int = 0
    ) -> None:
        self.path = path
        self.samples = 0  # timeline length written so far, 48 kHz
        self.packets = 0
        self._serial = random.getrandbits(32)
        self._sequence = 0
        self._pending: list[bytes] = []
        self._packets_per_page = packets_per_page
        self._first_ts: int | None = None
        self._file = open(path, "wb", buffering=0)  # noqa: SIM115 - closed in close()
        self._size = 0
        head = b"OpusHead" + struct.pack("<BBHIhB", 1, channels, pre_skip, OPUS_RATE, 0, 0)
        vendor = b"proctorbot"
        tags = b"OpusTags" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", 0)
        try:
            self._write_page([head], granule=0, flags=0x02)
            self._write_page([tags], granule=0, flags=0)
        except OSError:
            self._file.close()
            raise

    def write(self, rtp_timestamp: int, packet: bytes) -> None:
        if self._first_ts is None:
            self._first_ts = rtp_timestamp
        position = rtp_timestamp - self._first_ts
        hole = position - self.samples
        if hole >= 960 and packet:
            # conceal the hole with zero-length frames of 20 ms each (max 30 min)
            filler = bytes([(packet[0] & 0xFC)])
            step = opus_packet_samples(filler) or 960
            for _ in range(min(hole // step, 30 * 60 * 50)):
                self._append(filler, step)
        self._append(packet, opus_packet_samples(packet))

    def _append(self, packet: bytes, samples: int) -> None:
        self._pending.append(packet)
        self.samples += samples
        self.packets += 1
        if len(self._pending) >= self._packets_per_page:
            self.flush()

    def flush(self, last: bool = False) -> None:
        if self._pending or last:
            self._write_page(self._pending, granule=self.samples, flags=0x04 if last else 0)
            self._pending = []

    def _write_page(self, packets: list[bytes], granule: int, flags: int) -> None:
        lacing = bytearray()
        for packet in packets:
            lacing += b"\xff" * (len(packet) // 255) + bytes([len(packet) % 255])
        header = struct.pack(
            "<4sBBqIIIB", b"OggS", 0, flags, granule, self._serial, self._sequence, 0, len(lacing)
        )
        page = bytearray(header + bytes(lacing) + b"".join(packets))
        struct.pack_into("<I", page, 22, ogg_crc(page))
        self._size = append_whole(self._file, bytes(page), self._size)  # a page, whole or none
        self._sequence += 1

    def close(self) -> None:
        if self._file.closed:
            return
        try:
            self.flush(last=True)
            os.fsync(self._file.fileno())
        finally:
            self._file.close()
