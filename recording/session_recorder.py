"""Everything one session writes: per-participant segments, analysis WAV, gaps, manifest.

The event loop calls the public methods; each one hands its work to the session's
``RecordingWorker`` thread, so file I/O and Opus decoding never block the loop and
all manifest state is touched by one thread only.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from proctorbot.config.settings import RecordingSettings
from proctorbot.recording.analysis import OpusToPcm
from proctorbot.recording.analysis_wav import AnalysisWavWriter
from proctorbot.recording.frames import EncodedFrame
from proctorbot.recording.manifest import (
    Gap,
    Manifest,
    ParticipantEntry,
    RecordedFile,
    sha256_of,
    write_manifest,
)
from proctorbot.recording.segments import SegmentedTrackWriter
from proctorbot.recording.worker import RecordingWorker

logger = logging.getLogger(__name__)

# (participant key, wall-clock time of the first sample, int16 mono samples)
PcmListener = Callable[[str, float, np.ndarray], None]
# called in the recording thread when a gap in a participant's media has closed
GapListener = Callable[[Gap], None]


def participant_key(role: str, person_id: str, name: str, peer_id: str) -> str:
    """A folder name that stays the same when a participant reconnects with a new peer id."""
    ident = re.sub(r"[^\w.-]+", "_", person_id or name).strip("_.") or peer_id
    return f"{role}-{ident}"[:80]


@dataclass
class _Participant:
    entry: ParticipantEntry
    wav: AnalysisWavWriter | None = None
    wav_origin: float = 0.0
    wav_failed: bool = False
    open_gap: Gap | None = None
    connections: int = 0


@dataclass
class TrackRecording:
    """Handle the event loop holds for one received track; ``push`` never blocks."""

    recorder: SessionRecorder
    key: str
    kind: str
    codec: str
    writer: SegmentedTrackWriter
    pcm: OpusToPcm | None = None
    frames_pushed: int = 0
    closed: bool = field(default=False)

    def push(self, frame: EncodedFrame) -> None:
        if self.closed:
            return
        self.frames_pushed += 1
        self.recorder.worker.submit(self.recorder._write_frame, self, frame)
        if self.frames_pushed % 500 == 0:
            self.recorder.check_backlog()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.recorder.worker.submit(self.writer.close)


class SessionRecorder:
    def __init__(
        self,
        session_dir: Path,
        session_id: str,
        settings: RecordingSettings,
        started_at: float | None = None,
    ) -> None:
        self.session_dir = session_dir
        self.settings = settings
        session_dir.mkdir(parents=True, exist_ok=True)
        self._lock = _lock_session(session_dir)
        self.manifest = _resume_manifest(session_dir, session_id, started_at or time.time())
        self.worker = RecordingWorker(f"recorder-{session_id}")
        self.pcm_listeners: list[PcmListener] = []
        self.gap_listeners: list[GapListener] = []
        self._participants: dict[str, _Participant] = {}
        self._runs: dict[tuple[str, str], int] = {}  # event-loop side: connection counter
        self._tracks: list[TrackRecording] = []
        self._backlog_warned = 0.0
        self.worker.submit(self._save_manifest)

    # -- called from the event loop ---------------------------------------------------
    def check_backlog(self, limit: int = 3000) -> None:
        """Frames wait in memory while the disk is slower than the network: say so once a minute."""
        backlog = self.worker.backlog()
        if backlog > limit and time.monotonic() - self._backlog_warned > 60:
            self._backlog_warned = time.monotonic()
            logger.warning(
                "recording of %s is %d frames behind: the disk is slower than the calls",
                self.manifest.session_id,
                backlog,
            )

    def participant_joined(self, key: str, role: str, name: str, person_id: str) -> None:
        self.worker.submit(self._joined, key, role, name, person_id, time.time())

    def participant_left(self, key: str, reason: str, last_media: float | None = None) -> None:
        self.worker.submit(self._left, key, reason, last_media or time.time())

    def media_stalled(self, key: str, since: float) -> None:
        """No media for a while although the participant did not leave: open a gap."""
        self.worker.submit(self._open_gap, key, since, "media_timeout")

    async def end_stalls(self, keys: set[str], at: float) -> list[Gap]:
        """The open gaps of participants still connected (``keys``) end at ``at``, the
        leave: they are gaps like any other (listeners told, in ``gaps``). Closing their
        links next would make them a final departure, which the manifest leaves out."""
        return await self.worker.call(self._end_stalls, keys, at)

    def open_track(self, key: str, kind: str, codec: str, role: str) -> TrackRecording:
        if (key, kind) not in self._runs:  # continue after files of an earlier bot process
            earlier = [
                int(p.name.split("-")[1]) for p in (self.session_dir / key).glob(f"{kind}-*-0000.*")
            ]
            self._runs[(key, kind)] = max(earlier, default=0)
        run = self._runs[(key, kind)] = self._runs[(key, kind)] + 1
        writer = SegmentedTrackWriter(
            self.session_dir,
            key,
            f"{kind}-{run:02d}",
            participant=key,
            role=role,
            codec=codec,
            segment_seconds=self.settings.segment_seconds,
            on_closed=self._segment_closed,
        )
        pcm = OpusToPcm(self.settings.analysis_sample_rate) if kind == "audio" else None
        track = TrackRecording(self, key, kind, codec, writer, pcm)
        self._tracks.append(track)
        return track

    async def close(self) -> Manifest:
        """Close every file, write the final manifest and stop the worker."""
        for track in self._tracks:
            track.close()
        manifest = await self.worker.call(self._finish)
        self.worker.stop()
        return manifest

    # -- worker thread ----------------------------------------------------------------
    def _joined(self, key: str, role: str, name: str, person_id: str, at: float) -> None:
        participant = self._participants.get(key)
        if participant is None:
            entry = next((e for e in self.manifest.participants if e.participant == key), None)
            if entry is None:  # new here, not listed by an earlier bot process either
                entry = ParticipantEntry(key, role, name, person_id, round(at, 3))
                self.manifest.participants.append(entry)
            participant = _Participant(entry)
            self._participants[key] = participant
        participant.connections += 1
        participant.entry.left_at = None
        self._save_manifest()

    def _left(self, key: str, reason: str, at: float) -> None:
        participant = self._participants.get(key)
        if participant is None:
            return
        participant.connections = max(0, participant.connections - 1)
        if participant.connections == 0:
            participant.entry.left_at = at
            self._open_gap(key, at, reason)

    def _open_gap(self, key: str, since: float, reason: str) -> None:
        participant = self._participants.get(key)
        if participant is None or participant.open_gap is not None:
            return
        gap = Gap(participant=key, start=round(since, 3), end=None, reason=reason)
        participant.open_gap = gap
        self.manifest.gaps.append(gap)
        logger.info("gap opened for %s at %.3f (%s)", key, since, reason)
        self._save_manifest()

    def _end_stalls(self, keys: set[str], at: float) -> list[Gap]:
        closed = []
        for key in sorted(keys):
            participant = self._participants.get(key)
            if participant is None or participant.open_gap is None:
                continue
            gap, participant.open_gap = participant.open_gap, None
            gap.end = round(max(gap.start, at), 3)
            logger.info("gap closed for %s at the leave: %.3f → %.3f", key, gap.start, gap.end)
            closed.append(gap)
        if closed:
            self._save_manifest()
        for gap in closed:
            for listener in self.gap_listeners:
                listener(gap)
        return closed

    def _write_frame(self, track: TrackRecording, frame: EncodedFrame) -> None:
        participant = self._participants.get(track.key)
        if participant is not None and participant.open_gap is not None:
            participant.open_gap.end = round(frame.arrival, 3)
            logger.info(
                "gap closed for %s: %.3f → %.3f",
                track.key,
                participant.open_gap.start,
                frame.arrival,
            )
            closed, participant.open_gap = participant.open_gap, None
            participant.entry.left_at = None
            self._save_manifest()
            for listener in self.gap_listeners:
                listener(closed)
        track.writer.write(frame)
        if track.pcm is not None and participant is not None and not participant.wav_failed:
            decoded = track.pcm.decode(frame)
            if decoded is not None:
                self._analysis(participant, track.key, *decoded)

    def _analysis(self, participant: _Participant, key: str, at: float, pcm: np.ndarray) -> None:
        rate = self.settings.analysis_sample_rate
        try:
            if participant.wav is None:
                path = self.session_dir / key / "analysis-16k.wav"
                path.parent.mkdir(parents=True, exist_ok=True)
                number = 1
                while path.exists():  # an earlier bot process wrote one: keep it
                    number += 1
                    path = path.with_name(f"analysis-16k-{number}.wav")
                participant.wav = AnalysisWavWriter(path, rate)
                participant.wav_origin = at
            participant.wav.write_at(round((at - participant.wav_origin) * rate), pcm)
        except OSError as exc:
            participant.wav_failed = True
            logger.error("analysis WAV of %s stopped: %s; written part kept", key, exc)
        for listener in self.pcm_listeners:
            listener(key, at, pcm)

    def _segment_closed(self, record: RecordedFile) -> None:
        self.manifest.files.append(record)
        self._save_manifest()

    def _save_manifest(self) -> None:
        try:
            write_manifest(self.session_dir, self.manifest)
        except OSError as exc:
            logger.error("manifest of %s not updated: %s", self.session_dir, exc)

    def _finish(self) -> Manifest:
        now = time.time()
        for participant in self._participants.values():
            if participant.open_gap is not None:
                participant.open_gap.end = None if participant.connections == 0 else now
            if participant.entry.left_at is None:
                participant.entry.left_at = round(now, 3)
            if participant.wav is not None:
                try:
                    participant.wav.close()
                    self.manifest.files.append(self._wav_record(participant))
                except OSError as exc:
                    logger.error(
                        "analysis WAV of %s not closed: %s", participant.entry.participant, exc
                    )
        # gaps still open at the end are the participant's final departure, not a gap
        self.manifest.gaps = [gap for gap in self.manifest.gaps if gap.end is not None]
        self.manifest.ended_at = round(now, 3)
        self._save_manifest()
        os.close(self._lock)
        return self.manifest

    def _wav_record(self, participant: _Participant) -> RecordedFile:
        assert participant.wav is not None
        path = participant.wav.path
        return RecordedFile(
            path=str(path.relative_to(self.session_dir)),
            kind="analysis",
            codec="pcm_s16le",
            participant=participant.entry.participant,
            role=participant.entry.role,
            started_at=round(participant.wav_origin, 3),
            duration=round(participant.wav.samples / participant.wav.sample_rate, 3),
            frames=participant.wav.samples,
            sha256=sha256_of(path),
            size_bytes=path.stat().st_size,
        )


class SessionLocked(Exception):
    """Another bot (this process or another one) is recording the same session."""


def _lock_session(session_dir: Path) -> int:
    descriptor = os.open(session_dir / ".recording.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise SessionLocked(f"another bot is already recording into {session_dir}") from None
    return descriptor


def _resume_manifest(session_dir: Path, session_id: str, started_at: float) -> Manifest:
    """Keep what an earlier (perhaps killed) bot process listed; its files stay valid."""
    from proctorbot.recording.manifest import MANIFEST_NAME, read_manifest

    if (session_dir / MANIFEST_NAME).exists():
        try:
            earlier = read_manifest(session_dir)
        except (ValueError, KeyError, TypeError) as exc:
            logger.error("manifest in %s unreadable (%s); starting a new one", session_dir, exc)
        else:
            earlier.ended_at = None
            earlier.errors.append(f"bot restarted at {started_at:.3f}")
            _recover_unlisted(session_dir, earlier)
            return earlier
    manifest = Manifest(session_id=session_id, started_at=started_at)
    _recover_unlisted(session_dir, manifest)
    return manifest


def _recover_unlisted(session_dir: Path, manifest: Manifest) -> None:
    """Segments a killed bot left open: list them (complete=False) with what ffprobe reads."""
    import ffmpeg

    listed = {f.path for f in manifest.files}
    kinds = {".ivf": "video", ".ogg": "audio", ".wav": "analysis"}
    for path in sorted(session_dir.glob("*/*")):
        relative = str(path.relative_to(session_dir))
        if path.suffix not in kinds or relative in listed:
            continue
        try:
            probe = ffmpeg.probe(
                str(path),
                count_packets=None,
                show_entries="stream=nb_read_packets,codec_name,width,height:format=duration",
            )
            stream = probe["streams"][0]
            duration = float(probe["format"].get("duration") or 0.0)
        except (ffmpeg.Error, KeyError, IndexError, ValueError) as exc:
            logger.error("%s left by an earlier bot is unreadable: %s", relative, exc)
            continue
        entry = next((e for e in manifest.participants if e.participant == path.parent.name), None)
        manifest.files.append(
            RecordedFile(
                path=relative,
                kind=kinds[path.suffix],
                codec=str(stream.get("codec_name", "")),
                participant=path.parent.name,
                role=entry.role if entry else path.parent.name.split("-")[0],
                started_at=path.stat().st_mtime - duration,  # closest we know after a crash
                duration=round(duration, 3),
                frames=int(stream.get("nb_read_packets") or 0),
                width=int(stream.get("width") or 0),
                height=int(stream.get("height") or 0),
                sha256=sha256_of(path),
                size_bytes=path.stat().st_size,
                complete=False,
            )
        )
        logger.warning("recovered %s left open by an earlier bot process", relative)


def finalize_folder(session_dir: Path, session_id: str) -> Manifest:
    """The manifest of a folder no bot records into any more, with every file listed."""
    lock = _lock_session(session_dir)
    try:
        manifest = _resume_manifest(session_dir, session_id, time.time())
        if manifest.errors and manifest.errors[-1].startswith("bot restarted"):
            manifest.errors.pop()  # nothing restarted: we only tidy up
        write_manifest(session_dir, manifest)
        return manifest
    finally:
        os.close(lock)
