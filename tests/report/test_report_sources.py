"""The student's other sources in the report [issue 17]: the screen's snapshots listed
(page and JSON) and reachable through the dashboard like other evidence; the screen share
stopping, the phone disconnecting and the phone showing nothing (face down) as lines in
words under the timeline, in both languages, with no track id or key shown."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import cv2
import numpy as np
from aiohttp.test_utils import TestClient
from proctorbot.config.profiles import load_profile
from proctorbot.report.build import build_report
from proctorbot.report.output import write_report
from proctorbot.report.service import rebuild_report

from tests.report.test_dashboard import World, client, sign_in, world  # noqa: F401 - fixtures

STARTED_AT = 1_780_000_000.0
NAME = "Иванова Анна Сергеевна"
SCREEN, PHONE = "student-p1-screen", "student-p1-phone"


def snapshot(folder: Path, track: str, minutes: int, seconds: int) -> str:
    relative = f"evidence/screen/{track}-{minutes:03d}m{seconds:02d}s.jpg"
    (folder / relative).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(folder / relative), np.full((90, 160, 3), 200, dtype=np.uint8))
    return relative


def add_sources(folder: Path) -> list[str]:
    """The phone and the screen beside the student's laptop in a session folder: the screen
    stops 30-45 s, the phone leaves 50-60 s and lies face down 70-90 s; two snapshots."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest_path = folder / "manifest.json"
    manifest = (
        json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest_path.exists()
        else {"session_id": folder.name, "participants": [], "files": [], "gaps": []}
    )
    manifest.setdefault("started_at", STARTED_AT)
    manifest.setdefault("ended_at", STARTED_AT + 120.0)
    start = float(manifest["started_at"])
    for key in ("student-p1", PHONE, SCREEN):
        manifest["participants"].append(
            {"participant": key, "role": "student", "name": NAME, "joined_at": start}
        )
    manifest["gaps"] += [
        {"participant": SCREEN, "start": start + 30, "end": start + 45, "reason": "left"},
        {"participant": PHONE, "start": start + 50, "end": start + 60, "reason": "left"},
    ]
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    events = [
        {"kind": "participant_left", "start": 30, "end": 45, "track": SCREEN, "details": {}},
        {"kind": "participant_left", "start": 50, "end": 60, "track": PHONE, "details": {}},
        {"kind": "black_video", "start": 70, "end": 75, "track": PHONE, "details": {"open": 1}},
        {"kind": "black_video", "start": 70, "end": 90, "track": PHONE, "details": {}},
    ]
    with (folder / "events.jsonl").open("a", encoding="utf-8") as out:
        out.writelines(json.dumps(event) + "\n" for event in events)
    return [snapshot(folder, SCREEN, 0, 0), snapshot(folder, SCREEN, 0, 30)]


class VisibleText(HTMLParser):
    """What a person reads: text outside scripts and styles, the timeline's hover titles."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self._skip += tag in ("script", "style")
        self.parts += [value for name, value in attrs if name == "alt" and value]

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("script", "style")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    return " ".join(parser.parts)


def english_profile(tmp_path: Path):
    source = Path(load_profile.__code__.co_filename).parent / "profiles" / "examus-like.toml"
    custom = tmp_path / "english.toml"
    custom.write_text(
        source.read_text(encoding="utf-8").replace('language = "ru"', 'language = "en"')
    )
    return load_profile(custom)


def test_screen_snapshots_and_source_gaps_in_words_in_both_languages(tmp_path: Path) -> None:
    expected = {
        "ru": (
            "Демонстрация экрана остановлена",
            "Камера телефона отключена",
            "Камера телефона: чёрное изображение",
            "Снимки экрана (2)",
            f"{NAME} · экран",
            f"{NAME} · камера телефона",
        ),
        "en": (
            "Screen sharing stopped",
            "Phone camera disconnected",
            "Phone camera: black picture",
            "Screen snapshots (2)",
            f"{NAME} · screen",
            f"{NAME} · phone camera",
        ),
    }
    for language, profile in (
        ("ru", load_profile("examus-like")),
        ("en", english_profile(tmp_path)),
    ):
        folder = tmp_path / f"s-{language}"
        shots = add_sources(folder)
        written = write_report(build_report(folder, profile, probe=False))
        html = written.html.read_text(encoding="utf-8")
        text = visible(html)
        for words in expected[language]:
            assert words in text, (language, words)
        for shot in shots:
            assert f'src="../{shot}"' in html and f'href="../{shot}"' in html
        lines = re.findall(r'<tr class="interruption" data-device="(\w+)" data-cause="(\w+)"', html)
        assert lines == [("screen", "left"), ("phone", "left"), ("phone", "black_video")]
        # the timeline's hatched gap says what it is on hover
        svg = html.split('<svg class="timeline"')[1].split("</svg>")[0]
        assert expected[language][0] in svg and expected[language][2] in svg
        assert svg.count('class="gap no-picture"') == 1  # the phone face down, on its row
        # no track id, reason code or catalogue key in front of people
        for raw in ("student-p1", "participant_left", "black_video", "gap.", "device.", "report."):
            assert raw not in text, (language, raw)

        data = json.loads(written.data.read_text(encoding="utf-8"))
        assert [s["path"] for s in data["screen_snapshots"]] == shots
        assert [s["t"] for s in data["screen_snapshots"]] == [0.0, 30.0]
        assert [(g["device"], g["cause"], g["start"], g["end"]) for g in data["interruptions"]] == [
            ("screen", "left", 30.0, 45.0),
            ("phone", "left", 50.0, 60.0),
            ("phone", "black_video", 70.0, 90.0),
        ]
        assert data["interruptions"][0]["text"] == expected[language][0]
        rules = {f["rule"] for f in data["findings"]}
        assert {"screen_stopped", "phone_away"} <= rules and "technical_interruption" not in rules


async def test_screen_snapshots_are_reached_from_the_dashboards_report(
    client: TestClient,  # noqa: F811 - the fixture
    world: World,  # noqa: F811
    app_context,
) -> None:
    folder = app_context.settings.recordings_dir / world.session
    shots = add_sources(folder)
    rebuild_report(app_context, world.session)
    await sign_in(client)
    page = f"/dashboard/sessions/{world.session}/files/report/report.html"
    report = await client.get(page)
    html = await report.text()
    assert report.status == 200 and "Снимки экрана (2)" in html
    for shot in shots:
        link = urljoin(page, f"../{shot}")
        assert link == f"/dashboard/sessions/{world.session}/files/{shot}"
        answer = await client.get(link)
        assert answer.status == 200 and answer.content_type == "image/jpeg"
