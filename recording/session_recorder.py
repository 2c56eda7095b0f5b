"""Everything one session writes: per-participant segments, analysis WAV, gaps, manifest.

The event loop calls the public methods; each one hands its work to the session's
``RecordingWorker`` thread, so file I/O and Opus decoding never block the loop and
all manifest state is touched by one thread only.

Faults it lives through:

* **A full disk**: a track whose write fails is suspended, not ended
  (recording/segments.py); the participant gets a ``disk_full`` gap from that moment
  until a frame of theirs is written again, which happens by itself once there is room.
  The analysis WAV and ``manifest.json`` are retried the same way (at most once a
  second); the manifest in memory stays whole meanwhile.
* **No bot** (killed, or restarting): the next bot in the same folder opens a
  ``bot_down`` gap for each participant the earlier one was recording, from their last
  media (the newest file of theirs; for a bot that left normally, its end) to their
  first frame recorded again. A gap the killed bot left open (the participant was away)
  ends where that bot stopped writing, the ``bot_down`` gap takes over from there.
  A participant who never comes back keeps neither: that is a departure, as always.
  ``proctorbot recording finalize`` closes what a killed bot left open the same way.
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
    MANIFEST_FILE,
    Gap,
    Manifest,
    ParticipantEntry,
    RecordedFile,
    sha256_of,
    write_manifest,
)
from proctorbot.recording.segments import SegmentedTrackWriter
from proctorbot.recording.worker import RecordingWorker
from proctorbot.storage.session_folder import ANALYSIS_SAMPLE_RATE

logger = logging.getLogger(__name__)

# (participant key, wall-clock time of the first sample, int16 mono samples)
PcmListener = Callable[[str, float, np.ndarray], None]
# called in the recording thread when a gap in a participant's media has closed
GapListener = Callable[[Gap], None]
# A failed write (full disk) of the WAV or the manifest is tried again this often.
RETRY_WRITE_SECONDS = 1.0


# A person's phone or screen share that went this close before the person's main device
# (or the bot) left went with the person: a departure, not a gap of that source.
LEAVING_TOGETHER_S = 10.0


def participant_key(
    role: str, person_id: str, name: str, peer_id: str, device: str = "main"
) -> str:
    """A folder name that stays the same when a participant reconnects with a new peer id.

    A source is (person, device): the person's main device is ``<role>-<id>``, another of
    their devices (a phone beside the laptop) ``<role>-<id>-<device>``, recorded apart."""
    ident = re.sub(r"[^\w.-]+", "_", person_id or name).strip("_.") or peer_id
    suffix = "" if device in ("", "main") else "-" + re.sub(r"[^\w-]+", "_", device)[:16]
    return f"{role}-{ident}"[: 80 - len(suffix)] + suffix


@dataclass
class _Participant:
    entry: ParticipantEntry
    wav: AnalysisWavWriter | None = None
    wav_origin: float = 0.0
    wav_failed: bool = False
    wav_retry_at: float = 0.0  # after a failed write (full disk): not before this time
    open_gap: Gap | None = None
    connections: int = 0
    awaited: AwaitedReturn | None = None  # seen by an earlier bot, not recorded here yet


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
    last_arrival: float | None = None  # wall clock of the newest frame handed to the writer

    def push(self, frame: EncodedFrame) -> None:
        if self.closed:
            return
        self.frames_pushed += 1
        self.last_arrival = frame.arrival
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
        earlier_end = _earlier_end(session_dir)
        self.manifest = _resume_manifest(session_dir, session_id, started_at or time.time())
        # The "no bot" gap of each participant the earlier bot was recording.
        self._awaited = awaited_after_restart(session_dir, self.manifest, earlier_end)
        self._manifest_stale = False  # the last save failed: try again
        self._manifest_retry_at = 0.0
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
        links next would make them a final departure, which the manifest leaves out. So
        does a person's phone or screen that went and never came back: its gap ends when
        the person's main device left, or at ``at``."""
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
        pcm = OpusToPcm(ANALYSIS_SAMPLE_RATE) if kind == "audio" else None
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
        if participant.awaited is None:
            participant.awaited = self._awaited.pop(key, None)
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
        ends = {key: at for key in keys}
        ends.update(self._other_devices_gone(keys, at))
        closed = []
        for key in sorted(ends):
            participant = self._participants.get(key)
            if participant is None or participant.open_gap is None:
                continue
            gap, participant.open_gap = participant.open_gap, None
            gap.end = round(max(gap.start, ends[key]), 3)
            logger.info("gap closed for %s at the leave: %.3f → %.3f", key, gap.start, gap.end)
            closed.append(gap)
        if closed:
            self._save_manifest()
        for gap in closed:
            for listener in self.gap_listeners:
                listener(gap)
        return closed

    def _other_devices_gone(self, connected: set[str], at: float) -> dict[str, float]:
        """A person's other device (a phone, a screen share) still gone at the leave never
        came back: its gap lasts until the person's main device left (or the leave), so it
        counts against its own allowance instead of being dropped as a departure; one that
        went within ``LEAVING_TOGETHER_S`` of that moment simply left with the person."""
        ends: dict[str, float] = {}
        for key, participant in self._participants.items():
            if key in connected or participant.open_gap is None:
                continue
            main = next(
                (
                    other
                    for other_key, other in self._participants.items()
                    if key.startswith(other_key + "-")
                    and other.entry.role == participant.entry.role
                    and other.entry.person_id == participant.entry.person_id
                ),
                None,
            )
            if main is None:
                continue
            end = main.open_gap.start if main.open_gap is not None else at
            if end - participant.open_gap.start > LEAVING_TOGETHER_S:
                ends[key] = end  # else both left together: a departure, not a gap
        return ends

    def _write_frame(self, track: TrackRecording, frame: EncodedFrame) -> None:
        participant = self._participants.get(track.key)
        was_suspended = track.writer.suspended_since is not None
        written = track.writer.write(frame)
        if was_suspended != (track.writer.suspended_since is not None):
            self._note_suspension(track, frame.arrival)
        if participant is not None:
            if written and participant.awaited is not None:
                self._back_after_restart(participant, frame.arrival)
            if written and participant.open_gap is not None and not self._suspended(track.key):
                self._close_gap(participant, track.key, frame.arrival)
            elif not was_suspended and track.writer.suspended_since is not None:
                self._open_gap(track.key, track.writer.suspended_since, "disk_full")
        if self._manifest_stale and frame.arrival >= self._manifest_retry_at:
            self._save_manifest()
        if track.pcm is not None and participant is not None and not participant.wav_failed:
            decoded = track.pcm.decode(frame)
            if decoded is not None:
                self._analysis(participant, track.key, *decoded)

    def _note_suspension(self, track: TrackRecording, at: float) -> None:
        """The manifest's ``errors`` say when a track stopped for a full disk and resumed."""
        writer = track.writer
        if writer.suspended_since is not None:
            text = f"{track.key} {track.kind} suspended at {at:.3f}: {writer.failed}"
        else:
            text = f"{track.key} {track.kind} resumed at {at:.3f}"
        self.manifest.errors.append(text)

    def _suspended(self, key: str) -> bool:
        """A track of the participant still waits for disk space (its gap stays open)."""
        return any(
            t.key == key and not t.closed and t.writer.suspended_since is not None
            for t in self._tracks
        )

    def _back_after_restart(self, participant: _Participant, at: float) -> None:
        awaited, participant.awaited = participant.awaited, None
        assert awaited is not None
        closed = []
        if awaited.left_open is not None:  # away when the earlier bot died: until then
            awaited.left_open.end = round(max(awaited.left_open.start, awaited.bot_down.start), 3)
            closed.append(awaited.left_open)
        awaited.bot_down.end = round(max(awaited.bot_down.start, at), 3)
        closed.append(awaited.bot_down)
        logger.info(
            "%s recorded again: no bot from %.3f to %.3f",
            awaited.bot_down.participant,
            awaited.bot_down.start,
            awaited.bot_down.end,
        )
        participant.entry.left_at = None
        self._save_manifest()
        for gap in closed:
            for listener in self.gap_listeners:
                listener(gap)

    def _close_gap(self, participant: _Participant, key: str, at: float) -> None:
        gap = participant.open_gap
        assert gap is not None
        gap.end = round(max(gap.start, at), 3)
        logger.info("gap closed for %s: %.3f → %.3f (%s)", key, gap.start, gap.end, gap.reason)
        participant.open_gap = None
        participant.entry.left_at = None
        self._save_manifest()
        for listener in self.gap_listeners:
            listener(gap)

    def _analysis(self, participant: _Participant, key: str, at: float, pcm: np.ndarray) -> None:
        rate = ANALYSIS_SAMPLE_RATE
        if at >= participant.wav_retry_at:
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
                # a hole while the disk was full is silence: positions stay wall-clock time
                participant.wav.write_at(round((at - participant.wav_origin) * rate), pcm)
                if participant.wav_retry_at:
                    participant.wav_retry_at = 0.0
                    logger.warning("analysis WAV of %s written again", key)
            except OSError as exc:
                if not participant.wav_retry_at:
                    logger.error(
                        "analysis WAV of %s suspended: %s; written part kept, it goes on "
                        "by itself when the disk has room",
                        key,
                        exc.strerror or exc,
                    )
                participant.wav_retry_at = at + RETRY_WRITE_SECONDS
        for listener in self.pcm_listeners:
            listener(key, at, pcm)

    def _segment_closed(self, record: RecordedFile) -> None:
        self.manifest.files.append(record)
        self._save_manifest()

    def _save_manifest(self) -> None:
        try:
            write_manifest(self.session_dir, self.manifest)
        except OSError as exc:
            if not self._manifest_stale:
                logger.error(
                    "manifest of %s not updated: %s; kept in memory and written again when "
                    "the disk has room",
                    self.session_dir,
                    exc.strerror or exc,
                )
            self._manifest_stale = True
            self._manifest_retry_at = time.time() + RETRY_WRITE_SECONDS
            return
        if self._manifest_stale:
            logger.warning("manifest of %s written again", self.session_dir)
        self._manifest_stale = False

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
        # gaps still open at the end are the participant's final departure, not a gap (a
        # participant the earlier bot saw who never came back to this one: gone meanwhile)
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
    from proctorbot.recording.manifest import MANIFEST_FILE, read_manifest

    if (session_dir / MANIFEST_FILE).exists():
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


