"""The session report as one self-contained HTML page (links to media are relative).

The page lies in ``<session>/report/report.html`` so ``../<file>`` reaches the
recordings and evidence both on disk and when the dashboard serves the folder.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from proctorbot.config.catalogue import Catalogue, MissingText
from proctorbot.recording.manifest import RECORDING_FAULT_REASONS as RECORDING_FAULTS
from proctorbot.report.build import EVERYONE, SessionReport
from proctorbot.report.sources import (
    gap_text,
    person_name,
    source_interruptions,
    source_label,
)
from proctorbot.report.timeline import TimelineRow, timeline_svg
from proctorbot.rules.engine import source_device
from proctorbot.rules.findings import Finding
from proctorbot.storage.session_time import SessionClock, offset_text

TEMPLATES_DIR = Path(__file__).parent / "templates"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif")
AUDIO_SUFFIXES = (".ogg", ".opus", ".wav", ".m4a", ".mp3")
VIDEO_SUFFIXES = (".webm", ".mp4")


def template_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Every time people read: minutes:seconds from the recording start (session_time.py).
    env.filters["clock"] = offset_text
    return env


def finding_text(catalogue: Catalogue, finding: Finding) -> str:
    """The rule's name and the reason in words, with the repetition note if any."""
    name = catalogue.text(f"report.rule.{finding.rule}")
    try:
        reason = catalogue.text(f"report.reason.{finding.reason}", **finding.values)
    except (MissingText, KeyError, ValueError):
        reason = ""
    if "repeat_limit" in finding.values:
        reason += "; " + catalogue.text("report.reason.repeat", **finding.values)
    return f"{name}: {reason}" if reason else name


