"""Per-track writers that cut the stream into ~10 s files as it arrives.

A video segment always starts on a keyframe (the track recorder asks the browser
for one when a segment is due); an audio segment starts on any packet. Each closed
segment becomes a ``RecordedFile`` with its SHA-256 for the manifest.

Timestamps written are kept monotonic and bounded by the wall clock: a frame whose
timestamp steps back, or further ahead than the time that passed between arrivals
(plus ``MAX_AHEAD_SECONDS``), is a discontinuity; it is logged and the track's
timeline continues from the wall clock, so a segment never claims hours it does not hold.

A write that fails (a full disk) suspends the track, it does not end it: the open
segment is closed where its last whole frame ends (``complete: false``), frames are
dropped while ``suspended_since`` is set, and every ``RESUME_TRY_SECONDS`` the next
frame (for video, the next keyframe) opens a new segment. When that write goes
through the track records again by itself; a try that fails leaves no file behind.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from proctorbot.recording.frames import EncodedFrame
from proctorbot.recording.ivf import IvfWriter, vp8_dimensions
from proctorbot.recording.manifest import RecordedFile, sha256_of
from proctorbot.recording.ogg_opus import OggOpusWriter

logger = logging.getLogger(__name__)

SegmentClosed = Callable[[RecordedFile], None]
MAX_AHEAD_SECONDS = 5.0
RESUME_TRY_SECONDS = 1.0


class _Segment:
    def __init__(self, path: Path, first: EncodedFrame) -> None:
        self.path = path
        self.first_ts = first.timestamp
        self.last_ts = first.timestamp
        self.last_delta = 0
        self.started_at = first.wall or first.arrival
        self.frames = 0


class SegmentedTrackWriter:
    """Writes one received track of one participant (one connection) to segment files."""

    def __init__(
        self,
        session_dir: Path,
        folder: str,
        stem: str,
        *,
        participant: str,
        role: str,
        codec: str,
        segment_seconds: float,
        on_closed: SegmentClosed,
    ) -> None:
        self.session_dir = session_dir
        self.folder = folder
        self.stem = stem
        self.participant = participant
        self.role = role
        self.codec = codec
        self.kind = "audio" if codec == "opus" else "video"
        self.segment_seconds = segment_seconds
        self.on_closed = on_closed
        self.frames_written = 0
        self.failed: str | None = None  # the last write error while suspended
        self.suspended_since: float | None = None  # wall clock of the failed write
        self._next_try = 0.0
        self._index = 0
        self._segment: _Segment | None = None
        self._writer: IvfWriter | OggOpusWriter | None = None
        self._size = (0, 0)
        self._shift = 0  # added to received timestamps after a discontinuity
        self._last: tuple[int, float] | None = None  # (written timestamp, arrival)
        self.discontinuities = 0
        (session_dir / folder).mkdir(parents=True, exist_ok=True)

    def write(self, frame: EncodedFrame) -> bool:
        """Write one frame; False when it was dropped (waiting for a keyframe, suspended)."""
        if self.suspended_since is not None:
            if frame.arrival < self._next_try:
                return False
        if self._segment is None and self.kind == "video" and not frame.keyframe:
            return False  # undecodable until the first keyframe; one was requested
        try:
            self._write(frame)
        except OSError as exc:
            self._fail(exc, frame.arrival)
            return False
        if self.suspended_since is not None:
            logger.warning(
                "recording of %s %s resumed after %.1f s without disk space",
                self.participant,
                self.kind,
                frame.arrival - self.suspended_since,
            )
            self.suspended_since, self.failed = None, None
        return True

    def _timestamp(self, frame: EncodedFrame) -> int:
        """The frame's timestamp on a monotonic timeline the wall clock confirms."""
        timestamp = frame.timestamp + self._shift
        if self._last is None:
            return timestamp
        last, last_arrival = self._last
        clock = frame.clock_rate
        wall_step = max(0.0, frame.arrival - last_arrival)
        step = timestamp - last
        if step <= 0 and step > -clock:  # a reordered frame: just keep the order
            return last + 1
        if step <= 0 or step / clock > wall_step + MAX_AHEAD_SECONDS:
            quantum = 960 if self.kind == "audio" else 1
            ticks = max(quantum, round(wall_step * clock / quantum) * quantum)
            self._shift += last + ticks - timestamp
            self.discontinuities += 1
            logger.warning(
                "%s %s: timestamp stepped %.3f s while %.3f s passed; continuing from the wall clock",
                self.participant,
                self.kind,
                step / clock,
                wall_step,
            )
            return last + ticks
        return timestamp

    def _write(self, frame: EncodedFrame) -> None:
        timestamp = self._timestamp(frame)
        segment = self._segment
        if segment is not None:
            age = (timestamp - segment.first_ts) / frame.clock_rate
            due = age >= self.segment_seconds and (self.kind == "audio" or frame.keyframe)
            if due:
                self._close_segment(complete=True)
                segment = None
        if segment is None:
            segment = self._open_segment(frame, timestamp)
        if self.kind == "video":
            size = vp8_dimensions(frame.data) if self.codec == "vp8" else None
            if size:
                self._size = size
            assert isinstance(self._writer, IvfWriter)
            self._writer.write(timestamp - segment.first_ts, frame.data)
        else:
            assert isinstance(self._writer, OggOpusWriter)
            self._writer.write(timestamp, frame.data)
        if timestamp > segment.last_ts:
            segment.last_delta = timestamp - segment.last_ts
        segment.last_ts = timestamp
        self._last = (timestamp, frame.arrival)
        segment.frames += 1
        self.frames_written += 1

    def _open_segment(self, frame: EncodedFrame, timestamp: int) -> _Segment:
        extension = "ogg" if self.kind == "audio" else "ivf"
        relative = f"{self.folder}/{self.stem}-{self._index:04d}.{extension}"
        self._index += 1
        path = self.session_dir / relative
        segment = _Segment(path, frame)
        segment.first_ts = segment.last_ts = timestamp
        segment.started_at = frame.wall or frame.arrival
        try:
            if self.kind == "video":
                width, height = vp8_dimensions(frame.data) or self._size
                self._writer = IvfWriter(path, self.codec, width, height)
            else:
                self._writer = OggOpusWriter(path)
        except OSError:
            self._index -= 1  # not even its header fit: no file, the number is reused
            path.unlink(missing_ok=True)
            raise
        self._segment = segment
        return segment

    def _close_segment(self, *, complete: bool) -> None:
        segment, writer = self._segment, self._writer
        self._segment, self._writer = None, None
        if segment is None or writer is None:
            return
        try:
            writer.close()
        except OSError as exc:
            complete = False
            logger.error(
                "closing %s failed: %s; the frames written so far are kept", segment.path, exc
            )
        clock = 48000 if self.kind == "audio" else 90000
        if isinstance(writer, OggOpusWriter):
            duration = writer.samples / clock
        else:
            duration = (segment.last_ts - segment.first_ts + segment.last_delta) / clock
        self.on_closed(
            RecordedFile(
                path=str(segment.path.relative_to(self.session_dir)),
                kind=self.kind,
                codec=self.codec,
                participant=self.participant,
                role=self.role,
                started_at=segment.started_at,
                duration=round(duration, 3),
                frames=segment.frames,
                width=self._size[0],
                height=self._size[1],
                sha256=sha256_of(segment.path),
                size_bytes=segment.path.stat().st_size,
                complete=complete,
            )
        )

    def _fail(self, exc: OSError, at: float) -> None:
        self._next_try = at + RESUME_TRY_SECONDS
        segment = self._segment
        if self.suspended_since is None:
            self.suspended_since = at
            logger.error(
                "recording of %s %s suspended: %s while writing %s; files written so far are "
                "kept, it resumes by itself when the disk has room again",
                self.participant,
                self.kind,
                exc.strerror or exc,
                segment.path if segment else self.folder,
            )
        self.failed = str(exc)
        if segment is not None and segment.frames == 0:
            self._drop_segment()  # a try that wrote nothing: no empty file left behind
        else:
            self._close_segment(complete=False)

    def _drop_segment(self) -> None:
        segment, writer = self._segment, self._writer
        self._segment, self._writer = None, None
        self._index -= 1  # the next try reuses the number
        if writer is not None:
            try:
                writer.close()
            except OSError:
                pass
        if segment is not None:
            segment.path.unlink(missing_ok=True)

    def close(self) -> None:
        self._close_segment(complete=self.suspended_since is None)
