"""The connection schedule as CSV (for people) and iCalendar (for calendars)."""

from __future__ import annotations

import csv
import datetime as dt
import io

from proctorbot.scheduling.planner import Conflict
from proctorbot.scheduling.schedule import ScheduledSlot
from proctorbot.storage.localtime import zone

CSV_COLUMNS = (
    "session_id",
    "date",
    "start",
    "exam_start",
    "end",
    "timezone",
    "start_utc",
    "student",
    "student_link",
    "examiner",
    "examiner_link",
)


def schedule_csv(slots: list[ScheduledSlot], conflicts: list[Conflict] = ()) -> str:
    """Local times in the exam day's zone plus UTC; unplaced students listed at the end."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS + ("problem",))
    for slot in slots:
        tz = zone(slot.timezone)
        local = slot.start.astimezone(tz)
        writer.writerow(
            [
                slot.session_id,
                local.date().isoformat(),
                local.strftime("%H:%M"),
                slot.exam_start.astimezone(tz).strftime("%H:%M"),
                slot.end.astimezone(tz).strftime("%H:%M"),
                slot.timezone,
                slot.start.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%MZ"),
                slot.student.full_name,
                slot.student.url,
                "; ".join(e.full_name for e in slot.examiners),
                " ".join(e.url for e in slot.examiners),
                "",
            ]
        )
    for conflict in conflicts:
        writer.writerow([""] * 7 + [conflict.student.full_name] + [""] * 3 + [conflict.reason])
    return out.getvalue()


def schedule_ics(
    slots: list[ScheduledSlot], *, calendar_name: str, host: str = "proctorbot"
) -> str:
    """RFC 5545 calendar, times in UTC (no VTIMEZONE needed), one VEVENT per slot."""
    stamp = _ics_time(dt.datetime.now(dt.UTC))
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//proctorbot//schedule//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{_escape(calendar_name)}",
    ]
    for slot in slots:
        examiners = ", ".join(e.full_name for e in slot.examiners)
        description = (
            f"Student: {slot.student.full_name}\nStudent link: {slot.student.url}\n"
            + "".join(f"Examiner {e.full_name}: {e.url}\n" for e in slot.examiners)
            + f"Exam starts: {_ics_time(slot.exam_start)}"
        )
        lines += [
            "BEGIN:VEVENT",
            f"UID:{slot.session_id}@{host}",
            f"DTSTAMP:{stamp}",
            f"DTSTART:{_ics_time(slot.start)}",
            f"DTEND:{_ics_time(slot.end)}",
            f"SUMMARY:{_escape(slot.title)}",
            f"DESCRIPTION:{_escape(description)}",
            f"URL:{slot.student.url}",
            f"X-PROCTORBOT-EXAMINERS:{_escape(examiners)}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) + "\r\n" for line in lines)


def _ics_time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after a space (RFC 5545 3.1)."""
    data = line.encode()
    if len(data) <= 75:
        return line
    parts, current = [], b""
    for char in line:
        encoded = char.encode()
        limit = 75 if not parts else 74
        if len(current) + len(encoded) > limit:
            parts.append(current.decode())
            current = b""
        current += encoded
    parts.append(current.decode())
    return "\r\n ".join(parts)
