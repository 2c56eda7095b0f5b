"""The ID display step: find the document in a burst of frames, read the name, compare faces.

1. Each frame: look for a card-like quadrilateral (edges → contours → 4 corners,
   ID-like aspect); the frame where the card region is sharpest wins. A flat scan
   or photo with no visible card edge is taken whole.
2. Rectify the card to a fixed width and OCR it (Tesseract, ``rus+eng``, sparse
   text), plus an MRZ-alphabet pass over the lower part for the machine zone.
3. Match the roster name against every OCR word and the MRZ name (any order,
   ё/е, transliteration) — see ``names.py``.
4. Find the photo on the card (face detector on the rectified card) and compare
   its encoding with the live face (the largest face outside the card, or the
   enrolled encoding the caller gives).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from proctorbot.detection.faces import Box, Face, FaceAnalyzer, face_distance
from proctorbot.detection.image_input import as_bgr
from proctorbot.detection.lighting import sharpness
from proctorbot.detection.mrz import MrzName, find_mrz_name
from proctorbot.detection.names import NameMatch, best_name_in_text, fold_name, match_name
from proctorbot.detection.ocr import OcrWord, TesseractReader
from proctorbot.detection.page_orientation import quarter_turns

RECTIFIED_WIDTH = 1000
# Confidence summed over legible words above which a turned page is taken to read the
# right way round (about five words read well).
LEGIBLE_PAGE = 400.0
_NAME_CAPTIONS = {
    "фамилия": "surname",
    "surname": "surname",
    "имя": "given",
    "given": "given",
    "отчество": "patronymic",
}


@dataclass(frozen=True)
class CardCandidate:
    frame_index: int
    corners: np.ndarray | None  # (4, 2) float32, TL TR BR BL; None = the whole frame
    sharpness: float
    area_share: float


@dataclass
class IdReading:
    """What the ID step found; ``to_json`` is the ``read-id`` CLI contract."""

    document: bool
    name: str
    name_match: bool
    name_score: float
    face_match: float | None
    face_distance: float | None = None
    card_found: bool = False
    mrz_name: str | None = None
    ocr_text: str = ""
    confidence: float = 0.0
    frame_index: int = 0
    evidence: dict[str, str] = field(default_factory=dict)
    images: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "document": self.document,
            "name": self.name,
            "name_match": self.name_match,
            "name_score": round(self.name_score, 4),
            "face_match": None if self.face_match is None else round(self.face_match, 4),
            "face_distance": None if self.face_distance is None else round(self.face_distance, 4),
            "card_found": self.card_found,
            "mrz_name": self.mrz_name,
            "confidence": round(self.confidence, 3),
            "frame_index": self.frame_index,
            "evidence": dict(self.evidence),
        }


def _order_corners(pts: np.ndarray) -> np.ndarray:
    pts = pts.reshape(4, 2).astype(np.float32)
    s = pts.sum(axis=1)
    d = np.diff(pts, axis=1).ravel()
    return np.array([pts[np.argmin(s)], pts[np.argmin(d)], pts[np.argmax(s)], pts[np.argmax(d)]])


def _edge_support(edges: np.ndarray, corners: np.ndarray, samples: int = 60) -> float:
    """Share of points along the quadrilateral's sides that lie on an edge pixel."""
    h, w = edges.shape
    hits = 0
    total = 0
    for i in range(4):
        a, b = corners[i], corners[(i + 1) % 4]
        for k in range(samples):
            x, y = a + (b - a) * (k + 0.5) / samples
            xi, yi = int(round(x)), int(round(y))
            total += 1
            if 0 <= xi < w and 0 <= yi < h and edges[yi, xi]:
                hits += 1
    return hits / total if total else 0.0


