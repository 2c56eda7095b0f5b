"""The timeline as inline SVG: speech per participant, gaps, and findings as markers.

A participant's own gaps (away, connection lost) are hatched; a gap the recording caused
(no bot recording, a full disk: ``recording_gaps``) is drawn plain grey with its reason,
so nobody reads it as the participant's absence.

Each finding is an ``<a class="marker">`` with ``data-t`` (seconds) and ``data-track``;
the report's script makes a click seek that participant's player.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from proctorbot.rules.findings import Finding
from proctorbot.storage.session_time import offset_text

SEVERITY_COLOURS = {
    "note": "#9aa5b1",
    "minor": "#e0a800",
    "violation": "#e8590c",
    "gross": "#c92a2a",
}
# Shown when the catalogue has no text for a recording gap's reason.
RECORDING_GAP_TEXTS = {
    "bot_down": "not recorded: no bot (not the participant's absence)",
    "disk_full": "not recorded: disk full (not the participant's absence)",
}
WIDTH = 1000
LEFT = 190
ROW = 26
TOP = 24


@dataclass(frozen=True)
class TimelineRow:
    participant: str
    label: str
    spans: Sequence[tuple[float, float]]
    gaps: Sequence[tuple[float, float]] = ()
    # (start, end, reason): bot_down | disk_full, the recording's fault, not theirs
    recording_gaps: Sequence[tuple[float, float, str]] = ()
    # What the row shows after the name (default: speech); a person's other source says
    # which ("экран"), and its gaps say in words what they are ("Screen sharing stopped").
    what: str = ""
    gap_title: str = ""
    # (start, end, words): the source connected but showing nothing (a phone face down)
    no_picture: Sequence[tuple[float, float, str]] = ()


def short_name(full: str, limit: int = 22) -> str:
    """ "Иванова Анна Сергеевна" → "Иванова А. С." so the row label fits."""
    words = full.split()
    if len(full) <= limit or len(words) < 2:
        return full if len(full) <= limit else full[: limit - 1] + "…"
    return " ".join([words[0], *(w[0] + "." for w in words[1:3])])


def format_clock(seconds: float) -> str:
    """Minutes:seconds from the start of the recording (storage/session_time.py)."""
    return offset_text(seconds)


def _tick_step(duration: float) -> float:
    for step in (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600):
        if duration / step <= 12:
            return float(step)
    return 7200.0


def timeline_svg(
    duration: float,
    rows: Sequence[TimelineRow],
    findings: Sequence[Finding],
    *,
    labels: Mapping[str, str],
    finding_titles: Mapping[str, str],
) -> str:
    """``labels``: speech, findings_row; ``finding_titles``: finding id → hover text."""
    duration = max(duration, 1.0)
    plot = WIDTH - LEFT - 10
    height = TOP + ROW * (len(rows) + 1) + 24

    def x(t: float) -> float:
        return LEFT + plot * min(max(t, 0.0), duration) / duration

    parts = [
        f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}"'
        f' width="100%" role="img" data-duration="{duration:.3f}">',
        f'<rect x="{LEFT}" y="{TOP - 6}" width="{plot}" height="{ROW * (len(rows) + 1) + 6}"'
        ' fill="#f8f9fa" stroke="#dee2e6"/>',
    ]
    step = _tick_step(duration)
    tick = 0.0
    axis_y = TOP + ROW * (len(rows) + 1) + 14
    while tick <= duration + 0.001:
        parts.append(
            f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{TOP - 6}" y2="{axis_y - 10}"'
            ' stroke="#e9ecef"/>'
            f'<text x="{x(tick):.1f}" y="{axis_y}" font-size="10" text-anchor="middle"'
            f' fill="#495057">{format_clock(tick)}</text>'
        )
        tick += step
    for index, row in enumerate(rows):
        y = TOP + ROW * index
        parts.append(
            f'<g class="speech-row" data-participant={quoteattr(row.participant)}>'
            f'<text x="{LEFT - 6}" y="{y + 14}" font-size="11" text-anchor="end">'
            f"{escape(short_name(row.label, 14 if row.what else 22))}"
            f" · {escape(row.what or labels['speech'])}</text>"
        )
        for start, end in row.gaps:
            title = (
                f"<title>{escape(format_clock(start))}–{escape(format_clock(end))}"
                f" {escape(row.gap_title)}</title>"
                if row.gap_title
                else ""
            )
            parts.append(
                f'<rect class="gap" x="{x(start):.1f}" y="{y + 2}" width="{max(1.0, x(end) - x(start)):.1f}"'
                f' height="{ROW - 8}" fill="url(#hatch)" fill-opacity="0.5" stroke="#adb5bd">'
                f"{title}</rect>"
            )
        for start, end, text in row.no_picture:
            parts.append(
                f'<rect class="gap no-picture" x="{x(start):.1f}" y="{y + 2}"'
                f' width="{max(1.0, x(end) - x(start)):.1f}" height="{ROW - 8}" fill="url(#hatch)"'
                f' fill-opacity="0.5" stroke="#495057"><title>{escape(format_clock(start))}–'
                f"{escape(format_clock(end))} {escape(text)}</title></rect>"
            )
        for start, end, reason in row.recording_gaps:
            text = labels.get(f"gap.{reason}", RECORDING_GAP_TEXTS.get(reason, reason))
            parts.append(
                f'<rect class="gap recording-gap" data-reason={quoteattr(reason)}'
                f' x="{x(start):.1f}" y="{y + 2}" width="{max(1.0, x(end) - x(start)):.1f}"'
                f' height="{ROW - 8}" fill="#ced4da" stroke="#868e96" stroke-dasharray="3,2">'
                f"<title>{escape(format_clock(start))}–{escape(format_clock(end))}"
                f" {escape(text)}</title></rect>"
            )
        for start, end in row.spans:
            parts.append(
                f'<rect class="speech" x="{x(start):.1f}" y="{y + 4}"'
                f' width="{max(1.0, x(end) - x(start)):.1f}" height="{ROW - 12}" fill="#4dabf7"/>'
            )
        parts.append("</g>")
    y = TOP + ROW * len(rows)
    parts.append(
        f'<g class="findings-row"><text x="{LEFT - 6}" y="{y + 14}" font-size="11"'
        f' text-anchor="end">{escape(labels["findings_row"])}</text>'
    )
    for finding in findings:
        colour = SEVERITY_COLOURS.get(finding.severity, "#868e96")
        left = x(finding.start)
        width = max(4.0, x(finding.end) - left)
        title = finding_titles.get(finding.id, finding.rule)
        parts.append(
            f'<a class="marker severity-{finding.severity}" href="#finding-{finding.id}"'
            f' data-t="{finding.start:.3f}" data-track={quoteattr(finding.track)}'
            f" data-finding={quoteattr(finding.id)}>"
            f"<title>{escape(format_clock(finding.start))} {escape(title)}</title>"
            f'<rect x="{left:.1f}" y="{y + 3}" width="{width:.1f}" height="{ROW - 8}"'
            f' fill="{colour}" rx="2"/></a>'
        )
    parts.append("</g>")
    parts.insert(
        1,
        '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse">'
        '<path d="M0,6 L6,0" stroke="#868e96" stroke-width="1"/></pattern></defs>',
    )
    parts.append("</svg>")
    return "".join(parts)
