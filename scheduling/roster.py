"""Roster and availability import: validate every line first, then write all or nothing.

Roster columns (CSV or XLSX, header names case-insensitive):
``role`` (student | examiner | expert | organizer; default student), ``id`` (the
institution's id; default the e-mail), ``full_name``, ``email``, ``telegram``
(@username or a numeric chat id), ``group``, ``exam``, ``language`` (ru | en),
``timezone`` (e.g. Asia/Yekaterinburg; students' reminders use it).

Availability columns: ``examiner`` (id or e-mail), ``date`` (YYYY-MM-DD), ``start``
and ``end`` (HH:MM local), ``timezone`` (default: the scheduling setting), ``exams``
(optional, ``;``-separated: only these exams in that window), ``panel`` (optional: examiners
with the same panel name sit every slot together, as a commission).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

from proctorbot.scheduling.tables import Availability, Enrolment
from proctorbot.scheduling.tabular import Row, TableFileError, read_rows
from proctorbot.storage.localtime import (
    LocalTimeError,
    local_to_utc,
    parse_clock,
    parse_day,
    zone,
)
from proctorbot.storage.models import Organization, Person, Role
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

ROLES = (Role.STUDENT, Role.EXAMINER, Role.EXPERT, Role.ORGANIZER)
LANGUAGES = ("ru", "en")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
USERNAME = re.compile(r"^@?([A-Za-z][A-Za-z0-9_]{3,31})$")


@dataclass(frozen=True)
class RosterIssue:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}, line {self.line}: {self.message}"


class RosterError(ValueError):
    """The files hold mistakes; nothing was imported. ``issues`` lists them all."""

    def __init__(self, issues: list[RosterIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(issue) for issue in issues))


@dataclass(frozen=True)
class RosterEntry:
    line: int
    role: str
    external_id: str
    full_name: str
    email: str | None
    telegram_username: str | None
    telegram_chat_id: int | None
    group: str | None
    exam: str
    language: str
    timezone: str | None


@dataclass(frozen=True)
class AvailabilityEntry:
    line: int
    examiner: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    exams: tuple[str, ...] = ()
    panel: str = ""


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    windows: int = 0
    by_role: dict[str, int] = field(default_factory=dict)


def parse_roster(path: Path, *, default_language: str = "ru") -> list[RosterEntry]:
    """Every entry of a roster file, or RosterError naming every bad line."""
    rows = _rows(path)
    issues: list[RosterIssue] = []
    entries: list[RosterEntry] = []
    seen: dict[tuple[str, str], int] = {}
    for row in rows:
        problems: list[str] = []
        role = (row.get("role") or "student").lower()
        if role not in ROLES:
            problems.append(f"unknown role {role!r} (use {', '.join(ROLES)})")
        name = row.get("full_name") or row.get("name")
        if not name:
            problems.append("full_name is empty")
        email = row.get("email") or None
        if email and not EMAIL.match(email):
            problems.append(f"not an e-mail address: {email!r}")
        external_id = row.get("id") or (email or "")
        if not external_id:
            problems.append("needs an id or an e-mail to tell the person apart")
        username, chat_id = None, None
        telegram = row.get("telegram")
        if telegram:
            if re.fullmatch(r"-?\d{3,20}", telegram):
                chat_id = int(telegram)
            elif match := USERNAME.match(telegram):
                username = match.group(1)
            else:
                problems.append(f"not a Telegram @username or chat id: {telegram!r}")
        language = (row.get("language") or default_language).lower()
        if language not in LANGUAGES:
            problems.append(f"unknown language {language!r} (use ru or en)")
        tz_name = row.get("timezone") or None
        if tz_name:
            try:
                zone(tz_name)
            except LocalTimeError as exc:
                problems.append(str(exc))
        key = (role, external_id.lower())
        if external_id and key in seen:
            problems.append(f"duplicate {role} {external_id!r} (first on line {seen[key]})")
        elif external_id:
            seen[key] = row.line
        if problems:
            issues.extend(RosterIssue(path.name, row.line, p) for p in problems)
            continue
        entries.append(
            RosterEntry(
                line=row.line,
                role=role,
                external_id=external_id,
                full_name=name,
                email=email,
                telegram_username=username,
                telegram_chat_id=chat_id,
                group=row.get("group") or None,
                exam=row.get("exam"),
                language=language,
                timezone=tz_name,
            )
        )
    if issues:
        raise RosterError(issues)
    return entries


def parse_availability(
    path: Path, known_examiners: set[str], *, default_timezone: str
) -> list[AvailabilityEntry]:
    """Availability windows; an examiner missing from roster and database is an error."""
    rows = _rows(path)
    issues: list[RosterIssue] = []
    entries: list[AvailabilityEntry] = []
    known = {name.lower() for name in known_examiners}
    for row in rows:
        problems: list[str] = []
        examiner = row.get("examiner")
        if not examiner:
            problems.append("examiner is empty")
        elif examiner.lower() not in known:
            problems.append(f"unknown examiner {examiner!r}: not in the roster as an examiner")
        try:
            tz = zone(row.get("timezone") or default_timezone)
            day = parse_day(row.get("date"))
            start = local_to_utc(day, parse_clock(row.get("start")), tz)
            end_text = row.get("end")
            if end_text in ("24:00", "24:00:00"):
                end = local_to_utc(day + dt.timedelta(days=1), dt.time(), tz)
            else:
                end = local_to_utc(day, parse_clock(end_text), tz)
            if end <= start:
                problems.append(
                    f"the window ends ({end_text}) before it starts ({row.get('start')})"
                )
        except LocalTimeError as exc:
            problems.append(str(exc))
        if problems:
            issues.extend(RosterIssue(path.name, row.line, p) for p in problems)
            continue
        exams = tuple(e.strip() for e in row.get("exams").split(";") if e.strip())
        entries.append(AvailabilityEntry(row.line, examiner, start, end, exams, row.get("panel")))
    if issues:
        raise RosterError(issues)
    return entries


def import_roster(
    db: Session,
    organization_name: str,
    roster: Path | None,
    availability: Path | None = None,
    *,
    default_language: str = "ru",
    default_timezone: str = "Europe/Moscow",
) -> ImportSummary:
    """Validate both files completely, then write everything in the caller's transaction.

    People are matched by (role, id) so importing a corrected roster again updates them.
    An examiner's windows on the dates the availability file covers are replaced.
    """
    entries = parse_roster(roster, default_language=default_language) if roster else []
    organization = db.scalar(select(Organization).where(Organization.name == organization_name))
    if organization is None:
        organization = Organization(name=organization_name)
        db.add(organization)
        db.flush()
    existing_examiners = {
        p.external_id: p
        for p in db.scalars(
            select(Person).where(
                Person.organization_id == organization.id, Person.role == Role.EXAMINER
            )
        )
        if p.external_id
    }
    windows: list[AvailabilityEntry] = []
    if availability is not None:
        known = set(existing_examiners) | {
            e.external_id for e in entries if e.role == Role.EXAMINER
        }
        known |= {e.email for e in entries if e.role == Role.EXAMINER and e.email}
        known |= {p.email for p in existing_examiners.values() if p.email}
        windows = parse_availability(availability, known, default_timezone=default_timezone)

    summary = ImportSummary()
    people: dict[tuple[str, str], Person] = {}
    for entry in entries:
        person = db.scalar(
            select(Person).where(
                Person.organization_id == organization.id,
                Person.role == entry.role,
                Person.external_id == entry.external_id,
            )
        )
        if person is None:
            person = Person(
                organization_id=organization.id,
                role=entry.role,
                external_id=entry.external_id,
                full_name=entry.full_name,
            )
            db.add(person)
            summary.created += 1
        else:
            summary.updated += 1
        person.full_name = entry.full_name
        person.email = entry.email
        person.group_name = entry.group
        person.language = entry.language
        if entry.telegram_username:
            person.telegram_username = entry.telegram_username
        if entry.telegram_chat_id is not None:
            person.telegram_chat_id = entry.telegram_chat_id
        db.flush()
        people[(entry.role, entry.external_id.lower())] = person
        if entry.email:
            people.setdefault((entry.role, entry.email.lower()), person)
        summary.by_role[entry.role] = summary.by_role.get(entry.role, 0) + 1
        if entry.role == Role.STUDENT:
            enrolment = db.scalar(select(Enrolment).where(Enrolment.person_id == person.id))
            if enrolment is None:
                enrolment = Enrolment(person_id=person.id)
                db.add(enrolment)
            enrolment.exam = entry.exam
            enrolment.timezone = entry.timezone

    for key, person in existing_examiners.items():
        people.setdefault((Role.EXAMINER, key.lower()), person)
        if person.email:
            people.setdefault((Role.EXAMINER, person.email.lower()), person)
    cleared: set[tuple[str, dt.date]] = set()
    for window in windows:
        person = people[(Role.EXAMINER, window.examiner.lower())]
        day = window.starts_at.date()
        if (person.id, day) not in cleared:
            day_start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
            db.execute(
                delete(Availability).where(
                    Availability.person_id == person.id,
                    Availability.starts_at >= day_start,
                    Availability.starts_at < day_start + dt.timedelta(days=1),
                )
            )
            cleared.add((person.id, day))
        db.add(
            Availability(
                person_id=person.id,
                starts_at=window.starts_at,
                ends_at=window.ends_at,
                exams=";".join(window.exams),
                panel=window.panel,
            )
        )
        summary.windows += 1
    db.flush()
    return summary


def _rows(path: Path) -> list[Row]:
    try:
        return read_rows(path)
    except TableFileError as exc:
        raise RosterError([RosterIssue(path.name, 0, str(exc))]) from None