def find_card(frame: np.ndarray, min_area_share: float = 0.06) -> np.ndarray | None:
    """Corners (TL, TR, BR, BL) of the best card-like quadrilateral, or None.

    A candidate must have an ID-like aspect and its four sides must run along
    image edges (a hull that bridges two objects has sides in empty space).
    """
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    scale = min(1.0, 800 / max(gray.shape))
    small = (
        cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        if scale < 1
        else gray
    )
    blurred = cv2.GaussianBlur(small, (5, 5), 0)
    area_total = small.shape[0] * small.shape[1]
    best: tuple[float, np.ndarray] | None = None
    for low, high in ((30, 90), (60, 180)):
        edges = cv2.dilate(cv2.Canny(blurred, low, high), np.ones((3, 3), np.uint8))
        support_map = cv2.dilate(edges, np.ones((5, 5), np.uint8))
        contours, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        for contour in contours:
            if cv2.contourArea(cv2.convexHull(contour)) < min_area_share * area_total:
                continue
            for shape in (contour, cv2.convexHull(contour)):
                approx = cv2.approxPolyDP(shape, 0.03 * cv2.arcLength(shape, True), True)
                if len(approx) != 4 or not cv2.isContourConvex(approx):
                    continue
                area = cv2.contourArea(approx)
                if area < min_area_share * area_total or area > 0.97 * area_total:
                    continue
                corners = _order_corners(approx)
                width = (
                    np.linalg.norm(corners[1] - corners[0])
                    + np.linalg.norm(corners[2] - corners[3])
                ) / 2
                height = (
                    np.linalg.norm(corners[3] - corners[0])
                    + np.linalg.norm(corners[2] - corners[1])
                ) / 2
                aspect = max(width, height) / max(1.0, min(width, height))
                if not 1.15 <= aspect <= 2.3:
                    continue
                support = _edge_support(support_map, corners)
                if support < 0.7:
                    continue
                score = area * support**2
                if best is None or score > best[0]:
                    best = (score, corners)
    if best is None:
        return None
    return best[1] / scale


def rectify(frame: np.ndarray, corners: np.ndarray, width: int = RECTIFIED_WIDTH) -> np.ndarray:
    """The card seen head-on, ``width`` pixels wide (landscape)."""
    tl, tr, br, bl = corners
    w = (np.linalg.norm(tr - tl) + np.linalg.norm(br - bl)) / 2
    h = (np.linalg.norm(bl - tl) + np.linalg.norm(br - tr)) / 2
    if h > w:  # a card held in portrait: turn it so the text runs left to right
        corners = np.array([bl, tl, tr, br], dtype=np.float32)
        w, h = h, w
    height = max(1, int(round(width * h / max(w, 1.0))))
    dst = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], np.float32)
    matrix = cv2.getPerspectiveTransform(corners.astype(np.float32), dst)
    return cv2.warpPerspective(frame, matrix, (width, height), flags=cv2.INTER_CUBIC)


def pick_card_frame(frames: Sequence[np.ndarray]) -> CardCandidate | None:
    """The frame of a burst where a card is seen largest and sharpest (None: no card at all)."""
    best: CardCandidate | None = None
    best_score = -1.0
    for index, frame in enumerate(frames):
        corners = find_card(frame)
        if corners is None:
            continue
        card = rectify(frame, corners, width=500)
        sharp = sharpness(cv2.cvtColor(card, cv2.COLOR_BGR2GRAY))
        area = cv2.contourArea(corners.astype(np.float32)) / float(frame.shape[0] * frame.shape[1])
        score = sharp * (0.5 + area)
        if score > best_score:
            best_score = score
            best = CardCandidate(index, corners, sharp, area)
    return best


