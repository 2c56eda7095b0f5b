"""`proctorbot analyze-image`, `read-id`, `analyze-video`, `room-scan`: the video checks on files.

The JSON printed with ``--json`` is a contract used by the evaluation; keep it stable.
Every unusable input ends in one clear ``Error: ...`` line and exit status 1.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from proctorbot.detection.image_input import DEFAULT_MAX_PIXELS, VisionInputError

MAX_PIXELS_HELP = "Refuse images/videos with more pixels than this (per frame)."


@contextmanager
def _clear_errors() -> Iterator[None]:
    from proctorbot.detection.ocr import OcrUnavailable
    from proctorbot.detection.vision_models import VisionModelMissing

    try:
        yield
    except (VisionInputError, VisionModelMissing, OcrUnavailable) as exc:
        raise click.ClickException(str(exc)) from None
    except MemoryError:
        raise click.ClickException("not enough memory for this input; use a smaller file") from None
    except Exception as exc:  # a decoder failing inside OpenCV on a broken file
        import cv2

        if isinstance(exc, cv2.error):
            raise click.ClickException(f"cannot process the input: {exc.msg or exc}") from None
        raise


def _emit(data: dict[str, Any], as_json: bool, summary: Callable[[dict[str, Any]], str]) -> None:
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        click.echo(summary(data))


def _tesseract_cmd(ctx: click.Context) -> str:
    from proctorbot.config.settings import SettingsError, load_settings

    try:
        return load_settings(
            ctx.obj.get("config_path") if ctx.obj else None
        ).detection.tesseract_cmd
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _live_fps(ctx: click.Context) -> float:
    from proctorbot.config.settings import SettingsError, load_settings

    try:
        return load_settings(
            ctx.obj.get("config_path") if ctx.obj else None
        ).detection.live_video_fps
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@click.command("analyze-image")
@click.argument("image", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "--live", is_flag=True, help="Use the fast live-video settings instead of the thorough ones."
)
@click.option(
    "--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, show_default=True, help=MAX_PIXELS_HELP
)
def analyze_image_command(image: str, as_json: bool, live: bool, max_pixels: int) -> None:
    """Faces, head pose, eyes, covered lower face (mask, hand) and lighting of one image."""
    from proctorbot.detection.faces import FaceAnalyzer
    from proctorbot.detection.frame_analysis import analyze_frame
    from proctorbot.detection.image_input import load_image

    with _clear_errors():
        frame = load_image(image, max_pixels)
        result = analyze_frame(FaceAnalyzer(), frame, thorough=not live).to_json()
    result["image"] = image
    _emit(
        result,
        as_json,
        lambda d: (
            f"{d['faces']} face(s), brightness {d['brightness']}, backlit {d['backlit']}, "
            f"too dark {d['too_dark']}, lower face covered {d['lower_face_covered']}"
        ),
    )


def _frames_of(path: str, fps: float, max_pixels: int, limit: int) -> list:
    from proctorbot.detection.image_input import is_image_path, iter_video_frames, load_image

    if is_image_path(path):
        return [load_image(path, max_pixels)]
    frames = []
    for _, frame in iter_video_frames(path, fps=fps, max_pixels=max_pixels):
        frames.append(frame)
        if len(frames) >= limit:
            break
    return frames


@click.command("read-id")
@click.argument("source", metavar="IMAGE_OR_VIDEO", type=click.Path(dir_okay=False))
@click.option("--expect-name", default=None, help='Roster name, e.g. "ИВАНОВ Иван Иванович".')
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "--evidence-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Save the best frame, the rectified card and face crops here.",
)
@click.option(
    "--live-face",
    type=click.Path(dir_okay=False),
    default=None,
    help="A photo of the student to compare with the photo on the document.",
)
@click.option(
    "--fps", type=float, default=3.0, show_default=True, help="Frames per second read from a video."
)
@click.option(
    "--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, show_default=True, help=MAX_PIXELS_HELP
)
@click.pass_context
def read_id_command(
    ctx: click.Context,
    source: str,
    expect_name: str | None,
    as_json: bool,
    evidence_dir: str | None,
    live_face: str | None,
    fps: float,
    max_pixels: int,
) -> None:
    """Find an ID document, read the holder's name, compare its photo with the live face."""
    from proctorbot.detection.faces import FaceAnalyzer
    from proctorbot.detection.id_document import IdDocumentReader
    from proctorbot.detection.image_input import load_image
    from proctorbot.detection.ocr import TesseractReader

    with _clear_errors():
        analyzer = FaceAnalyzer()
        reader = IdDocumentReader(analyzer=analyzer, ocr=TesseractReader(_tesseract_cmd(ctx)))
        reader.ocr.check()
        frames = _frames_of(source, fps, max_pixels, limit=120)
        live_encoding = None
        if live_face:
            live_encoding = analyzer.encode_largest(load_image(live_face, max_pixels))
            if live_encoding is None:
                raise click.ClickException(f"no face found in {live_face}")
        reading = reader.read(
            frames,
            expected_name=expect_name,
            live_encoding=live_encoding,
            evidence_dir=Path(evidence_dir) if evidence_dir else None,
            evidence_prefix=str(evidence_dir) if evidence_dir else "evidence",
        )
    data = reading.to_json()
    _emit(
        data,
        as_json,
        lambda d: (
            f"document {d['document']}, name {d['name']!r}, match {d['name_match']} "
            f"({d['name_score']}), face match {d['face_match']}"
        ),
    )


