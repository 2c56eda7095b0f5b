"""Everything one session writes: per-participant segments, analysis WAV, gaps, manifest.

The event loop calls the public methods; each one hands its work to the session's
``RecordingWorker`` thread, so file I/O and Opus decoding never block the loop and
all manifest state is touched by one thread only.
"""

from __future__ import annotations

import logging
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


def participant_key(role: str, person_id: str, name: str, peer_id: str) -> str:
    """A folder name that stays the same when a participant reconnects with a new peer id."""
    ident = person_id or name or peer_id
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{role}-{ident}").strip("_")[:80]


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
        self.manifest = Manifest(session_id=session_id, started_at=started_at or time.time())
        self.worker = RecordingWorker(f"recorder-{session_id}")
        self.pcm_listeners: list[PcmListener] = []
        self._participants: dict[str, _Participant] = {}
        self._runs: dict[tuple[str, str], int] = {}  # event-loop side: connection counter
        self._tracks: list[TrackRecording] = []
        self.worker.submit(self._save_manifest)

    # -- called from the event loop ---------------------------------------------------
    def participant_joined(self, key: str, role: str, name: str, person_id: str) -> None:
        self.worker.submit(self._joined, key, role, name, person_id, time.time())

    def participant_left(self, key: str, reason: str, last_media: float | None = None) -> None:
        self.worker.submit(self._left, key, reason, last_media or time.time())

    def media_stalled(self, key: str, since: float) -> None:
        """No media for a while although the participant did not leave: open a gap."""
        self.worker.submit(self._open_gap, key, since, "media_timeout")

    def open_track(self, key: str, kind: str, codec: str, role: str) -> TrackRecording:
        run = self._runs[(key, kind)] = self._runs.get((key, kind), 0) + 1
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
            participant = _Participant(ParticipantEntry(key, role, name, person_id, round(at, 3)))
            self._participants[key] = participant
            self.manifest.participants.append(participant.entry)
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

    def _write_frame(self, track: TrackRecording, frame: EncodedFrame) -> None:
        participant = self._participants.get(track.key)
        if participant is not None and participant.open_gap is not None:
            participant.open_gap.end = round(frame.arrival, 3)
            logger.info(
                "gap closed for %s: %.3f → %.3f", track.key, participant.open_gap.start, frame.arrival
            )
            participant.open_gap = None
            participant.entry.left_at = None
            self._save_manifest()
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
                    logger.error("analysis WAV of %s not closed: %s", participant.entry.participant, exc)
        # gaps still open at the end are the participant's final departure, not a gap
        self.manifest.gaps = [gap for gap in self.manifest.gaps if gap.end is not None]
        self.manifest.ended_at = round(now, 3)
        self._save_manifest()
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
