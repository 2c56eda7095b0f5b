"""After the session: one video of everyone, each person's tile following them across
connections, with the mixed audio.

Every video segment is decoded (PyAV) and each of its frames is placed at its own
wall-clock time (the segment's ``started_at`` + the frame's timestamp), so a reconnect,
a gap, or a container that claims a wrong length can never shift or blank a person's
tile: at each output tick a tile shows that person's newest frame not older than
``HOLD_S``, and is black (with the label) only where the raw segments hold nothing.
The output runs at the highest frame rate of the sources (10–30 fps), so every
recorded frame of a camera at that rate is shown.

Layout: the student large on the left, everyone else small on the right; a shared
screen (a source ``<role>-<id>-screen``) wide under the student's camera, so its text
stays readable; each tile is labelled with the person's name and role. Audio: every participant's
wall-clock-aligned analysis WAV (16 kHz), mixed. Frames are composed in Python and
piped raw into ffmpeg (libx264); nothing is left behind in the folder, even on error.
"""

from __future__ import annotations

import asyncio
import logging
import math
import wave
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import ffmpeg
import numpy as np
from proctorbot.recording.manifest import (
    Manifest,
    RecordedFile,
    read_manifest,
    sha256_of,
    write_manifest,
)
from proctorbot.storage.session_folder import ANALYSIS_SAMPLE_RATE as AUDIO_RATE

logger = logging.getLogger(__name__)

COMPOSITE_NAME = "composite.mp4"
# Picture areas; each tile adds a label band under its picture.
BIG = (640, 480)
SMALL = (320, 228)
SCREEN = (640, 360)  # 16:9, under the student's camera
SCREEN_SUFFIX = "-screen"
MIN_FPS, MAX_FPS, DEFAULT_FPS = 10, 30, 15
# A tile keeps showing a person's last frame this long (a camera at a low rate, a
# short stall); after that it is black until their next frame.
HOLD_S = 1.0
LABEL_HEIGHT = 24


@dataclass(frozen=True)
class Tile:
    participant: str
    label: str
    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    tiles: tuple[Tile, ...]


def default_label(manifest: Manifest, participant: str) -> str:
    """``Name · role`` from the manifest (the hand-over passes translated roles)."""
    for entry in manifest.participants:
        if entry.participant == participant:
            return f"{entry.name} · {entry.role}" if entry.name else entry.role
    return participant


def plan_layout(participants: list[tuple[str, str]], labels: Mapping[str, str]) -> Layout:
    """``participants`` = [(key, role)]: the first student big, the others in columns of two,
    shared screens wide under the big tile."""
    screens = [p for p in participants if p[0].endswith(SCREEN_SUFFIX)]
    cameras = [p for p in participants if not p[0].endswith(SCREEN_SUFFIX)] or screens[:1]
    screens = [p for p in screens if p not in cameras]
    layout = _plan_cameras(cameras, labels)
    tiles, height = list(layout.tiles), layout.height
    y = BIG[1] + LABEL_HEIGHT
    for key, _ in sorted(screens):
        tiles.append(Tile(key, labels.get(key, key), 0, y, SCREEN[0], SCREEN[1] + LABEL_HEIGHT))
        y += SCREEN[1] + LABEL_HEIGHT
    return Layout(layout.width, max(height, y), tuple(tiles))


def _plan_cameras(participants: list[tuple[str, str]], labels: Mapping[str, str]) -> Layout:
    ordered = sorted(participants, key=lambda p: (p[1] != "student", p[0]))
    big, others = ordered[0], ordered[1:]
    tiles = [Tile(big[0], labels.get(big[0], big[0]), 0, 0, BIG[0], BIG[1] + LABEL_HEIGHT)]
    small_height = SMALL[1] + LABEL_HEIGHT
    for index, (key, _) in enumerate(others):
        column, row = divmod(index, 2)
        x, y = BIG[0] + column * SMALL[0], row * small_height
        tiles.append(Tile(key, labels.get(key, key), x, y, SMALL[0], small_height))
    columns = math.ceil(len(others) / 2)
    height = max(BIG[1] + LABEL_HEIGHT, 2 * small_height if others else 0)
    return Layout(BIG[0] + columns * SMALL[0], height, tuple(tiles))


