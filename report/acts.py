"""Seed 004's documents, pre-filled in Russian: the oral exam protocol (§4.14), the act
of termination (Appendix Б, §4.10) and the act of annulment (Appendix В, §4.11).

They are rendered as HTML here and printed to PDF by report/pdf.py; the committee
signs the printout. Dismissed findings never appear in an act.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from proctorbot.config.catalogue import Catalogue
from proctorbot.report.build import SessionReport
from proctorbot.report.html import finding_text, report_clock, template_environment
from proctorbot.storage.session_time import offset_text

MONTHS = (
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
)
# Document key (also the catalogue key of its title) → template and output file name.
DOCUMENTS = {
    "protocol": ("protocol.html", "protocol"),
    "termination_act": ("termination_act.html", "act-termination"),
    "annulment_act": ("annulment_act.html", "act-annulment"),
}


@dataclass(frozen=True)
class RenderedDocument:
    key: str
    stem: str  # file name without suffix, in the report folder
    html: str


def enabled_documents(report: SessionReport) -> list[str]:
    settings = report.profile.documents
    return [key for key in DOCUMENTS if getattr(settings, key)]


def render_documents(report: SessionReport) -> list[RenderedDocument]:
    env = template_environment()
    context = _context(report)
    documents = []
    for key in enabled_documents(report):
        template, stem = DOCUMENTS[key]
        values = dict(context)
        if key == "termination_act":
            values["findings"] = context["violations"]
        elif key == "annulment_act":
            values["findings"] = context["gross"] or context["violations"]
        documents.append(RenderedDocument(key, stem, env.get_template(template).render(**values)))
    return documents


def document_time(report: SessionReport) -> dt.datetime:
    """The start of the recording (else the scheduled start) in the exam day's time zone:
    the origin of every time in the documents (storage/session_time.py)."""
    when = report.info.starts_at
    if report.folder.started_at is not None:
        when = dt.datetime.fromtimestamp(report.folder.started_at, dt.UTC)
    when = when or report.generated_at
    try:
        return when.astimezone(ZoneInfo(report.info.timezone))
    except (ZoneInfoNotFoundError, ValueError):
        return when


def _context(report: SessionReport) -> dict[str, Any]:
    catalogue = Catalogue.load("ru")
    t = catalogue.section("report")
    info = report.info
    when = document_time(report)
    clock = report_clock(report)
    rows = []
    for finding in report.counted_findings:
        decision = report.decisions.get(finding.id)
        rows.append(
            {
                "finding": finding,
                "time": f"{offset_text(finding.start)}–{offset_text(finding.end)}",
                "clock": (
                    f"{clock.wall(finding.start)}–{clock.wall(finding.end)}"
                    if clock.started_at is not None
                    else ""
                ),
                "text": finding_text(catalogue, finding),
                "severity": t[f"severity.{finding.severity}"],
                "decision": (
                    t["pending"]
                    if decision is None
                    else t["accepted"]
                    if not decision.dismissed
                    else f"{t['dismissed']}: {decision.reason}"
                ),
                "dismissed": bool(decision and decision.dismissed),
                "evidence": ", ".join(finding.evidence),
            }
        )
    kept = [row for row in rows if not row["dismissed"]]
    student = info.student_name or next(
        (p.name for p in report.folder.participants if p.role == "student"), ""
    )
    checklist = report.folder.checklist or {}
    outcome = str(checklist.get("outcome", ""))
    identity = "не проводилась"
    for step in checklist.get("steps", []) or []:
        if isinstance(step, dict) and step.get("kind") == "id_document":
            status = str(step.get("status", ""))
            identity = {
                "passed": "подтверждена",
                "overridden": "подтверждена экзаменатором",
                "failed": "не подтверждена",
            }.get(status, t.get(f"step_status.{status}", status))
    return {
        "number": report.session_id,
        "session_id": report.session_id,
        "generated": report.generated_at.strftime("%d.%m.%Y %H:%M UTC"),
        "date": when.strftime("%d.%m.%Y"),
        "day": when.strftime("%d"),
        "month": MONTHS[when.month - 1],
        "year": when.strftime("%Y"),
        "time_from": when.strftime("%H:%M"),
        "time_to": (when + dt.timedelta(seconds=report.folder.duration)).strftime("%H:%M"),
        "duration": offset_text(report.folder.duration),
        "zone": clock.zone,
        "time_header": t["when.column"],
        "clock_header": (
            t["when.clock_column"].format(zone=clock.zone) if clock.started_at is not None else ""
        ),
        "exam_title": info.title or report.profile.title,
        "student": student or "________________",
        "group": info.student_group,
        "examiners": ", ".join(info.examiners),
        "profile_title": report.profile.title,
        "institution": report.profile.documents.institution or "приемной комиссией",
        "regulation": report.profile.documents.regulation or "порядка проведения испытаний",
        "identity": identity,
        "checklist_outcome": t.get(f"run_outcome.{outcome}", outcome) or "нет данных",
        "score": report.score.value,
        "findings": rows,
        "violations": [r for r in kept if r["finding"].severity in ("violation", "gross")],
        "gross": [r for r in kept if r["finding"].severity == "gross"],
    }
