"""Synthetic webcam material for tests, demos and the checklist's browser test.

Nothing here is real data: a drawn room, a Russian-style ID card drawn with DejaVu
fonts, and a face photo taken from a file the caller gives (or matplotlib's bundled
``grace_hopper.jpg`` sample, a public-domain US Navy portrait). Videos are written
as Y4M (what Chromium's ``--use-file-for-fake-video-capture`` reads) or, for any
other suffix, with OpenCV's MJPG writer.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/local/share/fonts"),
)


class SyntheticAssetMissing(RuntimeError):
    """A font or sample face needed to draw fixtures is not installed."""


def dejavu_font(size: int, bold: bool = False, mono: bool = False):  # noqa: ANN201 - PIL font
    from PIL import ImageFont

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    if mono:
        name = "DejaVuSansMono.ttf"
    for folder in FONT_DIRS:
        if (folder / name).is_file():
            return ImageFont.truetype(str(folder / name), size)
    raise SyntheticAssetMissing(f"{name} not found; install the Debian package fonts-dejavu-core")


def sample_face_path() -> Path | None:
    """A real frontal portrait shipped inside matplotlib (``grace_hopper.jpg``), if installed."""
    try:
        import matplotlib

        path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    except Exception:
        return None
    return path if path.is_file() else None


def load_sample_face() -> np.ndarray:
    path = sample_face_path()
    if path is None:
        raise SyntheticAssetMissing("matplotlib's sample_data/grace_hopper.jpg is not available")
    image = cv2.imread(str(path))
    if image is None:
        raise SyntheticAssetMissing(f"cannot read {path}")
    return image


# -- the ID card -------------------------------------------------------------
@dataclass(frozen=True)
class CardPerson:
    surname: str
    given_name: str
    patronymic: str = ""
    birth_date: str = "01.02.2005"
    number: str = "45 20 123456"
    sex: str = "МУЖ."

    @classmethod
    def from_full_name(cls, full_name: str) -> CardPerson:
        parts = full_name.split()
        while len(parts) < 2:
            parts.append("")
        return cls(parts[0], parts[1], " ".join(parts[2:]))


def make_id_card(person: CardPerson, photo: np.ndarray | None, width: int = 860) -> np.ndarray:
    """A Russian-passport-style photo page: photo left, Cyrillic name right, an MRZ below."""
    from PIL import Image, ImageDraw

    height = int(width * 0.63)  # ID-1 aspect (85.6 x 54 mm)
    card = Image.new("RGB", (width, height), (236, 226, 214))
    draw = ImageDraw.Draw(card)
    unit = width / 860.0
    draw.rectangle([0, 0, width - 1, int(60 * unit)], fill=(150, 40, 50))
    draw.text(
        (int(24 * unit), int(12 * unit)),
        "РОССИЙСКАЯ ФЕДЕРАЦИЯ",
        font=dejavu_font(int(30 * unit), bold=True),
        fill=(255, 255, 255),
    )
    photo_box = (int(30 * unit), int(90 * unit), int(250 * unit), int(380 * unit))
    if photo is not None:
        crop = _portrait_crop(photo, photo_box[2] - photo_box[0], photo_box[3] - photo_box[1])
        card.paste(Image.fromarray(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)), photo_box[:2])
    else:
        draw.rectangle(photo_box, fill=(200, 200, 200))
    label = dejavu_font(int(18 * unit))
    value = dejavu_font(int(34 * unit), bold=True)
    x = int(290 * unit)
    y = int(85 * unit)
    for caption, text in (
        ("Фамилия", person.surname.upper()),
        ("Имя", person.given_name.upper()),
        ("Отчество", person.patronymic.upper()),
    ):
        draw.text((x, y), caption, font=label, fill=(90, 90, 90))
        draw.text((x, y + int(22 * unit)), text, font=value, fill=(20, 20, 20))
        y += int(78 * unit)
    small = dejavu_font(int(20 * unit))
    draw.text((x, y), f"{person.sex}   {person.birth_date}", font=small, fill=(30, 30, 30))
    draw.text((x, y + int(30 * unit)), f"№ {person.number}", font=small, fill=(30, 30, 30))
    mrz = dejavu_font(int(26 * unit), mono=True)
    from proctorbot.detection.names import transliterate

    surname = transliterate(person.surname).upper().replace(" ", "<")
    given = "<".join(transliterate(p).upper() for p in (person.given_name, person.patronymic) if p)
    line = f"P<RUS{surname}<<{given}"
    line = (line + "<" * 44)[:44]
    draw.rectangle([0, int(420 * unit), width - 1, height - 1], fill=(246, 240, 232))
    draw.text((int(24 * unit), int(440 * unit)), line, font=mrz, fill=(10, 10, 10))
    draw.text(
        (int(24 * unit), int(480 * unit)),
        ("4520123456RUS0502017M" + "<" * 23)[:44],
        font=mrz,
        fill=(10, 10, 10),
    )
    return cv2.cvtColor(np.asarray(card), cv2.COLOR_RGB2BGR)


def _portrait_crop(photo: np.ndarray, width: int, height: int) -> np.ndarray:
    h, w = photo.shape[:2]
    # Zoom on the head like a passport photo (portraits are framed wider).
    photo = photo[int(h * 0.06) : int(h * 0.9), int(w * 0.14) : int(w * 0.86)]
    h, w = photo.shape[:2]
    target = width / height
    if w / h > target:
        new_w = int(h * target)
        x0 = (w - new_w) // 2
        photo = photo[:, x0 : x0 + new_w]
    else:
        new_h = int(w / target)
        photo = photo[: max(new_h, 1)]
    return cv2.resize(photo, (width, height), interpolation=cv2.INTER_AREA)


# -- the webcam scene ----------------------------------------------------------
def draw_room_panorama(width: int = 2880, height: int = 480, seed: int = 7) -> np.ndarray:
    """A textured room (wall, window, shelves, door, posters) wider than one frame."""
    rng = np.random.default_rng(seed)
    room = np.zeros((height, width, 3), dtype=np.uint8)
    wall = np.linspace(170, 140, width, dtype=np.float64)
    room[:] = np.stack([wall * 0.85, wall * 0.95, wall], axis=-1)[None, :, :].astype(np.uint8)
    floor_y = int(height * 0.78)
    room[floor_y:] = (60, 80, 110)
    for x in range(0, width, 37):
        cv2.line(room, (x, floor_y), (x + 20, height), (50, 68, 95), 2)
    x = 60
    while x < width - 200:
        kind = rng.integers(0, 4)
        w = int(rng.integers(140, 320))
        color = tuple(int(c) for c in rng.integers(30, 230, 3))
        if kind == 0:  # window
            cv2.rectangle(room, (x, 60), (x + w, 260), (235, 225, 200), -1)
            cv2.rectangle(room, (x, 60), (x + w, 260), (90, 90, 90), 6)
            cv2.line(room, (x + w // 2, 60), (x + w // 2, 260), (90, 90, 90), 4)
        elif kind == 1:  # shelf with books
            for shelf_y in (120, 200, 280):
                cv2.rectangle(room, (x, shelf_y), (x + w, shelf_y + 8), (40, 60, 90), -1)
                bx = x + 4
                while bx < x + w - 12:
                    bw = int(rng.integers(8, 20))
                    bc = tuple(int(c) for c in rng.integers(20, 240, 3))
                    cv2.rectangle(
                        room, (bx, shelf_y - int(rng.integers(40, 70))), (bx + bw, shelf_y), bc, -1
                    )
                    bx += bw + 2
        elif kind == 2:  # door
            cv2.rectangle(room, (x, 80), (x + min(w, 160), floor_y), (70, 100, 140), -1)
            cv2.circle(room, (x + min(w, 160) - 20, 260), 8, (40, 180, 220), -1)
        else:  # poster with shapes
            cv2.rectangle(room, (x, 90), (x + w, 250), color, -1)
            for _ in range(6):
                c = tuple(int(v) for v in rng.integers(0, 255, 3))
                cv2.circle(
                    room,
                    (int(rng.integers(x + 10, x + w - 10)), int(rng.integers(100, 240))),
                    int(rng.integers(6, 30)),
                    c,
                    -1,
                )
        x += w + int(rng.integers(40, 140))
    noise = rng.normal(0, 6, room.shape)
    return np.clip(room.astype(np.float64) + noise, 0, 255).astype(np.uint8)


def paste_person(
    frame: np.ndarray,
    face_photo: np.ndarray,
    center_x: float,
    face_height: int,
    top: int | None = None,
) -> np.ndarray:
    """Paste a portrait (head and shoulders) with a body below; returns a new frame."""
    out = frame.copy()
    h, w = out.shape[:2]
    ph, pw = face_photo.shape[:2]
    # grace_hopper-like portraits: the face is ~40 % of the photo height.
    scale = face_height / (0.40 * ph)
    portrait = cv2.resize(face_photo, (max(1, int(pw * scale)), max(1, int(ph * scale))))
    qh, qw = portrait.shape[:2]
    x0 = int(center_x * w - qw / 2)
    y0 = int(h * 0.12) if top is None else top
    body_top = min(h, y0 + qh)
    cv2.rectangle(
        out, (max(0, x0 + qw // 8), body_top), (min(w, x0 + qw - qw // 8), h), (60, 50, 45), -1
    )
    # Soft elliptical mask so the photo background does not show as a rectangle.
    mask = np.zeros((qh, qw), dtype=np.float32)
    cv2.ellipse(
        mask, (qw // 2, int(qh * 0.5)), (int(qw * 0.48), int(qh * 0.52)), 0, 0, 360, 1.0, -1
    )
    mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, qw / 30))[:, :, None]
    ys, xs = max(0, y0), max(0, x0)
    ye, xe = min(h, y0 + qh), min(w, x0 + qw)
    if ye <= ys or xe <= xs:
        return out
    sub = portrait[ys - y0 : ye - y0, xs - x0 : xe - x0].astype(np.float32)
    m = mask[ys - y0 : ye - y0, xs - x0 : xe - x0]
    region = out[ys:ye, xs:xe].astype(np.float32)
    out[ys:ye, xs:xe] = (sub * m + region * (1 - m)).astype(np.uint8)
    return out


def hold_card(
    frame: np.ndarray,
    card: np.ndarray,
    width_share: float = 0.7,
    tilt_deg: float = 4.0,
    center: tuple[float, float] = (0.5, 0.55),
) -> np.ndarray:
    """The card held up to the camera: slightly rotated and in perspective, fingers on a side."""
    h, w = frame.shape[:2]
    ch, cw = card.shape[:2]
    target_w = w * width_share
    target_h = target_w * ch / cw
    cx, cy = center[0] * w, center[1] * h
    angle = np.radians(tilt_deg)
    corners = np.array([[-0.5, -0.5], [0.5, -0.52], [0.5, 0.52], [-0.5, 0.5]]) * [
        target_w,
        target_h,
    ]
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = (corners @ rot.T + [cx, cy]).astype(np.float32)
    src = np.array([[0, 0], [cw, 0], [cw, ch], [0, ch]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(card, matrix, (w, h), flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.full((ch, cw), 255, np.uint8), matrix, (w, h))
    out = frame.copy()
    out[mask > 0] = warped[mask > 0]
    # thumbs on the left and right edges
    for x, y in (dst[0] * 0.5 + dst[3] * 0.5, dst[1] * 0.5 + dst[2] * 0.5):
        cv2.ellipse(out, (int(x), int(y)), (10, 18), 0, 0, 360, (120, 150, 200), -1)
    return out


def fit_640x480(image: np.ndarray) -> np.ndarray:
    """A photo letterboxed into a 640x480 webcam frame (what the live watcher gets)."""
    h, w = image.shape[:2]
    scale = min(640 / w, 480 / h)
    resized = cv2.resize(image, (int(w * scale), int(h * scale)))
    frame = np.full((480, 640, 3), 90, np.uint8)
    y0, x0 = (480 - resized.shape[0]) // 2, (640 - resized.shape[1]) // 2
    frame[y0 : y0 + resized.shape[0], x0 : x0 + resized.shape[1]] = resized
    return frame


def camera_noise(frame: np.ndarray, rng: np.random.Generator, sigma: float = 2.0) -> np.ndarray:
    noise = rng.normal(0, sigma, frame.shape)
    return np.clip(frame.astype(np.float64) + noise, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Segment:
    """A stretch of the synthetic webcam video.

    kinds: ``present`` (student at the desk), ``absent`` (empty chair), ``second_face``
    (another face appears beside the student), ``dark`` (lights off), ``black``
    (camera covered), ``frozen`` (one picture repeated), ``card`` (ID card held up),
    ``pan`` (room scan: the camera sweeps the panorama), ``turned`` (head turned away).
    """

    kind: str
    seconds: float


def render_scenario(
    segments: Sequence[Segment],
    fps: float = 5.0,
    size: tuple[int, int] = (640, 480),
    face_photo: np.ndarray | None = None,
    second_photo: np.ndarray | None = None,
    card: np.ndarray | None = None,
    seed: int = 3,
) -> Iterator[tuple[float, np.ndarray]]:
    """(t, BGR frame) for a scenario; the student's face comes from ``face_photo``."""
    width, height = size
    rng = np.random.default_rng(seed)
    panorama = draw_room_panorama(width=int(width * 4.5), height=height, seed=seed)
    face = face_photo if face_photo is not None else load_sample_face()
    desk_x = int(panorama.shape[1] * 0.35)
    background = panorama[:, desk_x : desk_x + width]
    face_h = int(height * 0.34)
    student = paste_person(background, face, 0.5, face_h)
    t = 0.0
    step = 1.0 / fps
    frozen: np.ndarray | None = None
    for segment in segments:
        n = max(1, round(segment.seconds * fps))
        for i in range(n):
            kind = segment.kind
            if kind == "present":
                frame = camera_noise(student, rng)
            elif kind == "absent":
                frame = camera_noise(background, rng)
            elif kind == "second_face":
                other = second_photo if second_photo is not None else face
                both = paste_person(background, face, 0.36, face_h)
                frame = camera_noise(
                    paste_person(both, other, 0.78, int(face_h * 0.8), top=int(height * 0.2)), rng
                )
            elif kind == "dark":
                frame = camera_noise((student.astype(np.float64) * 0.12).astype(np.uint8), rng, 1.0)
            elif kind == "black":
                frame = camera_noise(np.full_like(student, 3), rng, 0.8)
            elif kind == "frozen":
                frozen = student if frozen is None else frozen
                frame = frozen
            elif kind == "card":
                if card is None:
                    raise ValueError("a 'card' segment needs a card image")
                jitter = 1.5 * np.sin(i / 3.0)
                beside = paste_person(background, face, 0.3, face_h)
                held = hold_card(
                    beside, card, width_share=0.56, tilt_deg=3.0 + jitter, center=(0.7, 0.6)
                )
                frame = camera_noise(held, rng)
            elif kind == "pan":
                # From the desk to the left wall, across to the right wall, back to the desk.
                frame = camera_noise(_pan_view(panorama, desk_x, width, i / max(1, n - 1)), rng)
            elif kind == "turned":
                frame = camera_noise(_turned_head(student, background, face, face_h), rng)
            else:
                raise ValueError(f"unknown segment kind: {kind}")
            yield round(t, 4), frame
            t += step


