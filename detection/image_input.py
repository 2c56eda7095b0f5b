"""Reading images and video frames we did not make: every odd input becomes BGR uint8
or a clear ``VisionInputError`` (never a crash deep inside OpenCV or dlib)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

# 40 megapixels: larger than any phone photo of a document, small enough to keep RAM sane.
DEFAULT_MAX_PIXELS = 40_000_000
MIN_SIDE = 16
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm"}


class VisionInputError(ValueError):
    """The image or video cannot be used; the message says why."""


def as_bgr(image: np.ndarray) -> np.ndarray:
    """Any 2-D/3-D image array (gray, BGRA, 16-bit, float) as contiguous BGR uint8."""
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3) or image.size == 0:
        raise VisionInputError("not an image array (expected H x W or H x W x C)")
    if image.dtype != np.uint8:
        data = image.astype(np.float64)
        if image.dtype == np.uint16:
            data /= 257.0
        elif np.issubdtype(image.dtype, np.floating) and data.max(initial=0) <= 1.0:
            data *= 255.0
        image = np.clip(data, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.shape[2] == 1:
        image = cv2.cvtColor(image[:, :, 0], cv2.COLOR_GRAY2BGR)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    elif image.shape[2] != 3:
        raise VisionInputError(f"unsupported number of channels: {image.shape[2]}")
    if min(image.shape[:2]) < MIN_SIDE:
        raise VisionInputError(f"image too small: {image.shape[1]}x{image.shape[0]} pixels")
    return np.ascontiguousarray(image)


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise VisionInputError(
            f"image too large: {width}x{height} = {width * height} pixels "
            f"(limit {max_pixels}); scale it down first"
        )


def load_image(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """An image file as BGR uint8; refuses missing, corrupt and oversized files."""
    path = Path(path)
    if not path.is_file():
        raise VisionInputError(f"file not found: {path}")
    data = np.fromfile(path, dtype=np.uint8)
    if data.size == 0:
        raise VisionInputError(f"empty file: {path}")
    size = _header_size(path)
    if size is not None:
        _check_pixels(*size, max_pixels)
    # ANYDEPTH|ANYCOLOR keeps 16-bit and gray data and, unlike UNCHANGED, applies EXIF rotation.
    image = cv2.imdecode(data, cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR)
    if image is None:
        raise VisionInputError(f"not a readable image (corrupt or unsupported format): {path}")
    _check_pixels(image.shape[1], image.shape[0], max_pixels)
    return as_bgr(image)


def _header_size(path: Path) -> tuple[int, int] | None:
    """Width and height from the header (PIL reads it lazily), to refuse before decoding."""
    try:
        from PIL import Image

        Image.MAX_IMAGE_PIXELS = None  # we apply our own limit
        with Image.open(path) as img:
            return img.size
    except Exception:  # not PIL-readable: OpenCV will decide
        return None


@dataclass(frozen=True)
class VideoInfo:
    fps: float
    frame_count: int
    width: int
    height: int


def is_image_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def open_video(
    path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS
) -> tuple[cv2.VideoCapture, VideoInfo]:
    path = Path(path)
    if not path.is_file():
        raise VisionInputError(f"file not found: {path}")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise VisionInputError(f"not a readable video (corrupt or unsupported format): {path}")
    info = VideoInfo(
        fps=float(capture.get(cv2.CAP_PROP_FPS) or 0.0),
        frame_count=int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0),
        width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH) or 0),
        height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0),
    )
    try:
        _check_pixels(info.width, info.height, max_pixels)
    except VisionInputError:
        capture.release()
        raise
    return capture, info


def iter_video_frames(
    path: str | Path, fps: float | None = None, max_pixels: int = DEFAULT_MAX_PIXELS
) -> Iterator[tuple[float, np.ndarray]]:
    """(t seconds, BGR frame) from a video file, thinned to about ``fps`` frames per second."""
    capture, info = open_video(path, max_pixels)
    source_fps = info.fps if 0 < info.fps < 1000 else 25.0
    step = 1.0 / fps if fps else 0.0
    next_t = 0.0
    index = 0
    produced = 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok or frame is None:
                break
            t = index / source_fps
            index += 1
            if t + 1e-6 < next_t:
                continue
            next_t = t + step
            produced += 1
            yield t, as_bgr(frame)
    finally:
        capture.release()
    if produced == 0:
        raise VisionInputError(f"no frame could be decoded from the video: {path}")