def last_sign_of_life(session_dir: Path, participant: str | None = None) -> float | None:
    """When a (killed) bot last wrote anything in the folder, or a participant's media."""
    if participant is not None:
        paths = list((session_dir / participant).glob("*"))
    else:
        paths = [*session_dir.glob("*/*"), *session_dir.glob("*.json*")]
    stamps = []
    for path in paths:
        try:
            if path.is_file() and not path.name.startswith("."):
                stamps.append(path.stat().st_mtime)
        except OSError:
            continue
    return max(stamps, default=None)


@dataclass
class AwaitedReturn:
    """A participant an earlier bot was recording, not recorded by this one yet."""

    bot_down: Gap  # open: from their last media (or that bot's end) until recorded again
    left_open: Gap | None = None  # the earlier bot's gap still open when it died


def _earlier_end(session_dir: Path) -> float | None:
    """``ended_at`` of the folder's manifest: when an earlier bot left normally (None: it
    was killed, or there is none)."""
    import json

    try:
        value = json.loads((session_dir / MANIFEST_FILE).read_text()).get("ended_at")
    except (OSError, ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, int | float) else None


def awaited_after_restart(
    session_dir: Path, manifest: Manifest, earlier_end: float | None
) -> dict[str, AwaitedReturn]:
    """The ``bot_down`` gap (open, listed in ``manifest.gaps`` at once) of each participant
    the earlier bot was recording when it died or left; empty for a new folder."""
    if not manifest.errors or not manifest.errors[-1].startswith("bot restarted"):
        return {}
    died_at = last_sign_of_life(session_dir) or time.time()
    left_open = {gap.participant: gap for gap in manifest.gaps if gap.end is None}
    awaited: dict[str, AwaitedReturn] = {}
    for entry in manifest.participants:
        key = entry.participant
        if earlier_end is not None:  # it left normally: who was still there then
            if entry.left_at is None or entry.left_at < earlier_end - 0.5:
                continue
            start = earlier_end
        elif key in left_open:  # away (or stalled) when it died: absent until then
            start = died_at
        elif entry.left_at is None:  # in the call when it died: since their last media
            start = last_sign_of_life(session_dir, key) or died_at
        else:
            continue
        gap = Gap(participant=key, start=round(start, 3), end=None, reason="bot_down")
        manifest.gaps.append(gap)
        entry.left_at = entry.left_at or gap.start
        awaited[key] = AwaitedReturn(gap, left_open.get(key))
    return awaited


