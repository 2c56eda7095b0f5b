"""What other areas call to tell people about a session; recipients follow the profile.

Each function writes outbox rows in the caller's database transaction and returns how
many it wrote; the dispatcher sends them. Example (report area, after building)::

    with ctx.db.begin() as db:
        events.session_finished(db, session_id, summary="Trust 87/100, 1 violation",
                                report_url=url)
"""

from __future__ import annotations

import datetime as dt
import logging

from proctorbot.config.catalogue import Catalogue
from proctorbot.notifications.outbox import Attachment, enqueue
from proctorbot.storage.models import ExamDay, ExamSession, Person, Role
from sqlalchemy import select
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

DEFAULT_ZONE = "Europe/Moscow"  # a session without an exam day, unless the caller says

# Used when the session's profile cannot be loaded.
DEFAULT_RECIPIENTS = {
    "session_started": ("organizer",),
    "checklist_failed": ("examiner", "organizer"),
    "violation": ("examiner",),
    "gross_violation": ("examiner", "organizer"),
    "report_ready": ("organizer",),
    "session_missed": ("organizer",),
}


def recipients(db: Session, session: ExamSession, rule: str) -> list[Person]:
    """People of the roles the profile names for ``rule``, each once."""
    roles = DEFAULT_RECIPIENTS.get(rule, ("organizer",))
    try:
        from proctorbot.config.profiles import load_profile

        roles = load_profile(session.profile).notify.recipients(rule)
    except Exception as exc:  # unknown profile in tests or old data: the defaults
        log.debug("profile %r unavailable for %s (%s)", session.profile, rule, exc)
    people: dict[str, Person] = {}
    for member in session.members:
        if member.role in roles:
            people.setdefault(member.person_id, member.person)
    if "organizer" in roles:
        for organizer in db.scalars(
            select(Person).where(
                Person.organization_id == session.organization_id, Person.role == Role.ORGANIZER
            )
        ):
            people.setdefault(organizer.id, organizer)
    return list(people.values())


def session_started(db: Session, session_id: str) -> int:
    session = _session(db, session_id)
    start = _local(db, session, session.opened_at or session.starts_at)
    return _send(
        db,
        session,
        "session_started",
        "session_started",
        lambda person: {"title": session.title, "start": start},
        dedupe=f"started:{session.id}",
    )


def identity_checked(db: Session, session_id: str, confirmed: bool, details: str = "") -> int:
    session = _session(db, session_id)
    student = _student_name(session)
    kind = "identity_confirmed" if confirmed else "identity_failed"
    rule = "session_started" if confirmed else "checklist_failed"
    return _send(
        db,
        session,
        rule,
        kind,
        lambda person: {"title": session.title, "student": student, "details": details},
    )


def live_alert(
    db: Session,
    session_id: str,
    alert_kind: str,
    at_seconds: float,
    *,
    details: str = "",
    evidence: Attachment | None = None,
    gross: bool = False,
    recording_started_at: float | None = None,
    duration_s: float | None = None,
    default_zone: str = DEFAULT_ZONE,
    ongoing: bool = False,
) -> int:
    """third_party_voice, extra_person, away_too_long, connection_lost (else "other").

    With ``recording_started_at`` (Unix time of the recording start, the bot's
    ``started_at``), ``at_seconds`` counts from it, as every event time does, and the text
    says "12:34 from the start of the recording (11:44:05, Europe/Moscow)" — the one
    convention of storage/session_time.py. Without it (older callers) ``at_seconds``
    counts from the scheduled start and only the clock can be told.
    ``duration_s`` and ``gross`` are told in words (``ongoing``: "still going on" instead
    of a duration: the alert went out while it lasts); ``details`` is added as given.
    """
    from proctorbot.storage.session_time import SessionClock, session_zone

    session = _session(db, session_id)
    zone = session_zone(db, session, default_zone)
    if recording_started_at is not None:
        clock = SessionClock(recording_started_at, zone)
    else:
        starts = session.starts_at
        if starts.tzinfo is None:
            starts = starts.replace(tzinfo=dt.UTC)
        clock = SessionClock(starts.timestamp() + at_seconds, zone)

    def payload(person: Person) -> dict[str, object]:
        texts = Catalogue.load(person.language if person.language in ("ru", "en") else "ru")
        key = f"notifications.alert_kinds.{alert_kind}"
        what = (
            texts.text(key) if key in texts.texts else texts.text("notifications.alert_kinds.other")
        )
        if recording_started_at is not None:
            at = clock.at(at_seconds, texts)
        else:
            at = texts.text("notifications.alert_clock", clock=clock.wall(0.0), zone=zone)
        said = []
        if ongoing:  # alerted as soon as it counts, while it still goes on
            said.append(texts.text("notifications.alert_ongoing"))
        elif duration_s is not None and duration_s >= 0.5:
            said.append(texts.text("notifications.alert_duration", seconds=round(duration_s)))
        if gross:
            said.append(texts.text("notifications.alert_gross"))
        if details:
            said.append(details)
        return {"title": session.title, "what": what, "at": at, "details": " ".join(said)}

    return _send(
        db,
        session,
        "gross_violation" if gross else "violation",
        "alert",
        payload,
        attachment=evidence,
    )


def session_finished(db: Session, session_id: str, *, summary: str, report_url: str) -> int:
    session = _session(db, session_id)
    return _send(
        db,
        session,
        "report_ready",
        "session_finished",
        lambda person: {"title": session.title, "summary": summary, "report_url": report_url},
        dedupe=f"finished:{session.id}",
    )


def disk_low(db: Session, *, free_mb: float, min_mb: int, path: str, since: dt.datetime) -> int:
    """Every organizer hears that the recordings disk is nearly full, once per episode
    (``since``: when the free space fell under ``min_mb``); recording/disk_space.py."""
    episode = since.strftime("%Y%m%dT%H%M%S.%f")
    payload = {"free_mb": round(free_mb), "min_mb": min_mb, "path": path}
    count = 0
    for organizer in db.scalars(select(Person).where(Person.role == Role.ORGANIZER)):
        row = enqueue(
            db, organizer, "disk_low", payload, dedupe_key=f"disk_low:{episode}:{organizer.id}"
        )
        count += row is not None
    return count


def _send(db, session, rule, kind, payload, *, attachment=None, dedupe=None) -> int:  # noqa: ANN001
    count = 0
    for person in recipients(db, session, rule):
        key = f"{dedupe}:{person.id}" if dedupe else None
        if enqueue(
            db,
            person,
            kind,
            payload(person),
            session_id=session.id,
            attachment=attachment,
            dedupe_key=key,
        ):
            count += 1
    return count


def _session(db: Session, session_id: str) -> ExamSession:
    session = db.get(ExamSession, session_id)
    if session is None:
        raise LookupError(f"no session {session_id!r}")
    return session


def _student_name(session: ExamSession) -> str:
    return ", ".join(m.person.full_name for m in session.members if m.role == Role.STUDENT)


def _local(db: Session, session: ExamSession, moment: dt.datetime, seconds: bool = False) -> str:
    from proctorbot.storage.localtime import zone

    name = "Europe/Moscow"
    if session.exam_day_id:
        day = db.get(ExamDay, session.exam_day_id)
        name = day.timezone if day else name
    return moment.astimezone(zone(name)).strftime("%H:%M:%S" if seconds else "%H:%M")
