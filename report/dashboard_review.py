"""What the dashboard's session page shows to review each finding in one place.

For each finding that counts: its time in the one convention (minutes:seconds from the
start of the recording, the exam day's clock beside it), its kind and reason in words,
whom it concerns, its snapshot or clip inline, the decision so far; and one player of
the session's recording (the composite of everyone, else the student's own track) that
``report/static/session.js`` seeks to a finding's time ("play from here"). Every file is
served by the authenticated route ``/dashboard/sessions/<id>/files/<path>``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import quote

from proctorbot.config.catalogue import Catalogue
from proctorbot.report.build import SessionReport
from proctorbot.report.html import evidence_kind, finding_text, report_clock
from proctorbot.rules.findings import Decision, Finding


@dataclass(frozen=True)
class EvidenceView:
    url: str
    kind: str  # image | audio | video | file
    label: str  # "Snapshot" / "Clip", never the file's path


@dataclass(frozen=True)
class FindingView:
    finding: Finding
    title: str  # the rule and the reason in words
    severity: str
    who: str  # the person it concerns: name (role)
    offset: str  # "12:34–12:45"
    clock: str  # "11:44:05–11:44:16" on the exam day's clock, "" when unknown
    evidence: tuple[EvidenceView, ...]
    decision: Decision | None


@dataclass(frozen=True)
class RecordingView:
    element: str  # video | audio
    src: str  # the first segment's URL
    segments_json: str  # [{"src", "offset", "duration"}]: the player follows them as one
    label: str


@dataclass(frozen=True)
class ReviewPage:
    items: list[FindingView] = field(default_factory=list)
    recording: RecordingView | None = None
    legend: str = ""
    time_column: str = ""
    clock_column: str = ""


def file_url(session_id: str, relative: str) -> str:
    return f"/dashboard/sessions/{quote(session_id)}/files/{quote(relative)}"


def review_page(
    report: SessionReport | None, catalogue: Catalogue, session_id: str, student_name: str = ""
) -> ReviewPage:
    if report is None:
        return ReviewPage()
    clock = report_clock(report)
    folder = report.folder
    items = []
    for finding in report.findings:
        if not finding.counts:
            continue
        evidence = tuple(
            EvidenceView(
                file_url(session_id, path),
                evidence_kind(path),
                catalogue.text(
                    "report.review.snapshot"
                    if evidence_kind(path) == "image"
                    else "report.review.clip"
                ),
            )
            for path in finding.evidence
            if folder.evidence_exists(path)
        )
        items.append(
            FindingView(
                finding=finding,
                title=finding_text(catalogue, finding),
                severity=catalogue.text(f"report.severity.{finding.severity}"),
                who=_who(report, catalogue, finding.track, student_name),
                offset=f"{clock.offset(finding.start)}–{clock.offset(finding.end)}",
                clock=(
                    f"{clock.wall(finding.start)}–{clock.wall(finding.end)}"
                    if clock.started_at is not None
                    else ""
                ),
                evidence=evidence,
                decision=report.decisions.get(finding.id),
            )
        )
    zone = clock.zone
    return ReviewPage(
        items=items,
        recording=_recording(report, catalogue, session_id),
        legend=catalogue.text("report.when.legend", zone=zone),
        time_column=catalogue.text("report.when.column"),
        clock_column=catalogue.text("report.when.clock_column", zone=zone),
    )


def _recording(
    report: SessionReport, catalogue: Catalogue, session_id: str
) -> RecordingView | None:
    """The composite when there is one, else the student's own recording."""
    players = report.players  # composite first, then the student (report/build.py)
    if not players:
        return None
    player = players[0]
    segments = [
        {"src": file_url(session_id, s.src), "offset": s.offset, "duration": s.duration}
        for s in player.segments
    ]
    label = player.label or catalogue.text("report.composite")
    return RecordingView(player.element, segments[0]["src"], json.dumps(segments), label)


def _who(report: SessionReport, catalogue: Catalogue, track: str, student_name: str) -> str:
    """Name and role of the track's person; a participant id is never shown."""
    folder = report.folder
    role = folder.role_of(track) or (track.partition("-")[0] if "-" in track else "student")
    name = next((p.name for p in folder.participants if p.participant == track and p.name), "")
    if not name and role == "student":
        name = student_name
    role_text = catalogue.texts.get(f"report.roles.{role}", "")
    if name and role_text:
        return f"{name} ({role_text})"
    return name or role_text
