"""A new detector in four files: its code, its line in a rule profile, its name in Russian
and in English (docs/architecture.md, "Adding a detector"). Here a stand-in "phone on the
desk" (a red block low in the picture) goes live: the live watch runs it on the student's
frames, its events reach events.jsonl and the rule engine, the finding is alerted while it
lasts with the profile's severity, and people read its name, never its kind."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest
from proctorbot.bot.live_watch import LiveDetectors, LiveWatch, LiveWatchOptions
from proctorbot.bot.peers import PeerInfo
from proctorbot.config import catalogue
from proctorbot.config.profiles import PROFILES_DIR, load_profile

from tests.bot.handover_helpers import FakeSessionBot, ListSink

pytestmark = [pytest.mark.timeout(120)]

DETECTOR = '''
    """A phone on the desk: a bright red block in the lower third of the picture."""
    import numpy as np
    from proctorbot.detection.frame_detectors import ConditionSpans


    class PhoneOnDesk:
        def __init__(self, *, kind: str, track: str, min_seconds: float) -> None:
            self.spans = ConditionSpans(kind, track, min_seconds)

        def feed(self, t: float, frame: np.ndarray) -> list:
            low = frame[frame.shape[0] * 2 // 3 :].astype(int)
            red = (low[..., 2] > 200) & (low[..., 1] < 60) & (low[..., 0] < 60)
            return self.spans.update(t, holds=bool(red.mean() > 0.01))

        def finish(self, t: float) -> list:
            return self.spans.finish(t)
'''
PROFILE_LINE = """
[[detectors]]
kind = "phone_on_desk"
detector = "phone_on_desk:PhoneOnDesk"
min_seconds = 2
severity = "violation"
"""
NAMES = {"ru": "Телефон на столе", "en": "Phone on the desk"}
STUDENT, EXAMINER = "peer-student", "peer-examiner"


def frames(seconds: float, phone: tuple[float, float], fps: float = 2.0):
    desk = np.full((480, 640, 3), 110, np.uint8)
    with_phone = desk.copy()
    with_phone[380:440, 280:360] = (20, 20, 230)  # BGR: red
    return [
        (t, with_phone if phone[0] <= t < phone[1] else desk)
        for t in (i / fps for i in range(int(seconds * fps)))
    ]


async def test_a_detector_added_in_four_files(tmp_path: Path, monkeypatch) -> None:
    from proctorbot.detection.faces import FaceAnalyzer
    from proctorbot.report.html import finding_text

    written: list[Path] = []

    def write(path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)

    # 1. the detector's code
    write(tmp_path / "code" / "phone_on_desk.py", textwrap.dedent(DETECTOR))
    monkeypatch.syspath_prepend(str(tmp_path / "code"))
    # 2. its line in a rule profile
    preset = (PROFILES_DIR / "university-admission.toml").read_text(encoding="utf-8")
    write(tmp_path / "profile.toml", preset + PROFILE_LINE)
    # 3, 4. its name for people, in each language
    locales = tmp_path / "locales"
    shutil.copytree(catalogue.LOCALES_DIR, locales)
    for language, name in NAMES.items():
        path = locales / language / "detectors.toml"
        write(path, path.read_text(encoding="utf-8") + f'\n[phone_on_desk]\nname = "{name}"\n')
    monkeypatch.setattr(catalogue, "LOCALES_DIR", locales)
    assert len(written) == 4, "four files and nothing else"

    profile = load_profile(tmp_path / "profile.toml")
    bot = FakeSessionBot("s-phone", tmp_path / "recordings" / "s-phone", speed=4.0)
    bot.peers.update(
        {
            EXAMINER: PeerInfo(EXAMINER, "examiner", "Examiner Person", "examiner"),
            STUDENT: PeerInfo(STUDENT, "student", "Student Person", "student"),
        }
    )
    bot.video[STUDENT] = frames(12.0, phone=(3.0, 9.0))
    sink = ListSink()
    watch = LiveWatch(
        bot,
        profile=profile,
        detectors=LiveDetectors(audio_models=None, face_analyzer=FaceAnalyzer),
        alerts=sink,
        options=LiveWatchOptions(wait_for_admission=False, poll_s=0.05),
        texts=catalogue.Catalogue.load("en").text,
    )
    task = asyncio.create_task(watch.run())
    await bot.wait_media(f"video:{STUDENT}", 60)
    await asyncio.sleep(0.3)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await watch.drain()

    phones = [e for e in bot.events() if e["kind"] == "phone_on_desk"]
    assert phones and phones[0]["details"].get("open") is True, "written as soon as it counts"
    closed = [e for e in phones if not e["details"].get("open")]
    assert [(e["start"], e["end"]) for e in closed] == [(3.0, 9.0)]
    assert closed[0]["track"] == "student-student"
    [finding] = [f for f in sink.sent if f.rule == "phone_on_desk"]
    assert finding.severity == "violation" and finding.values.get("ongoing") is True
    alerts = [d for _, action, d, to in bot.panels if action == "alert" and to == EXAMINER]
    assert any(d["rule"] == "phone_on_desk" for d in alerts)
    for language, name in NAMES.items():
        texts = catalogue.Catalogue.load(language)
        assert finding_text(texts, finding).startswith(name), "the report names it"
        assert texts.section("checklist")["flag.phone_on_desk"] == name, "the examiners' flag"
        assert texts.text("notifications.alert_kinds.phone_on_desk") == name, "the alert"
