"""Write a built report into ``<session>/report/``: HTML, JSON, documents, PDFs.

Writes go to a temporary name and are renamed into place, so a reader (the
dashboard, a download link) never sees half a file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from proctorbot.config.catalogue import Catalogue
from proctorbot.report.acts import render_documents
from proctorbot.report.build import SessionReport
from proctorbot.report.html import render_report_html
from proctorbot.report.pdf import html_to_pdf
from proctorbot.report.sources import source_interruptions
from proctorbot.storage.session_folder import REPORT_DIR

# The page's script, a file of its own next to it: the server's Content-Security-Policy
# runs no inline script, and the folder still works opened from a disk.
PAGE_SCRIPT = Path(__file__).parent / "static" / "report.js"


@dataclass(frozen=True)
class WrittenReport:
    html: Path
    data: Path
    pdf: Path | None = None
    documents: dict[str, Path] = field(default_factory=dict)  # key → file (PDF or HTML)


def _write_text(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def report_data(report: SessionReport) -> dict:
    """The machine-readable twin of the page (other areas and exports read it)."""
    texts = Catalogue.load(report.language)
    return {
        "session_id": report.session_id,
        "profile": report.profile.name,
        "generated_at": report.generated_at.isoformat(),
        "duration": report.folder.duration,
        "score": report.score.value,
        "verdict": report.score.verdict,
        "deductions": [
            {
                "points": d.points,
                "rule": d.rule,
                "finding_id": d.finding_id,
                "step": d.step,
                "dismissed": d.dismissed,
                "capped": d.capped,
            }
            for d in report.score.deductions
        ],
        "findings": [f.to_json() for f in report.findings],
        # The student's sources: each interruption in words, the screen's snapshots.
        "interruptions": [
            item.to_json() for item in source_interruptions(report.folder, texts.section("report"))
        ],
        "screen_snapshots": [
            {"path": shot.path, "track": shot.track, "t": shot.t}
            for shot in report.folder.screen_snapshots
        ],
        "decisions": {
            key: {"decision": d.decision, "reason": d.reason, "decided_by": d.decided_by}
            for key, d in report.decisions.items()
        },
        "problems": [
            {"key": p.key, "path": p.path, "detail": p.detail} for p in report.folder.problems
        ],
    }


def write_report(report: SessionReport, *, pdf: bool = False) -> WrittenReport:
    """The page and its JSON always; the PDFs (report and documents) when ``pdf``."""
    out = report.folder.path / REPORT_DIR
    out.mkdir(parents=True, exist_ok=True)
    documents: dict[str, Path] = {}
    to_print: list[tuple[Path, Path]] = []
    for document in render_documents(report):
        html_path = out / f"{document.stem}.html"
        _write_text(html_path, document.html)
        documents[document.key] = html_path
        if pdf:
            to_print.append((html_path, out / f"{document.stem}.pdf"))
            documents[document.key] = out / f"{document.stem}.pdf"
    if not pdf:
        # PDFs from an earlier build would no longer match (decisions change acts): remove.
        for stale in out.glob("*.pdf"):
            stale.unlink(missing_ok=True)
    links = {key: path.name for key, path in documents.items()}
    if pdf:
        links["pdf"] = "report.pdf"
    _write_text(out / PAGE_SCRIPT.name, PAGE_SCRIPT.read_text(encoding="utf-8"))
    html_path = out / "report.html"
    _write_text(html_path, render_report_html(report, links))
    data_path = out / "report.json"
    _write_text(data_path, json.dumps(report_data(report), ensure_ascii=False, indent=2))
    pdf_path = None
    if pdf:
        # Print to temporary names, then rename: a failed print leaves the old PDFs.
        staged = [(html, target.with_name(target.stem + ".tmp.pdf")) for html, target in to_print]
        staged.append((html_path, out / "report.tmp.pdf"))
        html_to_pdf(staged)
        for _html, temporary in staged:
            os.replace(temporary, temporary.with_name(temporary.name.replace(".tmp.pdf", ".pdf")))
        pdf_path = out / "report.pdf"
    return WrittenReport(html=html_path, data=data_path, pdf=pdf_path, documents=documents)
