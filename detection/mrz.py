"""The holder's name out of a machine-readable zone (ICAO 9303 TD1/TD2/TD3), OCR-tolerant."""

from __future__ import annotations

import re
from dataclasses import dataclass

_MRZ_LINE = re.compile(r"[A-Z0-9<]{20,}")


@dataclass(frozen=True)
class MrzName:
    surname: str
    given_names: str
    line: str

    @property
    def full(self) -> str:
        return f"{self.surname} {self.given_names}".strip()


def _clean(line: str) -> str:
    line = line.upper().replace(" ", "")
    # OCR often reads the filler '<' as K, C or «; keep only MRZ characters.
    line = line.replace("«", "<").replace("‹", "<")
    return re.sub(r"[^A-Z0-9<]", "", line)


def _name_from(field: str) -> tuple[str, str] | None:
    field = re.sub(r"<+$", "", field)
    if "<<" not in field:
        return None
    surname, _, given = field.partition("<<")
    surname = re.sub(r"[^A-Z<]", "", surname).replace("<", " ").strip()
    given = re.sub(r"<[KC]{2,}.*$", "", given)  # filler misread as KKK / CCC
    words = []
    for word in (w for w in re.sub(r"[^A-Z<]", "", given).split("<") if w):
        if len(word) >= 4 and re.fullmatch(r"[KXCE]+", word):
            break  # the filler run, misread as letters: the name has ended
        words.append(word)
    while words and re.fullmatch(r"[KXC]{1,4}", words[-1]):  # fillers misread as letters
        words.pop()
    if words:
        words[-1] = re.sub(r"[KXC]{3,}$", "", words[-1]) or words[-1]
    given = " ".join(words)
    if len(surname) < 2:
        return None
    return surname, given.strip()


def find_mrz_name(lines: list[str]) -> MrzName | None:
    """The name field of the first plausible MRZ name line among OCR lines."""
    for raw in lines:
        line = _clean(raw)
        if not _MRZ_LINE.fullmatch(line) or line.count("<") < 2:
            continue
        # TD3/TD2 line 1: document code (P, V, A, C, I) + type/filler + issuer (3) + name.
        if re.match(r"^[PVACI][A-Z<][A-Z<]{3}", line) and "<<" in line[5:]:
            parsed = _name_from(line[5:])
            if parsed:
                return MrzName(parsed[0], parsed[1], line)
        # TD1 line 3: the name alone, letters and fillers only.
        if re.fullmatch(r"[A-Z<]{10,}", line) and not re.match(r"^[IAC][A-Z<][A-Z]{3}", line):
            parsed = _name_from(line)
            if parsed:
                return MrzName(parsed[0], parsed[1], line)
    return None
