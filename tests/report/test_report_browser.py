"""The session report rendered from a real fixture session, driven in headless Chromium."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from proctorbot.config.profiles import load_profile
from proctorbot.report.build import build_report
from proctorbot.report.output import write_report
from proctorbot.report.pdf import CHROMIUM_ARGS, chromium_path

from tests.report.fixture_session import make_session

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

needs_tools = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or chromium_path() is None,
    reason="ffmpeg and chromium are needed (make setup installs them)",
)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("recordings")
    folder = make_session(root)
    report = build_report(folder, load_profile("university-admission"))
    return report, write_report(report, pdf=True)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=chromium_path(), args=list(CHROMIUM_ARGS)
        )
        yield instance
        instance.close()


@needs_tools
def test_report_page_in_chromium(written, browser, tmp_path: Path) -> None:
    report, out = written
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(out.html.as_uri())
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert (tmp_path / "report.png").stat().st_size > 10_000

    # The timeline: one speech row per participant with speech drawn, findings as markers.
    rows = page.locator("svg.timeline .speech-row")
    assert rows.count() == 2
    student_row = page.locator('svg.timeline .speech-row[data-participant="p-student"]')
    assert student_row.locator("rect.speech").count() == 2  # tone at 2–6 s and 12–15 s
    markers = page.locator("svg.timeline a.marker")
    assert markers.count() == len(report.findings) == 3
    assert page.locator("svg.timeline a.marker.severity-violation").count() == 2

    # Clicking a finding marker seeks the student's player.
    video = page.locator('.player[data-participant="p-student"] video')
    video.evaluate(
        "v => new Promise(r => v.readyState >= 1 ? r() : v.addEventListener('loadedmetadata', r))"
    )
    assert video.evaluate("v => v.currentTime") == 0
    page.locator("svg.timeline a.marker.severity-violation").nth(1).click()
    page.wait_for_function(
        "() => document.querySelector('.player[data-participant=\"p-student\"] video').currentTime > 8"
    )
    assert video.evaluate("v => v.currentTime") == pytest.approx(9.0, abs=0.5)
    # ... and the jump button next to a finding does too.
    page.locator("tr.finding button.jump").first.click()
    page.wait_for_function(
        "() => Math.abs(document.querySelector('.player[data-participant=\"p-student\"] video').currentTime - 4) < 0.5"
    )

    # Links: media, evidence and documents all resolve to files that exist.
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    files = [h for h in hrefs if not h.startswith("#")]
    assert "../student.webm" in files and "../evidence/voice-4.ogg" in files
    assert {"protocol.pdf", "act-termination.pdf", "act-annulment.pdf", "report.pdf"} <= set(files)
    for href in files:
        assert (out.html.parent / href).resolve().is_file(), href

    # What could not be read is said, and what exists is still shown.
    problems = page.locator("ul.problems li")
    keys = problems.evaluate_all("els => els.map(e => e.dataset.key)")
    assert "evidence_missing" in keys and "event_unreadable" in keys
    assert page.locator(".evidence-missing").count() == 1
    assert page.locator("img.evidence").count() == 2  # the ID photo and the extra person

    # The student's words during the other-voice finding are quoted as its evidence.
    voice_row = page.locator("tr.finding").first
    assert "интегралы" in voice_row.locator("q.said").first.inner_text()

    # Transcript with speaker labels, checklist, score.
    assert "Петров Пётр Петрович (экзаменатор)" in page.locator(".transcript").inner_text()
    assert page.locator('table.checklist tr[data-step="desk"]').inner_text().count("книга убрана")
    assert page.locator(".score").get_attribute("data-score") == str(report.score.value)
    assert "дано" in page.locator(".consent").inner_text()
    assert page.locator("table.deductions tr").count() == 3
    assert errors == []
    page.close()


@needs_tools
def test_report_and_acts_pdf_text(written) -> None:
    from pypdf import PdfReader

    report, out = written
    text = "\n".join(page.extract_text() for page in PdfReader(out.pdf).pages)
    assert "Отчёт о сеансе" in text and "Иванова Анна Сергеевна" in text
    assert f"{report.score.value} / 100" in text
    assert "Посторонний голос" in text
    termination = "\n".join(
        p.extract_text() for p in PdfReader(out.documents["termination_act"]).pages
    )
    assert "АКТ О ПРЕКРАЩЕНИИ" in termination.upper()
    assert "Иванова Анна Сергеевна" in termination and "4.10" in termination
    assert "Посторонний в кадре" in termination
    annulment = "\n".join(p.extract_text() for p in PdfReader(out.documents["annulment_act"]).pages)
    assert "АННУЛИРОВАНИИ" in annulment.upper() and "4.11" in annulment
    protocol = "\n".join(p.extract_text() for p in PdfReader(out.documents["protocol"]).pages)
    assert "ПРОТОКОЛ УСТНОГО" in protocol.upper() and "подтверждена" in protocol
    assert "Иванова Анна Сергеевна" in protocol and "Посторонний голос" in protocol


@needs_tools
def test_damaged_and_missing_recordings_are_reported(tmp_path: Path) -> None:
    folder = make_session(tmp_path)
    (folder / "examiner.ogg").write_bytes(b"OggS\x00garbage" * 50)  # damaged
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"].append(
        {
            "path": "lost.webm",
            "kind": "video",
            "participant": "p-examiner",
            "role": "examiner",
            "started_at": manifest["started_at"],
            "duration": 5,
        }
    )
    (folder / "manifest.json").write_text(json.dumps(manifest))
    report = build_report(folder, load_profile("university-admission"))
    keys = [p.key for p in report.folder.problems]
    assert "recording_damaged" in keys and "recording_missing" in keys
    assert [p.participant for p in report.players] == ["p-student"]  # what exists still plays
    assert {m.status for m in report.unplayable} == {"damaged", "missing"}
    out = write_report(report)
    html = out.html.read_text(encoding="utf-8")
    assert "Запись повреждена" in html and "Файла записи нет" in html
    assert "student.webm" in html
    assert (folder / "examiner.ogg").exists()  # nothing is deleted or rewritten