# -- frames of one person, in wall-clock order -----------------------------------------
class PersonFrames:
    """Decodes one person's video segments in time order; ``at(t)`` is the frame to show."""

    def __init__(self, session_dir: Path, files: list[RecordedFile], size: tuple[int, int]):
        self.files = sorted(files, key=lambda f: f.started_at)
        self.session_dir = session_dir
        self.size = size
        self._frames = self._decode()
        self._next: tuple[float, object] | None = next(self._frames, None)
        self._shown: tuple[float, object] | None = None
        self._picture: tuple[int, np.ndarray] | None = None  # (id of frame, BGR tile)
        self.frames_decoded = 0

    def _decode(self) -> Iterator[tuple[float, object]]:
        """Packet by packet: a damaged packet (lost on the way, cut by a crash) is skipped
        and decoding goes on with the next one, so one bad frame never blanks the rest.
        A damaged packet still says the person was there at its time: it repeats the last
        picture decoded from its file (the one it was meant to change), as a call freezes
        the picture until the next keyframe, instead of going black after ``HOLD_S``."""
        import av

        for record in self.files:
            last: object | None = None
            path = self.session_dir / record.path
            try:
                container = av.open(str(path))
            except (av.error.FFmpegError, OSError) as exc:
                logger.warning("composite: %s unreadable (%s)", path.name, exc)
                continue
            with container:
                stream = container.streams.video[0]
                base = float(stream.time_base or 0) or 1 / 90000
                first: int | None = None
                damaged = 0
                try:
                    for packet in container.demux(stream):
                        if packet.pts is None:
                            continue
                        first = packet.pts if first is None else first
                        try:
                            frames = packet.decode()
                        except av.error.FFmpegError:
                            damaged += 1
                            if last is not None:
                                yield record.started_at + (packet.pts - first) * base, last
                            continue
                        for frame in frames:
                            pts = frame.pts if frame.pts is not None else packet.pts
                            last = frame
                            yield record.started_at + (pts - first) * base, frame
                except (av.error.FFmpegError, OSError) as exc:  # a file cut mid-frame
                    logger.warning("composite: %s read to its damage (%s)", path.name, exc)
                if damaged:
                    logger.info("composite: %s: %d damaged frames skipped", path.name, damaged)

    def at(self, t: float) -> np.ndarray | None:
        """The newest frame at or before ``t`` (not older than HOLD_S) as a BGR tile."""
        while self._next is not None and self._next[0] <= t:
            self._shown = self._next
            self.frames_decoded += 1
            self._next = next(self._frames, None)
        if self._shown is None or t - self._shown[0] > HOLD_S:
            return None
        frame = self._shown[1]
        if self._picture is None or self._picture[0] != id(frame):
            self._picture = (id(frame), fit(frame, self.size))
        return self._picture[1]


def fit(frame: object, size: tuple[int, int]) -> np.ndarray:
    """A decoded frame scaled into a ``size`` tile, letterboxed on black."""
    import cv2

    width, height = size
    picture = frame.to_ndarray(format="bgr24")  # type: ignore[attr-defined]
    source_h, source_w = picture.shape[:2]
    scale = min(width / source_w, height / source_h)
    w, h = max(2, round(source_w * scale)), max(2, round(source_h * scale))
    if (w, h) != (source_w, source_h):
        picture = cv2.resize(picture, (w, h), interpolation=cv2.INTER_LINEAR)
    if (w, h) == (width, height):
        return picture
    tile = np.zeros((height, width, 3), np.uint8)
    x, y = (width - w) // 2, (height - h) // 2
    tile[y : y + h, x : x + w] = picture
    return tile