class IdDocumentReader:
    """Reads the ID shown to the camera; owns its face analyzer and Tesseract runner."""

    def __init__(
        self,
        analyzer: FaceAnalyzer | None = None,
        ocr: TesseractReader | None = None,
        name_threshold: float = 0.8,
        same_person_distance: float = 0.6,
    ) -> None:
        self.analyzer = analyzer or FaceAnalyzer()
        self.ocr = ocr or TesseractReader()
        self.name_threshold = name_threshold
        self.same_person_distance = same_person_distance

    def read(
        self,
        frames: Iterable[np.ndarray],
        expected_name: str | None = None,
        live_encoding: np.ndarray | None = None,
        evidence_dir: Path | None = None,
        evidence_prefix: str = "evidence",
    ) -> IdReading:
        """Read a document from one image or a burst of frames (BGR)."""
        self.ocr.check()
        frames = [as_bgr(f) for f in frames]
        if not frames:
            raise ValueError("no frames given")
        candidate = pick_card_frame(frames)
        if candidate is None:
            index = int(np.argmax([sharpness(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY)) for f in frames]))
            reading = self._read_at(frames[index], index, None, expected_name, live_encoding)
        elif len(frames) == 1:
            # A single still (a scan, a photo): the quadrilateral found may be only a part
            # of the document (its photo, a box) or a skewed guess; read the whole image
            # first and the rectified quadrilateral only when that does not settle it.
            reading = self._read_at(frames[0], 0, None, expected_name, live_encoding)
            if not reading.name_match:
                cropped = self._read_at(frames[0], 0, candidate, expected_name, live_encoding)
                reading = max((reading, cropped), key=_reading_rank)
        else:
            frame = frames[candidate.frame_index]
            reading = self._read_at(
                frame, candidate.frame_index, candidate, expected_name, live_encoding
            )
        if evidence_dir is not None:
            reading.evidence = _save_images(reading.images, Path(evidence_dir), evidence_prefix)
        return reading

    def _read_at(
        self,
        frame: np.ndarray,
        index: int,
        candidate: CardCandidate | None,
        expected_name: str | None,
        live_encoding: np.ndarray | None,
    ) -> IdReading:
        card = rectify(frame, candidate.corners) if candidate else _limit_width(frame, 1600)
        words, mrz, mrz_pass = self._read_text(card)
        name, match = self._name(words, mrz, expected_name)
        if match is not None and not match.matched:
            # Second chances, only when the expected name was not found: the machine
            # zone read with its own alphabet, then a document turned sideways.
            # A Latin-only pass reads Latin print (and MRZ) better than rus+eng, which
            # turns low-contrast Latin capitals into Cyrillic look-alikes.
            words = words + self.ocr.words(_ocr_ready(card, 1600), psm=11, languages="eng")
            mrz = mrz or find_mrz_name(_lines(words))
            name, match = self._name(words, mrz, expected_name)
            if not match.matched and not mrz_pass:
                mrz = find_mrz_name(self.ocr.mrz_lines(_lower_part(_ocr_ready(card)))) or mrz
                name, match = self._name(words, mrz, expected_name)
            if not match.matched and card.shape[0] > 1.1 * card.shape[1]:
                for turn in (cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_90_COUNTERCLOCKWISE):
                    turned_words, turned_mrz, _ = self._read_text(cv2.rotate(card, turn))
                    turned_name, turned_match = self._name(
                        turned_words, turned_mrz or mrz, expected_name
                    )
                    if turned_match is not None and turned_match.score > match.score:
                        words, mrz, name, match = (
                            turned_words,
                            turned_mrz or mrz,
                            turned_name,
                            turned_match,
                        )
                    if match.matched:
                        break
        if match is not None and not match.matched:
            # Last chance: the whole page deskewed and turned upright (a booklet shot
            # sideways, a page held at an angle), its machine zone read first.
            upright = self._read_upright(card, expected_name or "")
            if upright[4] is not None and upright[4].score > match.score:
                card, words, mrz, name, match = upright
        face_match, distance, images = self._faces(frame, card, candidate, live_encoding)
        # A window or a door is a quadrilateral too: a document also carries text or a photo.
        legible = sum(
            1 for w in words if w.confidence > 60 and sum(c.isalpha() for c in w.text) >= 3
        )
        document = (
            mrz is not None
            or _looks_like_document(words)
            or (candidate is not None and (legible >= 3 or "card_face" in images))
        )
        images.update(best_frame=frame, card=card)
        return IdReading(
            document=document,
            name=name,
            name_match=bool(match.matched) if match else False,
            name_score=match.score if match else 0.0,
            face_match=face_match,
            face_distance=distance,
            card_found=candidate is not None and document,
            mrz_name=mrz.full if mrz else None,
            ocr_text=" ".join(w.text for w in words),
            confidence=_confidence(match, mrz, candidate is not None and document, words),
            frame_index=index,
            images=images,
        )

    def _read_upright(
        self, card: np.ndarray, expected: str
    ) -> tuple[np.ndarray, list[OcrWord], MrzName | None, str, NameMatch | None]:
        """The page deskewed and turned the way its text reads best (confidence summed over
        legible words; never by the roster name, so no turn is picked for matching), then
        read machine zone first."""
        pages = quarter_turns(_limit_width(card, 1600))
        readings = []
        for index, page in enumerate(pages):
            if index == 2 and max(r[0] for r in readings) >= LEGIBLE_PAGE:
                break  # level, or level upside down, reads: no need to turn it sideways
            words = self.ocr.words(_ocr_ready(_limit_width(page, 1200)), psm=11)
            readings.append((_legibility(words), page, words))
        _, page, words = max(readings, key=lambda r: r[0])
        gray = _ocr_ready(page)
        mrz = find_mrz_name(self.ocr.mrz_lines(_lower_part(gray))) or find_mrz_name(_lines(words))
        name, match = self._name(words, mrz, expected)
        if match is not None and not match.matched:
            words = words + self.ocr.words(_ocr_ready(page, 1600), psm=11, languages="eng")
            mrz = mrz or find_mrz_name(_lines(words))
            name, match = self._name(words, mrz, expected)
        return page, words, mrz, name, match

    def _read_text(self, card: np.ndarray) -> tuple[list[OcrWord], MrzName | None, bool]:
        """OCR words, the MRZ name if any, and whether the MRZ-alphabet pass already ran."""
        gray = _ocr_ready(card)
        words = self.ocr.words(gray, psm=11)
        mrz = find_mrz_name(_lines(words))
        if mrz is None and any(w.text.count("<") >= 2 for w in words):
            # Fillers seen but no name line parsed: read the lower part again with
            # the MRZ alphabet only.
            return words, find_mrz_name(self.ocr.mrz_lines(_lower_part(gray))), True
        return words, mrz, False

    def _name(
        self, words: list[OcrWord], mrz: MrzName | None, expected: str | None
    ) -> tuple[str, NameMatch | None]:
        printed = _name_from_captions(words)
        if expected:
            pool = [w.text for w in words]
            if mrz:
                pool += mrz.full.split()
            match = best_name_in_text(pool, expected, self.name_threshold)
            # Report what the document says: the captioned name, else a plausible MRZ
            # name, else the words that matched the roster.
            candidates = [printed, mrz.full if mrz else ""]
            name = next(
                (
                    c
                    for c in candidates
                    if c and match_name(c, expected, self.name_threshold).score >= 0.5
                ),
                printed or match.read.upper(),
            )
            return name, match
        name = printed or (mrz.full if mrz else "") or _likely_name(words)
        return name, None

    def _faces(
        self,
        frame: np.ndarray,
        card: np.ndarray,
        candidate: CardCandidate | None,
        live_encoding: np.ndarray | None,
    ) -> tuple[float | None, float | None, dict[str, np.ndarray]]:
        images: dict[str, np.ndarray] = {}
        card_faces = [
            f for f in self.analyzer.detect(card, thorough=True, rotated=False) if f.source == "hog"
        ]
        if not card_faces:
            return None, None, images
        card_face = max(card_faces, key=lambda f: f.box.area)
        images["card_face"] = _crop(card, card_face.box)
        card_encoding = self.analyzer.add_encoding(card, card_face)
        if live_encoding is None and candidate is not None:
            live = _live_face(self.analyzer, frame, candidate.corners)
            if live is not None:
                live_encoding = self.analyzer.add_encoding(frame, live)
                images["live_face"] = _crop(frame, live.box)
        if live_encoding is None:
            return None, None, images
        distance = face_distance(card_encoding, live_encoding)
        # 1 at distance 0, 0.5 at dlib's same-person threshold, 0 at twice that.
        similarity = max(0.0, 1.0 - distance / (2 * self.same_person_distance))
        return similarity, distance, images