def evidence_kind(path: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in AUDIO_SUFFIXES:
        return "audio"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    return "file"


def render_report_html(report: SessionReport, documents: Mapping[str, str] | None = None) -> str:
    """``documents``: catalogue key (protocol, termination_act ...) → file name in report/."""
    catalogue = Catalogue.load(report.language)
    t = catalogue.section("report")
    folder = report.folder
    titles = {f.id: finding_text(catalogue, f) for f in report.findings}
    rows = []
    interruptions = source_interruptions(folder, t)
    no_picture: dict[str, list[tuple[float, float, str]]] = {}
    for item in interruptions:
        if item.cause in ("black_video", "frozen_video"):
            no_picture.setdefault(item.participant, []).append((item.start, item.end, item.text))
    participants = {p.participant for p in folder.participants} | set(report.speech)
    participants |= {p.participant for p in report.players}
    for participant in sorted(participants, key=lambda p: (folder.role_of(p) != "student", p)):
        if not participant or participant == EVERYONE:
            continue
        theirs = [g for g in folder.gaps if g["participant"] == participant]
        device = source_device(participant)
        rows.append(
            TimelineRow(
                participant,
                person_name(folder, participant, t),
                report.speech.get(participant, []),
                [(g["start"], g["end"]) for g in theirs if g["reason"] not in RECORDING_FAULTS],
                [
                    (g["start"], g["end"], g["reason"])
                    for g in theirs
                    if g["reason"] in RECORDING_FAULTS
                ],
                what="" if device == "main" else t[f"device.{device}_row"],
                gap_title=gap_text(device, "left", t),
                no_picture=no_picture.get(participant, []),
            )
        )
    svg = timeline_svg(folder.duration, rows, report.findings, labels=t, finding_titles=titles)
    checklist_steps = _checklist_steps(report, catalogue)
    deductions = []
    for deduction in report.score.deductions:
        if deduction.rule == "checklist":
            step = catalogue.texts.get(f"report.step.{deduction.step}", deduction.step)
            text = catalogue.text("report.reason.checklist_step", step=step)
        else:
            text = titles.get(deduction.finding_id, deduction.rule)
        deductions.append({"deduction": deduction, "text": text})
    players = [
        {
            "player": player,
            "segments_json": json.dumps(
                [
                    {"src": "../" + s.src, "offset": s.offset, "duration": s.duration}
                    for s in player.segments
                ]
            ),
        }
        for player in report.players
    ]
    evidence = {
        f.id: [
            {"path": p, "kind": evidence_kind(p), "exists": folder.evidence_exists(p)}
            for p in f.evidence
        ]
        for f in report.findings
    }
    # Transcript lines said during a finding (±2 s) are part of its evidence.
    said = {
        f.id: [
            line
            for line in folder.transcript
            if line.end >= f.start - 2.0 and line.start <= f.end + 2.0
        ]
        for f in report.findings
    }
    problems = [
        {"text": catalogue.texts.get(f"report.problem.{p.key}", p.key), "problem": p}
        for p in folder.problems
    ]
    clock = report_clock(report)
    context: dict[str, Any] = {
        "t": t,
        "clock": clock,
        "when": _when_texts(report, clock, catalogue),
        "report": report,
        "folder": folder,
        "profile": report.profile,
        "info": report.info,
        "svg": svg,
        "interruptions": interruptions,
        "screen_snapshots": folder.screen_snapshots,
        "screen_legend": catalogue.text(
            "report.screen.legend", every=report.profile.checklist.screen_snapshot_every_s
        ),
        "source": lambda track: source_label(folder, track, t),
        "titles": titles,
        "checklist_steps": checklist_steps,
        "checklist_outcome": _checklist_outcome(report, catalogue),
        "checklist_mode": str((folder.checklist or {}).get("mode", "")),
        "consent": (folder.checklist or {}).get("consent") or None,
        "consent_at": _local_iso(((folder.checklist or {}).get("consent") or {}).get("at"), clock),
        "deductions": deductions,
        "players": players,
        "evidence": evidence,
        "said": said,
        "problems": problems,
        "documents": dict(documents or {}),
        "student_name": report.info.student_name or _student_name(report),
        "role_text": lambda role: catalogue.texts.get(f"report.roles.{role}", role),
        "speaker": lambda who: _speaker_label(report, catalogue, who),
    }
    return template_environment().get_template("report.html").render(**context)


def report_clock(report: SessionReport) -> SessionClock:
    """Event times from the recording start, clocks in the exam day's time zone."""
    return SessionClock(report.folder.started_at, report.info.timezone)


def _when_texts(report: SessionReport, clock: SessionClock, catalogue: Catalogue) -> dict:
    """The labels of the one time convention, and when the recording started."""
    zone = clock.zone
    start = clock.moment(0.0)
    if start is None and report.info.starts_at is not None:
        start = report.info.starts_at.astimezone(clock.tz)
    return {
        "column": catalogue.text("report.when.column"),
        "clock_column": catalogue.text("report.when.clock_column", zone=zone),
        "legend": catalogue.text("report.when.legend", zone=zone),
        "from_start": catalogue.text("report.when.from_start"),
        "started": f"{start.strftime('%d.%m.%Y %H:%M:%S')} ({zone})" if start else "",
    }


def _local_iso(value: Any, clock: SessionClock) -> str:
    """An ISO 8601 time of a record (UTC) on the exam day's clock, the zone named."""
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return f"{moment.astimezone(clock.tz).strftime('%d.%m.%Y %H:%M:%S')} ({clock.zone})"


def _student_name(report: SessionReport) -> str:
    for person in report.folder.participants:
        if person.role == "student":
            return person.name
    checklist = report.folder.checklist or {}
    return str(checklist.get("student_name", ""))


def _speaker_label(report: SessionReport, catalogue: Catalogue, who: str) -> str:
    role = report.folder.role_of(who)
    name = report.folder.name_of(who)
    if role:
        return f"{name} ({catalogue.texts.get(f'report.roles.{role}', role)})"
    return name or "?"


def _checklist_outcome(report: SessionReport, catalogue: Catalogue) -> str:
    checklist = report.folder.checklist
    if not checklist:
        return ""
    outcome = str(checklist.get("outcome", ""))
    return catalogue.texts.get(f"report.run_outcome.{outcome}", outcome)


def _failure_text(catalogue: Catalogue, failure: Any) -> str:
    """Why a step's last attempt failed, in words (the checklist's texts), never its code."""
    if not failure:
        return ""
    return catalogue.texts.get(f"checklist.auto.{failure}", catalogue.text("report.step_failed"))


def _checklist_steps(report: SessionReport, catalogue: Catalogue) -> list[dict[str, Any]]:
    checklist = report.folder.checklist
    if not checklist:
        return []
    steps = []
    for raw in checklist.get("steps", []) or []:
        if not isinstance(raw, dict):
            continue
        kind = str(raw.get("kind", ""))
        status = str(raw.get("status", ""))
        evidence = [str(p) for p in raw.get("evidence", []) or []]
        auto = raw.get("auto") or {}
        for path in auto.get("evidence", []) or []:
            if path not in evidence:
                evidence.append(str(path))
        steps.append(
            {
                "kind": kind,
                "name": catalogue.texts.get(f"report.step.{kind}", kind),
                "status": status,
                "status_text": catalogue.texts.get(f"report.step_status.{status}", status),
                "attempts": raw.get("attempts", ""),
                "reason": raw.get("reason") or _failure_text(catalogue, raw.get("failure")),
                "decided_by": (raw.get("decided_by") or {}).get("name", ""),
                "evidence": [
                    {
                        "path": p,
                        "kind": evidence_kind(p),
                        "exists": report.folder.evidence_exists(p),
                    }
                    for p in evidence
                ],
            }
        )
    return steps
