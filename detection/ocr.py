"""Tesseract through pytesseract, with a clear error when either is missing."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

import numpy as np

TESSERACT_HINT = (
    "install Tesseract with Russian: `apt-get install tesseract-ocr tesseract-ocr-rus "
    "tesseract-ocr-eng` and `pip install pytesseract`"
)
MRZ_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<"


class OcrUnavailable(RuntimeError):
    """Tesseract, its language data or pytesseract is missing; the message says what to install."""


@dataclass(frozen=True)
class OcrWord:
    text: str
    confidence: float
    left: int
    top: int
    width: int
    height: int
    line_key: tuple[int, int, int]


class TesseractReader:
    """Runs Tesseract; checks once that the program and the languages are there."""

    def __init__(self, command: str = "tesseract", languages: str = "rus+eng") -> None:
        self.command = command
        self.languages = languages
        self._checked = False

    def check(self) -> None:
        if self._checked:
            return
        try:
            import pytesseract
        except ImportError as exc:
            raise OcrUnavailable(f"pytesseract is not installed; {TESSERACT_HINT}") from exc
        if shutil.which(self.command) is None:
            raise OcrUnavailable(
                f"the tesseract program ({self.command}) is not found; {TESSERACT_HINT}"
            )
        pytesseract.pytesseract.tesseract_cmd = self.command
        # Tesseract's OpenMP threads spin and slow down on a shared 2-core machine: limit
        # them in the child's environment only (unless the operator chose). Never in
        # os.environ: an OpenMP runtime loaded later in this process (CTranslate2's, for
        # faster-whisper with cpu_threads=2) then returns empty transcripts.
        pytesseract.pytesseract.environ = {"OMP_THREAD_LIMIT": "1", **os.environ}
        try:
            available = set(pytesseract.get_languages(config=""))
        except Exception as exc:  # noqa: BLE001 - any failure of the external program
            raise OcrUnavailable(f"tesseract does not run: {exc}; {TESSERACT_HINT}") from exc
        missing = [lang for lang in self.languages.split("+") if lang not in available]
        if missing:
            raise OcrUnavailable(
                f"tesseract language data missing: {', '.join(missing)}; {TESSERACT_HINT}"
            )
        self._checked = True

    def words(
        self, image: np.ndarray, psm: int = 11, languages: str | None = None
    ) -> list[OcrWord]:
        """Words with confidences from a BGR or gray image."""
        import pytesseract

        self.check()
        data = pytesseract.image_to_data(
            image,
            lang=languages or self.languages,
            config=f"--psm {psm}",
            output_type=pytesseract.Output.DICT,
        )
        words = []
        for i, text in enumerate(data["text"]):
            text = (text or "").strip()
            if not text:
                continue
            words.append(
                OcrWord(
                    text=text,
                    confidence=float(data["conf"][i]),
                    left=int(data["left"][i]),
                    top=int(data["top"][i]),
                    width=int(data["width"][i]),
                    height=int(data["height"][i]),
                    line_key=(
                        int(data["block_num"][i]),
                        int(data["par_num"][i]),
                        int(data["line_num"][i]),
                    ),
                )
            )
        return words

    def mrz_lines(self, image: np.ndarray) -> list[str]:
        """Lines read with the MRZ alphabet only (OCR-B digits, capitals and '<')."""
        import pytesseract

        self.check()
        text = pytesseract.image_to_string(
            image,
            lang="eng",
            config=f"--psm 6 -c tessedit_char_whitelist={MRZ_CHARS}",
        )
        return [line.replace(" ", "") for line in text.splitlines() if line.strip()]