def _live_face(
    analyzer: FaceAnalyzer, frame: np.ndarray, corners: np.ndarray | None
) -> Face | None:
    faces = [f for f in analyzer.detect(frame, thorough=True, rotated=False) if f.source == "hog"]
    if corners is not None:
        xs, ys = corners[:, 0], corners[:, 1]
        card_box = Box(int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))
        faces = [f for f in faces if f.box.overlap_of_smaller(card_box) < 0.5]
    return max(faces, key=lambda f: f.box.area) if faces else None


def _crop(image: np.ndarray, box: Box, margin: float = 0.25) -> np.ndarray:
    h, w = image.shape[:2]
    mx, my = int(box.width * margin), int(box.height * margin)
    b = Box(box.left - mx, box.top - my, box.right + mx, box.bottom + my).clip(w, h)
    return image[b.top : b.bottom, b.left : b.right].copy()


def _ocr_ready(card: np.ndarray, min_width: int = 1000) -> np.ndarray:
    """Gray, and at least ``min_width`` wide: Tesseract wants capitals of 20+ pixels."""
    gray = cv2.cvtColor(card, cv2.COLOR_BGR2GRAY) if card.ndim == 3 else card
    if gray.shape[1] < min_width:
        factor = min_width / gray.shape[1]
        gray = cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
    return gray


