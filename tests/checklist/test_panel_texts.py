"""Every text the checklist panel can show exists in Russian and in English, so no key or
code ever reaches a screen: the keys written in checklist.js, and every value the bot can
send into a key made at run time (step kinds, statuses, outcomes, automatic summaries and
failures, flag kinds, recorded sources)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from proctorbot.checklist.records import ExamMode, RunOutcome, StepKind, StepStatus
from proctorbot.config.catalogue import Catalogue
from proctorbot.detection.events import EventKind

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "conference/static/areas/checklist.js"


def _summaries_the_checks_give() -> set[str]:
    """Every summary / problem / failure string the bot's checks and machine produce."""
    found: set[str] = set()
    checks = (REPO / "checklist/checks.py").read_text(encoding="utf-8")
    found |= set(re.findall(r'AutoResult\(\s*(?:True|False)\s*,\s*[^,]+,\s*"(\w+)"', checks))
    found |= set(re.findall(r'problems\.append\("(\w+)"\)', checks))
    found |= set(re.findall(r'AutoResult\.unavailable\("(\w+)"', checks))
    runner = (REPO / "checklist/runner.py").read_text(encoding="utf-8")
    found |= set(re.findall(r'AutoResult\.unavailable\("(\w+)"', runner))
    machine = (REPO / "checklist/machine.py").read_text(encoding="utf-8")
    found |= set(re.findall(r'failure = "(\w+)"', machine))
    found |= set(re.findall(r'_fail_attempt\(\s*step,\s*"(\w+)"', machine))
    found |= set(re.findall(r'or "(\w+)"', machine))
    return found


def keys_the_panel_uses() -> set[str]:
    script = SCRIPT.read_text(encoding="utf-8")
    used = set(re.findall(r'\bt(?:Or)?\("([\w.]+)"', script))
    used |= set(re.findall(r'\btOr\([^,]+,\s*"([\w.]+)"', script))
    used |= set(re.findall(r'\bt\(\w+ \? "([\w.]+)" : "([\w.]+)"', script)[0])
    used |= {f"step.{k}.{part}" for k in StepKind for part in ("title", "instruction")}
    used |= {f"status.{s}" for s in StepStatus}
    used |= {f"outcome.{o}" for o in RunOutcome} | {"outcome.session_ended"}
    used |= {f"mode.{m}" for m in ExamMode}
    used |= {f"auto.{s}" for s in _summaries_the_checks_give()}
    used |= {f"flag.{k}" for k in EventKind}
    used |= {f"source.{s}" for s in ("camera", "microphone", "screen")}
    return used


def test_the_walk_finds_what_the_panel_uses() -> None:
    used = keys_the_panel_uses()
    # a few of each kind, so a broken pattern cannot pass by finding nothing
    for key in (
        "panel.title",
        "detail.fps_low",
        "detail.coverage",
        "detail.read_name",
        "flag_detail.duration",
        "auto.low_fps",
        "auto.poor_network",
        "auto.room_not_covered",
        "auto.name_mismatch",
        "auto.timeout",
        "flag.frozen_video",
        "panel.snapshot",
    ):
        assert key in used, key


@pytest.mark.parametrize("language", ["ru", "en"])
def test_every_key_the_panel_uses_exists(language: str) -> None:
    texts = Catalogue.load(language).section("checklist")
    missing = sorted(key for key in keys_the_panel_uses() if key not in texts)
    assert not missing, f"{language}: {missing}"


def test_ru_and_en_have_the_same_keys() -> None:
    ru = Catalogue.load("ru").section("checklist")
    en = Catalogue.load("en").section("checklist")
    assert set(ru) == set(en)
    assert all(value.strip() for value in [*ru.values(), *en.values()])


def test_the_panel_never_shows_a_missing_glyph() -> None:
    """The evidence link was "⧉", a glyph the fonts `make setup` installs do not have
    (an empty box on screen): every non-ASCII character of the page's script and texts
    must be in DejaVu Sans (fonts-dejavu-core)."""
    fonttools = pytest.importorskip("fontTools.ttLib")
    font_path = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    if not font_path.is_file():
        pytest.skip("fonts-dejavu-core is not installed (make setup installs it)")
    cmap = fonttools.TTFont(str(font_path)).getBestCmap()
    sources = [
        SCRIPT.read_text(encoding="utf-8"),
        (REPO / "conference/static/call.js").read_text(encoding="utf-8"),
        *Catalogue.load("ru").section("checklist").values(),
        *Catalogue.load("en").section("checklist").values(),
        *Catalogue.load("ru").section("conference").values(),
        *Catalogue.load("en").section("conference").values(),
    ]
    shown = {ch for text in sources for ch in text if ord(ch) > 127 and not ch.isspace()}
    # emoji of the Telegram notices are not page texts
    shown = {ch for ch in shown if ord(ch) < 0x1F000}
    missing = sorted(f"{ch} U+{ord(ch):04X}" for ch in shown if ord(ch) not in cmap)
    assert not missing, missing
