"""The report from folders without a browser: bare folders, other languages."""

from __future__ import annotations

import json
from pathlib import Path

from proctorbot.config.profiles import load_profile
from proctorbot.report.build import build_report
from proctorbot.report.output import write_report

from tests.report.fixture_session import make_session


def test_folder_without_manifest_or_media(tmp_path: Path) -> None:
    folder = tmp_path / "bare"
    folder.mkdir()
    (folder / "events.jsonl").write_text(
        json.dumps({"kind": "person_replaced", "start": 1, "end": 2, "track": "x"}) + "\n"
    )
    report = build_report(folder, load_profile("examus-like"), probe=False)
    assert [f.severity for f in report.findings] == ["gross"]
    assert "manifest_missing" in [p.key for p in report.folder.problems]
    out = write_report(report)
    assert "Подмена обучающегося" in out.html.read_text(encoding="utf-8")


def test_report_in_english_when_the_profile_says_so(tmp_path: Path) -> None:
    source = Path(load_profile.__code__.co_filename).parent / "profiles" / "examus-like.toml"
    custom = tmp_path / "english.toml"
    custom.write_text(
        source.read_text(encoding="utf-8").replace('language = "ru"', 'language = "en"')
    )
    folder = make_session(tmp_path, "en01", media=False)
    report = build_report(folder, load_profile(custom), probe=False)
    html = write_report(report).html.read_text(encoding="utf-8")
    assert "Session report" in html and "Another voice" in html and 'lang="en"' in html
    # The seed-004 documents stay in Russian whatever the page's language.
    act = (folder / "report" / "act-termination.html").read_text(encoding="utf-8")
    assert "АКТ О ПРЕКРАЩЕНИИ" in act.upper() or "Акт о прекращении" in act
