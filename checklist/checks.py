"""The automatic check of each step: capture from the student's tracks, ask a detector,
keep the evidence, and say passed / failed / unavailable.

Every check is an async function ``(CheckContext) -> AutoResult``. Heavy work (OCR,
faces, speech) runs in a thread; the frames and audio come from the SessionBot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import wave
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from proctorbot.bot.peer_directory import track_key
from proctorbot.bot.session_bus import VoiceprintEnrolled
from proctorbot.checklist.detectors import (
    ChecklistDetectors,
    RoomScanFindings,
    SessionBotLike,
    VideoFrame,
    start_room_scan,
)
from proctorbot.checklist.feed import StudentFeed
from proctorbot.checklist.records import AutoResult, StepKind
from proctorbot.checklist.source_checks import check_phone_camera, check_screen_share
from proctorbot.detection.events import DetectorEvent, EventKind
from proctorbot.detection.spoken_name import match_spoken_name
from proctorbot.storage.session_folder import ANALYSIS_SAMPLE_RATE as SAMPLE_RATE
from proctorbot.storage.session_folder import EVIDENCE_DIR, VOICEPRINTS_DIR

log = logging.getLogger(__name__)

EVIDENCE_SUBDIR = Path(EVIDENCE_DIR) / "checklist"


@dataclass(frozen=True)
class CheckThresholds:
    min_width: int = 640
    min_height: int = 480
    min_fps: float = 15.0
    silence_dbfs: float = -50.0
    # Network: what the bot receives from the student (seed 002 §5.9).
    max_packet_loss_ratio: float = 0.05
    max_jitter_ms: float = 100.0
    room_coverage: float = 0.6  # share of a full turn
    id_min_confidence: float = 0.3
    face_similarity: float = 0.5


@dataclass
class CheckContext:
    bot: SessionBotLike
    peer_id: str
    feed: StudentFeed
    kind: StepKind
    attempt: int
    student_name: str
    language: str
    capture_s: float
    detectors: ChecklistDetectors
    thresholds: CheckThresholds = field(default_factory=CheckThresholds)
    # Called once the student's part (the capture) is over: the step's time limit is
    # the student's, the analysis that follows is ours.
    on_captured: Callable[[], None] = lambda: None
    # How far a long capture has got (the room scan's coverage), for the page.
    progress: Callable[[dict[str, Any]], Awaitable[None]] | None = None
    # The step's time limit, for a check that waits on the student (a source to share).
    time_limit_s: float | None = None

    @property
    def session_dir(self) -> Path:
        return Path(self.bot.session_dir)

    def evidence_path(self, name: str) -> tuple[Path, str]:
        """(absolute path, path relative to the session folder) of a new evidence file."""
        relative = EVIDENCE_SUBDIR / f"{self.kind}-{self.attempt}-{name}"
        absolute = self.session_dir / relative
        absolute.parent.mkdir(parents=True, exist_ok=True)
        return absolute, relative.as_posix()

    async def save_image(self, name: str, image: np.ndarray) -> str:
        absolute, relative = self.evidence_path(name)
        await asyncio.to_thread(_write_jpeg, absolute, image)
        return relative


StepCheck = Callable[[CheckContext], Awaitable[AutoResult]]


# --- capture ---------------------------------------------------------------------------


def level_dbfs(samples: np.ndarray) -> float:
    if samples.size == 0:
        return -120.0
    rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
    return 20.0 * np.log10(max(rms, 1e-6) / 32768.0)


async def _network_quality(ctx: CheckContext) -> Any:
    """The bot's receive stats for the student's connection, when the bot offers them."""
    measure = getattr(ctx.bot, "network_quality", None)
    if measure is None:
        return None
    try:
        return await measure(ctx.peer_id)
    except Exception:  # stats are advisory: never fail the step over them
        log.warning("network quality of %s unavailable", ctx.peer_id, exc_info=True)
        return None


# --- the checks, one per step ----------------------------------------------------------


async def check_equipment(ctx: CheckContext) -> AutoResult:
    frames, audio = await asyncio.gather(
        ctx.feed.frames(30.0, ctx.capture_s),
        ctx.feed.audio(ctx.capture_s),
    )
    ctx.on_captured()
    th = ctx.thresholds
    details: dict[str, Any] = {"frames": len(frames)}
    evidence: list[str] = []
    problems: list[str] = []
    if frames:
        height, width = frames[-1][1].shape[:2]
        span = frames[-1][0] - frames[0][0]
        fps = (len(frames) - 1) / span if span > 0 else 0.0
        details.update(width=width, height=height, fps=round(fps, 1))
        evidence.append(await ctx.save_image("camera.jpg", frames[-1][1]))
        if width < th.min_width or height < th.min_height:
            problems.append("low_resolution")
        if fps < th.min_fps:
            problems.append("low_fps")
    else:
        problems.append("no_video")
    # The loudest 0.5 s: a quiet room between words is fine, a dead microphone is not.
    loudest = max(
        (
            level_dbfs(audio[i : i + SAMPLE_RATE // 2])
            for i in range(0, max(audio.size, 1), SAMPLE_RATE // 2)
        ),
        default=-120.0,
    )
    details.update(audio_seconds=round(audio.size / SAMPLE_RATE, 2), audio_dbfs=round(loudest, 1))
    if audio.size == 0:
        problems.append("no_audio")
    elif loudest < th.silence_dbfs:
        problems.append("silent_microphone")
    if ctx.detectors.recording is not None:
        sources = await asyncio.to_thread(ctx.detectors.recording.sources_recording, ctx.peer_id)
        details["recording"] = sources
        if not sources or not all(sources.values()):
            problems.append("not_recording")
    else:
        details["recording"] = "unavailable"
    network = await _network_quality(ctx)
    details["network"] = network.to_json() if network is not None else "unavailable"
    if network is not None and not network.acceptable(th.max_packet_loss_ratio, th.max_jitter_ms):
        problems.append("poor_network")
    details["problems"] = problems
    summary = problems[0] if problems else "equipment_ok"
    return AutoResult(True, not problems, summary, details, tuple(evidence))


ROOM_SCAN_FPS = 8.0
PROGRESS_EVERY_S = 2.0


async def check_room_scan(ctx: CheckContext) -> AutoResult:
    """The camera turned round the room: followed as it turns, until the profile's
    coverage is reached or a second person is seen, for at most the capture time (60 s
    by default); the student sees how much is covered as they go."""
    analyzer = ctx.detectors.room_scan
    if analyzer is None:
        frames = await ctx.feed.frames(ROOM_SCAN_FPS, min(ctx.capture_s, 8.0))
        ctx.on_captured()
        if not frames:
            return AutoResult(True, False, "no_video", {"frames": 0})
        sheet = await ctx.save_image("sheet.jpg", contact_sheet([i for _, i in frames]))
        return AutoResult(False, None, "unavailable", {"frames": len(frames)}, (sheet,))
    needed = ctx.thresholds.room_coverage
    scan = await asyncio.to_thread(start_room_scan, analyzer)  # may load the face model
    sheet_frames: list[VideoFrame] = []  # one a second: the examiner's contact sheet
    findings: RoomScanFindings | None = None
    fed, second_face = 0, None
    reported = -1e9
    loop = asyncio.get_running_loop()
    async with contextlib.aclosing(ctx.feed.frame_batches(ROOM_SCAN_FPS, ctx.capture_s)) as batches:
        async for batch in batches:
            if not sheet_frames or batch[-1][0] - sheet_frames[-1][0] >= 1.0:
                sheet_frames.append(batch[-1])
            findings = await asyncio.to_thread(scan.feed, batch)
            for index in findings.extra_face_frames:
                if second_face is None and fed <= index < fed + len(batch):
                    second_face = batch[index - fed]
            fed += len(batch)
            covered = findings.coverage >= needed
            if ctx.progress is not None and (covered or loop.time() - reported >= PROGRESS_EVERY_S):
                reported = loop.time()
                await ctx.progress(
                    {"coverage": round(findings.coverage, 3), "needed": needed, "done": covered}
                )
            if covered or findings.max_faces > 1:
                break
    ctx.on_captured()
    if findings is None or not fed:
        return AutoResult(True, False, "no_video", {"frames": 0})
    evidence = [
        await ctx.save_image("sheet.jpg", contact_sheet([image for _, image in sheet_frames]))
    ]
    details = {
        "frames": fed,
        "coverage": round(findings.coverage, 3),
        "needed": needed,
        "max_faces": findings.max_faces,
        **findings.details,
    }
    if second_face is not None:
        t, image = second_face
        evidence.append(await ctx.save_image("second-face.jpg", image))
        ctx.bot.emit(
            DetectorEvent(
                kind=EventKind.EXTRA_PERSON,
                start=t,
                end=t,
                track=track_key(ctx.bot.peers.get(ctx.peer_id, {}), ctx.peer_id),
                evidence=(evidence[-1],),
                details={"during": "checklist.room_scan", "faces": findings.max_faces},
            )
        )
    if findings.max_faces > 1:
        return AutoResult(True, False, "second_face", details, tuple(evidence))
    if findings.coverage < needed:
        return AutoResult(True, False, "room_not_covered", details, tuple(evidence))
    return AutoResult(True, True, "room_ok", details, tuple(evidence))


async def check_desk(ctx: CheckContext) -> AutoResult:
    frames = await ctx.feed.frames(2.0, ctx.capture_s)
    ctx.on_captured()
    if not frames:
        return AutoResult(True, False, "no_video", {"frames": 0})
    snapshot = frames[-1][1]
    evidence = (await ctx.save_image("desk.jpg", snapshot),)
    if ctx.detectors.desk is None:
        return AutoResult(False, None, "unavailable", {}, evidence)
    objects = await asyncio.to_thread(ctx.detectors.desk.forbidden_objects, snapshot)
    details = {"objects": objects}
    if objects:
        return AutoResult(True, False, "forbidden_objects", details, evidence)
    return AutoResult(True, True, "desk_ok", details, evidence)


async def check_id_document(ctx: CheckContext) -> AutoResult:
    frames = await ctx.feed.frames(2.0, ctx.capture_s)
    ctx.on_captured()
    if not frames:
        return AutoResult(True, False, "no_video", {"frames": 0})
    reader = ctx.detectors.id_reader
    if reader is None:
        evidence = (await ctx.save_image("frame.jpg", frames[-1][1]),)
        return AutoResult(False, None, "unavailable", {}, evidence)
    images = [image for _, image in frames]
    reading = await asyncio.to_thread(reader.read, images, ctx.student_name)
    evidence = []
    for name, image in reading.images.items():
        if image is not None and image.size:
            evidence.append(await ctx.save_image(f"{name}.jpg", image))
    if not evidence:
        evidence.append(await ctx.save_image("frame.jpg", images[-1]))
    details: dict[str, Any] = {
        "frames": len(images),
        "read_name": reading.full_name,
        "roster_name": ctx.student_name,
        "confidence": round(reading.confidence, 3),
        "name_score": round(reading.name_score, 3),
        "face_similarity": None
        if reading.face_similarity is None
        else round(reading.face_similarity, 3),
        **reading.details,
    }
    if reading.confidence < ctx.thresholds.id_min_confidence and not reading.name_matched:
        return AutoResult(True, False, "id_unreadable", details, tuple(evidence))
    if not reading.name_matched:
        return AutoResult(True, False, "name_mismatch", details, tuple(evidence))
    if reading.face_similarity is None:
        details["face_match"] = "unavailable"
    elif reading.face_similarity < ctx.thresholds.face_similarity:
        return AutoResult(True, False, "face_mismatch", details, tuple(evidence))
    return AutoResult(True, True, "id_ok", details, tuple(evidence))


async def check_name_aloud(ctx: CheckContext) -> AutoResult:
    audio = await ctx.feed.audio(ctx.capture_s)
    ctx.on_captured()
    if audio.size == 0:
        return AutoResult(True, False, "no_audio", {"audio_seconds": 0})
    absolute, relative = ctx.evidence_path("voice.wav")
    await asyncio.to_thread(_write_wav, absolute, audio)
    evidence = (relative,)
    details: dict[str, Any] = {"audio_seconds": round(audio.size / SAMPLE_RATE, 2)}
    if ctx.detectors.voice_enroller is not None:
        out_dir = ctx.session_dir / VOICEPRINTS_DIR
        try:
            enrolled = await asyncio.to_thread(
                ctx.detectors.voice_enroller.enroll, audio, SAMPLE_RATE, out_dir
            )
            details["voiceprint"] = _relative(enrolled.path, ctx.session_dir)
            ctx.bot.bus.publish(VoiceprintEnrolled(enrolled.voiceprint))  # to the live watch
        except Exception as exc:  # too little speech: the live watch clusters instead
            details["voiceprint"] = f"failed: {exc}"
    else:
        details["voiceprint"] = "unavailable"
    if ctx.detectors.transcriber is None:
        return AutoResult(False, None, "unavailable", details, evidence)
    heard = await asyncio.to_thread(
        ctx.detectors.transcriber.transcribe, audio, SAMPLE_RATE, ctx.language
    )
    text = heard if isinstance(heard, str) else heard.text
    details["audio_dbfs"] = round(level_dbfs(audio), 1)
    if not text.strip():
        details["transcript"] = ""
        if details["audio_dbfs"] < ctx.thresholds.silence_dbfs:
            return AutoResult(True, False, "no_speech", details, evidence)
        # Sound, but no words: the recognizer failed, which says nothing about the name.
        return AutoResult(False, None, "speech_not_recognized", details, evidence)
    # phonetic, word by word: Whisper hears Russian names roughly (issue 16)
    words = () if isinstance(heard, str) else heard.words
    name = match_spoken_name(words or text.split(), ctx.student_name)
    details.update(transcript=text, name_score=name.score)
    if not name.matched:
        return AutoResult(True, False, "name_mismatch", details, evidence)
    return AutoResult(True, True, "name_ok", details, evidence)


STEP_CHECKS: dict[StepKind, StepCheck] = {
    StepKind.PHONE_CAMERA: check_phone_camera,
    StepKind.SCREEN_SHARE: check_screen_share,
    StepKind.EQUIPMENT: check_equipment,
    StepKind.ROOM_SCAN: check_room_scan,
    StepKind.DESK: check_desk,
    StepKind.ID_DOCUMENT: check_id_document,
    StepKind.NAME_ALOUD: check_name_aloud,
}


# --- evidence files --------------------------------------------------------------------


def contact_sheet(images: list[np.ndarray], columns: int = 4, width: int = 240) -> np.ndarray:
    """Up to 8 frames evenly picked from the pan, in a grid: the examiner's view of the scan."""
    count = min(8, len(images))
    picks = [images[round(i * (len(images) - 1) / max(count - 1, 1))] for i in range(count)]
    tiles = []
    for image in picks:
        height = round(image.shape[0] * width / image.shape[1])
        tiles.append(cv2.resize(image, (width, height)))
    tile_h = max(t.shape[0] for t in tiles)
    rows = -(-len(tiles) // columns)
    sheet = np.zeros((rows * tile_h, min(columns, len(tiles)) * width, 3), dtype=np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        sheet[r * tile_h : r * tile_h + tile.shape[0], c * width : (c + 1) * width] = tile
    return sheet


def _write_jpeg(path: Path, image: np.ndarray) -> None:
    if not cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 85]):
        raise OSError(f"could not write {path}")


def _write_wav(path: Path, samples: np.ndarray) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(samples.astype(np.int16).tobytes())


def _relative(path: Path, base: Path) -> str:
    try:
        return Path(path).resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(path)