def label_strip(text: str, width: int) -> np.ndarray:
    """White text on a dark band (DejaVu Sans, which renders Cyrillic), BGR."""
    from PIL import Image, ImageDraw, ImageFont

    band = Image.new("RGB", (width, LABEL_HEIGHT), (20, 22, 26))
    draw = ImageDraw.Draw(band)
    size = 15 if width >= BIG[0] else 13
    try:
        font = ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        try:
            font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", size)
        except OSError:
            font = ImageFont.load_default()
    while len(text) > 4 and draw.textlength(text, font=font) > width - 12:
        text = text[:-2].rstrip() + "…"
    draw.text((6, 4), text, fill=(255, 255, 255), font=font)
    return np.asarray(band)[:, :, ::-1].copy()


# -- audio -----------------------------------------------------------------------------
def mix_analysis_audio(
    session_dir: Path, manifest: Manifest, origin: float, seconds: float, output: Path
) -> bool:
    """Every analysis WAV added at its wall-clock offset, written in one-minute chunks."""
    tracks = []
    for record in manifest.files:
        path = session_dir / record.path
        if record.kind != "analysis" or not path.is_file():
            continue
        try:
            handle = wave.open(str(path), "rb")
        except (wave.Error, EOFError, OSError) as exc:
            logger.warning("composite: %s left out of the sound (%s)", path.name, exc)
            continue
        if handle.getframerate() != AUDIO_RATE or handle.getsampwidth() != 2:
            handle.close()
            continue
        tracks.append((round((record.started_at - origin) * AUDIO_RATE), handle))
    if not tracks:
        return False
    total = int(seconds * AUDIO_RATE)
    chunk = 60 * AUDIO_RATE
    try:
        with wave.open(str(output), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(AUDIO_RATE)
            for begin in range(0, total, chunk):
                end = min(total, begin + chunk)
                mixed = np.zeros(end - begin, np.int32)
                for offset, handle in tracks:
                    first = max(begin, offset)
                    if first >= end or first - offset >= handle.getnframes():
                        continue
                    handle.setpos(first - offset)
                    raw = handle.readframes(end - first)
                    samples = np.frombuffer(raw, "<i2")
                    mixed[first - begin : first - begin + len(samples)] += samples
                out.writeframes(np.clip(mixed, -32768, 32767).astype("<i2").tobytes())
    finally:
        for _, handle in tracks:
            handle.close()
    return True


# -- the composite ---------------------------------------------------------------------
def output_rate(videos: list[RecordedFile]) -> int:
    rates = [v.frames / v.duration for v in videos if v.duration > 1.0 and v.frames > 1]
    if not rates:
        return DEFAULT_FPS
    return int(min(MAX_FPS, max(MIN_FPS, round(max(rates)))))


def media_span(session_dir: Path, manifest: Manifest) -> tuple[float, float] | None:
    """(origin, seconds): from the first recorded file to the session's end on the wall
    clock (``ended_at``, else the newest file's end), never longer than that."""
    media = [f for f in manifest.files if f.kind in ("video", "audio") and f.frames > 0]
    if not media:
        return None
    origin = min(f.started_at for f in media)
    end = max(f.started_at + f.duration for f in media)
    if manifest.ended_at:
        end = min(end, float(manifest.ended_at) + 1.0)
    return origin, max(0.1, end - origin)


def build_composite(
    session_dir: Path,
    manifest: Manifest,
    output: Path,
    labels: Mapping[str, str] | None = None,
) -> Path | None:
    """Write ``output``; None when nothing was recorded."""
    span = media_span(session_dir, manifest)
    videos = [f for f in manifest.files if f.kind == "video" and f.frames > 0]
    if span is None:
        return None
    origin, seconds = span
    roles = {f.participant: f.role for f in manifest.files if f.kind in ("video", "audio")}
    people = sorted(roles.items())
    names = {key: (labels or {}).get(key) or default_label(manifest, key) for key, _ in people}
    layout = plan_layout(people, names)
    fps = output_rate(videos)
    sound = output.with_name(f".{output.stem}-sound.wav")
    temporary = output.with_name(f".{output.stem}.partial.mp4")
    try:
        has_sound = mix_analysis_audio(session_dir, manifest, origin, seconds, sound)
        _encode(
            session_dir,
            manifest,
            layout,
            origin,
            seconds,
            fps,
            sound if has_sound else None,
            temporary,
        )
        temporary.replace(output)
    finally:
        sound.unlink(missing_ok=True)
        temporary.unlink(missing_ok=True)
    return output


def _encode(
    session_dir: Path,
    manifest: Manifest,
    layout: Layout,
    origin: float,
    seconds: float,
    fps: int,
    sound: Path | None,
    output: Path,
) -> None:
    sources = {
        tile.participant: PersonFrames(
            session_dir,
            [f for f in manifest.files if f.kind == "video" and f.participant == tile.participant],
            (tile.width, tile.height - LABEL_HEIGHT),
        )
        for tile in layout.tiles
    }
    canvas = np.zeros((layout.height, layout.width, 3), np.uint8)
    for tile in layout.tiles:
        canvas[
            tile.y + tile.height - LABEL_HEIGHT : tile.y + tile.height, tile.x : tile.x + tile.width
        ] = label_strip(tile.label, tile.width)
    video = ffmpeg.input(
        "pipe:",
        format="rawvideo",
        pix_fmt="bgr24",
        s=f"{layout.width}x{layout.height}",
        framerate=fps,
    )
    streams = [video]
    if sound is not None:
        streams.append(ffmpeg.input(str(sound)).audio)
    process = (
        ffmpeg.output(
            *streams,
            str(output),
            vcodec="libx264",
            preset="ultrafast",
            crf=30,
            pix_fmt="yuv420p",
            acodec="aac",
            t=f"{seconds:.3f}",
            movflags="+faststart",
            format="mp4",
        )
        .overwrite_output()
        .global_args("-loglevel", "error")
        .run_async(pipe_stdin=True, pipe_stderr=True)
    )
    ticks = max(1, math.ceil(seconds * fps))
    try:
        for index in range(ticks):
            t = origin + index / fps
            for tile in layout.tiles:
                picture = sources[tile.participant].at(t)
                h = tile.height - LABEL_HEIGHT
                region = canvas[tile.y : tile.y + h, tile.x : tile.x + tile.width]
                if picture is None:
                    region[:] = 0
                else:
                    region[:] = picture
            process.stdin.write(canvas.tobytes())
        process.stdin.close()
    except BrokenPipeError:
        pass
    finally:
        if process.stdin and not process.stdin.closed:
            process.stdin.close()
        errors = process.stderr.read().decode(errors="replace")
        code = process.wait()
    if code != 0:
        raise RuntimeError(f"ffmpeg failed to make the composite: {errors[-800:]}")


def add_composite(
    session_dir: Path, manifest: Manifest | None = None, labels: Mapping[str, str] | None = None
) -> Manifest:
    """Make the composite (blocking) and list it in the manifest."""
    manifest = manifest or read_manifest(session_dir)
    made = build_composite(session_dir, manifest, session_dir / COMPOSITE_NAME, labels)
    if made is not None:
        manifest.files = [f for f in manifest.files if f.kind != "composite"]  # an older one
        manifest.files.append(composite_record(manifest, made))
        write_manifest(session_dir, manifest)
    return manifest


async def add_composite_async(
    session_dir: Path, manifest: Manifest | None = None, labels: Mapping[str, str] | None = None
) -> Manifest:
    return await asyncio.to_thread(add_composite, session_dir, manifest, labels)


def composite_record(manifest: Manifest, made: Path) -> RecordedFile:
    probe = ffmpeg.probe(str(made))
    return RecordedFile(
        path=made.name,
        kind="composite",
        codec="h264+aac",
        participant="*",
        role="*",
        started_at=min(
            (f.started_at for f in manifest.files if f.kind in ("video", "audio")),
            default=manifest.started_at,
        ),
        duration=round(float(probe["format"]["duration"]), 3),
        sha256=sha256_of(made),
        size_bytes=made.stat().st_size,
    )