def _lower_part(image: np.ndarray) -> np.ndarray:
    return image[int(image.shape[0] * 0.55) :]


def _limit_width(image: np.ndarray, width: int) -> np.ndarray:
    if image.shape[1] <= width:
        return image
    factor = width / image.shape[1]
    return cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)


def _lines(words: list[OcrWord]) -> list[str]:
    lines: dict[tuple[int, int, int], list[OcrWord]] = {}
    for word in words:
        lines.setdefault(word.line_key, []).append(word)
    out = ["".join(w.text for w in sorted(ws, key=lambda w: w.left)) for ws in lines.values()]
    out += [w.text for w in words if len(w.text) >= 20]
    return out


def _name_from_captions(words: list[OcrWord]) -> str:
    """On a Russian card: the word printed under each caption (Фамилия, Имя, Отчество)."""
    found: dict[str, str] = {}
    for caption in words:
        role = _NAME_CAPTIONS.get(caption.text.lower().strip(".:/"))
        if role is None or role in found:
            continue
        below = [
            w
            for w in words
            if w is not caption
            and 0 < w.top - caption.top < 4 * caption.height
            and abs(w.left - caption.left) < 3 * caption.height
            and w.text.lower().strip(".:/") not in _NAME_CAPTIONS
            and sum(ch.isalpha() for ch in w.text) >= 2
        ]
        if below:
            found[role] = min(below, key=lambda w: w.top).text.strip(".,:;")
    parts = [found.get(k, "") for k in ("surname", "given", "patronymic")]
    return " ".join(p for p in parts if p) if found.get("surname") else ""


def _likely_name(words: list[OcrWord]) -> str:
    """Without captions or an MRZ: the tallest all-letter upper-case words (a guess)."""
    letters = [
        w
        for w in words
        if w.text.isalpha() and w.text.isupper() and len(w.text) > 2 and w.confidence > 50
    ]
    letters.sort(key=lambda w: -w.height)
    return " ".join(w.text for w in letters[:3])


def _legibility(words: list[OcrWord]) -> float:
    """How well a page reads this way up: the confidence summed over real words."""
    return sum(
        w.confidence for w in words if w.confidence > 60 and sum(c.isalpha() for c in w.text) >= 3
    )


def _looks_like_document(words: list[OcrWord]) -> bool:
    folded = " ".join(fold_name(w.text) for w in words)
    keys = ("pasport", "passport", "familia", "surname", "identit", "licen", "card", "document")
    return sum(1 for w in words if w.confidence > 40) >= 8 and any(k in folded for k in keys)


def _reading_rank(reading: IdReading) -> tuple[float, float, int]:
    return (reading.name_score, float(reading.mrz_name is not None), len(reading.ocr_text))


def _confidence(
    match: NameMatch | None, mrz: MrzName | None, card: bool, words: list[OcrWord]
) -> float:
    score = 0.2 * card + 0.2 * (mrz is not None)
    if match is not None:
        score += 0.6 * match.score
    elif words:
        score += 0.6 * min(1.0, float(np.mean([max(0.0, w.confidence) for w in words])) / 100.0)
    return min(1.0, score)


def _save_images(images: dict[str, np.ndarray], folder: Path, prefix: str) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    saved = {}
    for key, image in images.items():
        if image is None or image.size == 0:
            continue
        name = f"id_{key}.jpg"
        cv2.imwrite(str(folder / name), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        saved[key] = f"{prefix}/{name}"
    return saved