@click.command("analyze-video")
@click.argument("video", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "--fps",
    type=float,
    default=None,
    help="Frames analysed per second (default: settings' live rate).",
)
@click.option(
    "--no-enroll",
    is_flag=True,
    help="Do not take the first single face as the student (no 'person replaced' check).",
)
@click.option("--track", default="", help="Participant id written into the events.")
@click.option(
    "--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, show_default=True, help=MAX_PIXELS_HELP
)
@click.pass_context
def analyze_video_command(
    ctx: click.Context,
    video: str,
    as_json: bool,
    fps: float | None,
    no_enroll: bool,
    track: str,
    max_pixels: int,
) -> None:
    """Run the live video watcher over a file and print its events (with start/end)."""
    from proctorbot.detection.image_input import iter_video_frames
    from proctorbot.detection.video_watch import VideoWatcher

    rate = fps or _live_fps(ctx)
    with _clear_errors():
        watcher = VideoWatcher(track=track)
        events = []
        last_t = 0.0
        for t, frame in iter_video_frames(video, fps=rate, max_pixels=max_pixels):
            if watcher.enrolled is None and not no_enroll:
                analysis = watcher.analyzer.detect(frame)
                if len(analysis) == 1:
                    watcher.enroll_from_frame(frame)
            events.extend(watcher.feed(t, frame))
            last_t = t
        events.extend(watcher.finish(last_t))
    events.sort(key=lambda e: (e.start, str(e.kind)))
    data = {
        "video": video,
        "fps": rate,
        "frames": watcher.frames_seen,
        "duration": round(last_t, 3),
        "total_absent_s": round(watcher.total_absent_s, 2),
        "events": [e.to_json() for e in events],
    }
    _emit(
        data,
        as_json,
        lambda d: (
            "\n".join(f"{e['start']:8.1f} {e['end']:8.1f}  {e['kind']}" for e in d["events"])
            or "no events"
        ),
    )


@click.command("room-scan")
@click.argument("video", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "--fps", type=float, default=10.0, show_default=True, help="Frames analysed per second."
)
@click.option(
    "--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, show_default=True, help=MAX_PIXELS_HELP
)
def room_scan_command(video: str, as_json: bool, fps: float, max_pixels: int) -> None:
    """How much of the room a camera sweep covered, and the faces seen during it."""
    from proctorbot.detection.image_input import iter_video_frames
    from proctorbot.detection.room_scan import RoomScanTracker

    with _clear_errors():
        tracker = RoomScanTracker()
        for t, frame in iter_video_frames(video, fps=fps, max_pixels=max_pixels):
            tracker.feed(t, frame)
        data = tracker.result().to_json()
    _emit(data, as_json, lambda d: f"covered {d['covered_deg']} deg, faces seen {d['max_faces']}")


def register(group: click.Group) -> None:
    for command in (
        analyze_image_command,
        read_id_command,
        analyze_video_command,
        room_scan_command,
    ):
        group.add_command(command)
