"""Does a name read from an ID card or heard aloud match the roster's full name?

Russian names come in Cyrillic from the roster and may come back in Latin from a
speech recognizer or with OCR slips (ё/е, a lost letter); each roster word is matched
to the closest word found, and the surname and the first name must both be there.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from difflib import SequenceMatcher

_CYRILLIC_TO_LATIN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh",
    "з": "z", "и": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts",
    "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "iu",
    "я": "ia",
}  # fmt: skip
WORD_THRESHOLD = 0.8


@dataclass(frozen=True)
class NameMatch:
    matched: bool
    score: float  # the weakest of the required words' similarities, 0..1
    words: dict[str, float] = field(default_factory=dict)  # roster word → best similarity


def normalize_words(text: str) -> list[str]:
    """Lower case, ё → е, letters only, in Latin, so "Ёлкин" and "Yolkin" compare."""
    text = unicodedata.normalize("NFKC", text).lower().replace("ё", "е")
    words = re.findall(r"[^\W\d_]+", text)
    return [transliterate(word) for word in words if len(word) > 1]


def transliterate(word: str) -> str:
    latin = "".join(_CYRILLIC_TO_LATIN.get(ch, ch) for ch in word)
    # Spellings a recognizer may use for the same sound.
    for a, b in (("yo", "e"), ("ya", "ia"), ("yu", "iu"), ("iy", "i"), ("y", "i"), ("j", "i")):
        latin = latin.replace(a, b)
    return latin


def match_name(roster_name: str, found_text: str, *, required_words: int = 2) -> NameMatch:
    """Match the first ``required_words`` words of the roster name (surname, first name).

    A patronymic, when the roster has one, counts only if found: it is often left out
    when a name is said aloud.
    """
    wanted = normalize_words(roster_name)
    found = normalize_words(found_text)
    if not wanted:
        raise ValueError("the roster name has no letters")
    scores: dict[str, float] = {}
    for word in wanted:
        scores[word] = max((_similarity(word, other) for other in found), default=0.0)
    required = wanted[:required_words]
    score = min(scores[w] for w in required)
    return NameMatch(matched=score >= WORD_THRESHOLD, score=round(score, 3), words=scores)


def _similarity(a: str, b: str) -> float:
    return SequenceMatcher(None, a, b).ratio()
