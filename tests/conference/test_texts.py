"""Every text the call page uses exists in Russian and in English."""

from __future__ import annotations

import re
from pathlib import Path

from proctorbot.config.catalogue import Catalogue

CONFERENCE = Path(__file__).resolve().parents[2] / "conference"


def test_ru_and_en_have_the_same_keys() -> None:
    ru = Catalogue.load("ru").section("conference")
    en = Catalogue.load("en").section("conference")
    assert set(ru) == set(en)
    assert all(value.strip() for value in [*ru.values(), *en.values()])


def test_every_key_the_page_uses_exists() -> None:
    used = set(re.findall(r'data-t="([\w.]+)"', (CONFERENCE / "templates/call.html").read_text()))
    script = (CONFERENCE / "static/call.js").read_text()
    used |= set(re.findall(r'\bt\("([\w.]+)"[,)]', script))
    used |= set(re.findall(r'setStatus\("([\w.]+)"\)', script))
    used |= set(re.findall(r'"((?:page|time|role|focus|trial)\.[\w]+)"', script))
    # the checklist panel uses the page's words for the time legend and the roles
    panel = (CONFERENCE / "static/areas/checklist.js").read_text()
    used |= set(re.findall(r'\bpb\.t\("([\w.]+)"', panel))
    used |= set(re.findall(r'"((?:page|time)\.[\w]+)"', panel))
    used |= {f"role.{role}" for role in ("student", "examiner", "expert", "organizer", "bot")}
    assert {"time.legend", "page.session_ended", "page.left_over", "page.left_call"} <= used
    assert len(used) > 15
    for language in ("ru", "en"):
        texts = Catalogue.load(language).section("conference")
        missing = sorted(key for key in used if key not in texts)
        assert not missing, f"{language}: {missing}"