def _pan_view(panorama: np.ndarray, desk_x: int, width: int, progress: float) -> np.ndarray:
    right = panorama.shape[1] - width
    path = [desk_x, 0, right, desk_x]
    lengths = [abs(b - a) for a, b in zip(path, path[1:], strict=False)]
    distance = progress * sum(lengths)
    for a, b, length in zip(path, path[1:], lengths, strict=False):
        if distance <= length or length == 0:
            x = a + (b - a) * (distance / length if length else 0)
            break
        distance -= length
    else:
        x = desk_x
    x = int(round(min(max(x, 0), right)))
    return panorama[:, x : x + width]


def _turned_head(
    student: np.ndarray, background: np.ndarray, face: np.ndarray, face_h: int
) -> np.ndarray:
    """A head turned sideways: the portrait squeezed horizontally and shifted (a profile proxy)."""
    squeezed = cv2.resize(face, (max(1, face.shape[1] // 3), face.shape[0]))
    return paste_person(background, squeezed, 0.55, face_h)


# -- writing videos ------------------------------------------------------------
def write_y4m(
    path: Path,
    frames: Iterator[tuple[float, np.ndarray]] | Sequence[tuple[float, np.ndarray]],
    fps: float,
) -> int:
    """Write frames as YUV4MPEG2 4:2:0 (Chromium's fake capture format); returns the count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    num, den = _fps_fraction(fps)
    with path.open("wb") as out:
        header_written = False
        for _, frame in frames:
            h, w = frame.shape[:2]
            w2, h2 = w - w % 2, h - h % 2
            frame = frame[:h2, :w2]
            if not header_written:
                out.write(f"YUV4MPEG2 W{w2} H{h2} F{num}:{den} Ip A1:1 C420jpeg\n".encode())
                header_written = True
            yuv = cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420)
            out.write(b"FRAME\n")
            out.write(yuv.tobytes())
            count += 1
    return count


def _fps_fraction(fps: float) -> tuple[int, int]:
    if float(fps).is_integer():
        return int(fps), 1
    return round(fps * 1000), 1000


def write_video(
    path: Path,
    frames: Iterator[tuple[float, np.ndarray]] | Sequence[tuple[float, np.ndarray]],
    fps: float,
) -> int:
    """Y4M for ``.y4m``, otherwise MJPG through OpenCV (``.avi``)."""
    path = Path(path)
    if path.suffix.lower() == ".y4m":
        return write_y4m(path, frames, fps)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = None
    count = 0
    try:
        for _, frame in frames:
            if writer is None:
                h, w = frame.shape[:2]
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
                if not writer.isOpened():
                    raise RuntimeError(f"OpenCV cannot write {path}")
            writer.write(frame)
            count += 1
    finally:
        if writer is not None:
            writer.release()
    return count


CHECKLIST_SCENARIO = (
    Segment("present", 2.0),
    Segment("pan", 8.0),
    Segment("present", 2.0),
    Segment("card", 5.0),
    Segment("present", 8.0),
)


def write_checklist_video(
    path: str | Path,
    roster_name: str,
    card_path: str | Path | None = None,
    fps: float = 10.0,
    size: tuple[int, int] = (640, 480),
    face_photo: np.ndarray | None = None,
    scenario: Sequence[Segment] = CHECKLIST_SCENARIO,
) -> Path:
    """The checklist's browser-test video: room pan → ID card with ``roster_name`` → student still.

    ``roster_name`` is "ФАМИЛИЯ Имя Отчество". Writes Y4M when ``path`` ends in .y4m
    (Chromium fake capture), MJPG AVI otherwise; ``card_path`` also gets the card as PNG.
    Default timing (s): 0-2 student, 2-10 room pan, 10-12 student, 12-17 card, 17-25 still.
    """
    path = Path(path)
    face = face_photo if face_photo is not None else load_sample_face()
    card = make_id_card(CardPerson.from_full_name(roster_name), face)
    if card_path is not None:
        Path(card_path).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(card_path), card)
    write_video(
        path, render_scenario(scenario, fps=fps, size=size, face_photo=face, card=card), fps
    )
    return path
