"""Matching a name read off a document against the roster name.

Both sides are brought to one Latin, upper-case form: ё→е, Cyrillic transliterated
(ICAO 9303 as used in Russian passports' MRZ, with common variants folded), Latin
diacritics stripped, OCR look-alikes unified. Word order does not matter (the
roster says "ФАМИЛИЯ Имя Отчество", a card may print "Имя ФАМИЛИЯ"), and a
document may leave the patronymic out.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from itertools import permutations

# ICAO 9303 (Russian passport MRZ) transliteration.
_CYR_TO_LAT = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "д": "d",
    "е": "e",
    "ё": "e",
    "ж": "zh",
    "з": "z",
    "и": "i",
    "й": "i",
    "к": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ф": "f",
    "х": "kh",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "shch",
    "ъ": "ie",
    "ы": "y",
    "ь": "",
    "э": "e",
    "ю": "iu",
    "я": "ia",
}
# Variants of other transliteration systems, folded to one spelling before comparing.
_LATIN_FOLDS = (
    ("shch", "sc"),
    ("sch", "sc"),
    ("kh", "h"),
    ("zh", "j"),
    ("ts", "c"),
    ("tz", "c"),
    ("ch", "c"),
    ("sh", "s"),
    ("iu", "u"),
    ("yu", "u"),
    ("ju", "u"),
    ("ia", "a"),
    ("ya", "a"),
    ("ja", "a"),
    ("ie", "e"),
    ("ye", "e"),
    ("ii", "i"),
    ("iy", "i"),
    ("yi", "i"),
    ("y", "i"),
    ("j", "i"),
    ("w", "v"),
    ("x", "ks"),
    ("q", "k"),
)
_GERMANIC = {"æ": "ae", "ø": "oe", "å": "aa", "þ": "th", "ð": "d", "ß": "ss", "œ": "oe"}


def transliterate(text: str) -> str:
    """Cyrillic to Latin (ICAO 9303), other characters unchanged; keeps case of the first letter."""
    out = []
    for ch in text:
        low = ch.lower()
        if low in _CYR_TO_LAT:
            lat = _CYR_TO_LAT[low]
            out.append(lat.upper() if ch.isupper() and lat else lat)
        else:
            out.append(ch)
    return "".join(out)


# Latin letters (and pairs) that OCR returns for Cyrillic capitals: "AJIEHA" = "АЛЕНА".
_LOOKALIKE_TO_CYR = (
    ("JI", "Л"),
    ("bI", "Ы"),
    ("BI", "Ы"),
    ("A", "А"),
    ("B", "В"),
    ("E", "Е"),
    ("K", "К"),
    ("M", "М"),
    ("H", "Н"),
    ("O", "О"),
    ("P", "Р"),
    ("C", "С"),
    ("T", "Т"),
    ("X", "Х"),
    ("Y", "У"),
    ("3", "З"),
    ("0", "О"),
    ("6", "Б"),
    ("N", "И"),
    ("R", "Я"),
)


def as_cyrillic_lookalike(word: str) -> str:
    """A word with Latin look-alikes turned into the Cyrillic capitals OCR mistook."""
    out = word.upper()
    for lat, cyr in _LOOKALIKE_TO_CYR:
        out = out.replace(lat.upper(), cyr)
    return out


def fold_name(text: str) -> str:
    """One comparable form: Latin letters a-z and spaces, transliteration variants folded."""
    text = text.replace("ё", "е").replace("Ё", "Е")
    text = transliterate(text).lower()
    text = "".join(_GERMANIC.get(ch, ch) for ch in text)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = re.sub(r"[^a-z]+", " ", text).strip()
    words = []
    for word in text.split():
        for a, b in _LATIN_FOLDS:
            word = word.replace(a, b)
        words.append(word)
    return " ".join(words)


@dataclass(frozen=True)
class NameMatch:
    score: float  # 0..1
    matched: bool
    read: str
    expected: str
    words_matched: int


def _word_score(a: str, b: str) -> float:
    from rapidfuzz.distance import Levenshtein

    return Levenshtein.normalized_similarity(a, b)


def match_name(read: str, expected: str, threshold: float = 0.8) -> NameMatch:
    """How well ``read`` (OCR, MRZ) fits ``expected`` (roster), any word order.

    The score is the mean similarity of the expected surname and given name to their
    best-fitting read words (the patronymic counts when the document has three words).
    """
    read_words = [w for w in fold_name(read).split() if len(w) > 1]
    expected_words = [w for w in fold_name(expected).split() if w]
    if not read_words or not expected_words:
        return NameMatch(0.0, False, read, expected, 0)
    needed = expected_words[:2] if len(read_words) < len(expected_words) else expected_words
    best = 0.0
    best_hits = 0
    k = min(len(needed), len(read_words))
    for chosen in permutations(range(len(read_words)), k):
        scores = [_word_score(needed[i], read_words[j]) for i, j in enumerate(chosen)]
        scores += [0.0] * (len(needed) - k)
        mean = sum(scores) / len(needed)
        if mean > best:
            best = mean
            best_hits = sum(s >= threshold for s in scores)
        if len(read_words) > 7 and best > 0.95:  # long OCR output: good enough, stop early
            break
    return NameMatch(round(best, 4), best >= threshold, read, expected, best_hits)


def best_name_in_text(words: list[str], expected: str, threshold: float = 0.8) -> NameMatch:
    """The best match of ``expected`` among all OCR words of a document (order-free).

    Picks, for each expected word, the most similar OCR word; so stray words (field
    captions, dates) do not lower the score.
    """
    folded = [fold_name(w) for w in words]
    # OCR may return Cyrillic capitals as Latin look-alikes; try each word both ways.
    folded += [fold_name(as_cyrillic_lookalike(w)) for w in words if re.search("[A-Za-z]", w)]
    # MRZ fillers read as K, C or X glue names together ("ANNAKMARIAK"): add the pieces.
    folded += [
        " ".join(re.split(r"[kcx]{1,}(?=[a-z]{3})|[kcx]{2,}$", w))
        for f in list(folded)
        for w in f.split()
        if len(w) >= 7
    ]
    candidates = sorted({w for f in folded for w in f.split() if len(w) > 1})
    expected_words = [w for w in fold_name(expected).split() if w]
    if not candidates or not expected_words:
        return NameMatch(0.0, False, " ".join(words), expected, 0)
    picked: list[str] = []
    scores: list[float] = []
    for word in expected_words:
        best_word = max(candidates, key=lambda c: _word_score(word, c))
        picked.append(best_word)
        scores.append(_word_score(word, best_word))
    # Surname and first given name decide; later words (a patronymic, a second given
    # name) count only when the document shows them: many documents leave them out.
    core = scores[:2]
    if len(scores) > 2 and sum(scores) / len(scores) >= sum(core) / len(core):
        core = scores
    else:
        picked = picked[:2]
    score = sum(core) / len(core)
    return NameMatch(
        round(score, 4),
        score >= threshold and min(core) >= threshold - 0.15,
        " ".join(picked),
        expected,
        sum(s >= threshold for s in core),
    )