def settle_killed(session_dir: Path, manifest: Manifest, earlier_end: float | None) -> None:
    """What a killed bot left open, settled as a bot that left would have: a participant
    still connected (a stall) gets their gap closed at the bot's last sign of life; a gap
    of one who had left is their departure and goes; the session ends then too."""
    died_at = earlier_end or last_sign_of_life(session_dir) or time.time()
    departed = {e.participant for e in manifest.participants if e.left_at is not None}
    kept = []
    for gap in manifest.gaps:
        if gap.end is None:
            if gap.participant in departed:
                continue  # the final departure, not a gap
            gap.end = round(max(gap.start, died_at), 3)
            logger.warning(
                "gap of %s (%s) left open by a killed bot closed at %.3f",
                gap.participant,
                gap.reason,
                gap.end,
            )
        kept.append(gap)
    manifest.gaps = kept
    for entry in manifest.participants:
        if entry.left_at is None:
            entry.left_at = round(died_at, 3)
    manifest.ended_at = round(died_at, 3)


def finalize_folder(session_dir: Path, session_id: str) -> Manifest:
    """The manifest of a folder no bot records into any more, with every file listed and
    every gap closed. Raises ``OSError`` when the manifest cannot be written (full disk):
    the old one is left as it was and no temporary file stays behind."""
    lock = _lock_session(session_dir)
    try:
        earlier_end = _earlier_end(session_dir)
        manifest = _resume_manifest(session_dir, session_id, time.time())
        if manifest.errors and manifest.errors[-1].startswith("bot restarted"):
            manifest.errors.pop()  # nothing restarted: we only tidy up
        settle_killed(session_dir, manifest, earlier_end)
        write_manifest(session_dir, manifest)
        return manifest
    finally:
        os.close(lock)
