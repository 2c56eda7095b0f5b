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


def test_players_prefer_browser_playable_media(tmp_path: Path) -> None:
    from proctorbot.report.build import choose_players
    from proctorbot.report.session_files import MediaFile, Participant, SessionFolder

    folder = SessionFolder(path=tmp_path, session_id="s")
    folder.participants = [
        Participant("p1", "student", "Анна"),
        Participant("p2", "examiner", "Пётр"),
    ]
    folder.media = [
        MediaFile("p1/video-0-0000.ivf", "video", "p1", "student", 0, 10),  # not for browsers
        MediaFile("p1/audio-0-0000.ogg", "audio", "p1", "student", 0, 10),
        MediaFile("p1/audio-0-0001.ogg", "audio", "p1", "student", 10, 10),
        MediaFile("p1/analysis-16k.wav", "analysis", "p1", "student", 0, 20),
        MediaFile("p2/audio-0-0000.ogg", "audio", "p2", "examiner", 0, 20, status="damaged"),
        MediaFile("composite.mp4", "composite", "*", "*", 0, 20),
    ]
    players, unplayable = choose_players(folder)
    by_participant = {p.participant: p for p in players}
    student = by_participant["p1"]
    assert student.element == "audio"
    assert [s.src for s in student.segments] == ["p1/audio-0-0000.ogg", "p1/audio-0-0001.ogg"]
    assert [s.offset for s in student.segments] == [0, 10]
    assert by_participant["*"].element == "video" and by_participant["*"].label == ""
    assert "p2" not in by_participant
    assert {m.path for m in unplayable} == {"p1/video-0-0000.ivf", "p2/audio-0-0000.ogg"}
