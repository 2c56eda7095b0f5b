"""User-visible texts, one catalogue per language.

A catalogue is the folder ``config/locales/<lang>/``; each area keeps its texts in
its own file there (``conference.toml``, ``scheduling.toml`` ...) and a key is
``<file>.<key>``, e.g. ``catalogue.text("conference.join")``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

LOCALES_DIR = Path(__file__).parent / "locales"
LANGUAGES = ("ru", "en")


class MissingText(KeyError):
    pass


@dataclass(frozen=True)
class Catalogue:
    language: str
    texts: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, language: str, locales_dir: Path | None = None) -> Catalogue:
        if language not in LANGUAGES:
            raise ValueError(f"unsupported language {language!r}; use one of {LANGUAGES}")
        texts: dict[str, str] = {}
        for path in sorted(((locales_dir or LOCALES_DIR) / language).glob("*.toml")):
            with path.open("rb") as handle:
                data = tomllib.load(handle)
            _flatten(path.stem, data, texts)
        _name_added_detectors(texts)
        return cls(language, texts)

    def text(self, key: str, **values: object) -> str:
        try:
            template = self.texts[key]
        except KeyError:
            raise MissingText(f"no {self.language} text for {key!r}") from None
        return template.format(**values) if values else template

    def section(self, prefix: str) -> dict[str, str]:
        """All texts under ``prefix.`` without it: handy to send to a web page."""
        start = prefix + "."
        return {k[len(start) :]: v for k, v in self.texts.items() if k.startswith(start)}


# Where a detector's name is read: the report's finding titles, the examiners' flags,
# the alerts. A detector a profile adds is named once, in detectors.toml.
DETECTOR_NAME_USES = (
    "report.rule.{kind}",
    "checklist.flag.{kind}",
    "notifications.alert_kinds.{kind}",
)


def _name_added_detectors(texts: dict[str, str]) -> None:
    """``detectors.<kind>.name`` stands for the kind wherever a kind is named."""
    for key, name in list(texts.items()):
        prefix, _, rest = key.partition(".")
        kind, _, field = rest.rpartition(".")
        if prefix == "detectors" and field == "name" and kind:
            for use in DETECTOR_NAME_USES:
                texts.setdefault(use.format(kind=kind), name)


def _flatten(prefix: str, data: dict, into: dict[str, str]) -> None:
    for key, value in data.items():
        full = f"{prefix}.{key}"
        if isinstance(value, dict):
            _flatten(full, value, into)
        else:
            into[full] = str(value)
