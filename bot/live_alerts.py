"""Which live events are worth telling people about, and telling them through the outbox.

The same rule engine that writes the report (``rules.engine.evaluate``) decides, so a
live alert and the report's finding never disagree: after each new event the events
so far are evaluated against the session's rule profile, and every finding of an
alerting severity that was not alerted yet becomes one ``notifications.events.live_alert``
(recipients follow the profile's ``[notify]`` violation / gross_violation rules).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from proctorbot.config.profiles import RuleProfile
from proctorbot.detection.events import DetectorEvent, EventKind
from proctorbot.rules.engine import evaluate
from proctorbot.rules.findings import Finding

from proctorbot.context import AppContext

log = logging.getLogger(__name__)

ALERT_SEVERITIES = frozenset({"violation", "gross"})
# Finding rule → the alert kinds notifications/ has texts for (others read "other").
ALERT_KIND_OF_RULE = {
    "third_party_voice": "third_party_voice",
    "overlapped_speech": "third_party_voice",
    "extra_person": "extra_person",
    "away": "away_too_long",
    "technical_interruption": "connection_lost",
}
# Written to events.jsonl by the bot itself (a participant's media gap), not by a detector
# of the live watch: read back from the file so they count for alerts too.
RECORDER_KINDS = frozenset({EventKind.PARTICIPANT_LEFT, EventKind.VIDEO_LOST})
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")
VIDEO_SUFFIXES = (".mp4", ".webm")


@dataclass
class LiveAlertPolicy:
    """Feeds events one by one; returns the findings that should be alerted now."""

    profile: RuleProfile
    severities: frozenset[str] = ALERT_SEVERITIES
    events: list[DetectorEvent] = field(default_factory=list)
    alerted: set[str] = field(default_factory=set)
    findings: list[Finding] = field(default_factory=list)  # as of the last event added

    def add(self, event: DetectorEvent) -> list[Finding]:
        self.events.append(event)
        return self._fresh(self.events)

    def closed(self, event: DetectorEvent) -> Finding | None:
        """The alerted finding an event that ends a condition closes (its final extent),
        or None: the event is not a closing one, or its finding was never alerted."""
        if event.details.get("open") or event.details.get("still_open"):
            return None
        for finding in self.findings:
            if (
                finding.id in self.alerted
                and finding.track == event.track
                and str(event.kind) in finding.event_kinds
                and finding.start <= event.start <= finding.end
            ):
                return finding
        return None

    def peek(self, event: DetectorEvent) -> list[Finding]:
        """The findings to alert now if a condition still going on (``event``, ending now)
        were over. The event is not kept: its real one comes when it ends, and its finding
        (same rule, track and start: the same id) is not alerted twice."""
        return self._fresh([*self.events, event])

    def _fresh(self, events: list[DetectorEvent]) -> list[Finding]:
        fresh = []
        findings = evaluate(events, self.profile)
        if events is self.events:
            self.findings = findings
        for finding in findings:
            if finding.severity in self.severities and finding.id not in self.alerted:
                self.alerted.add(finding.id)
                fresh.append(finding)
        return fresh


class EventsTail:
    """Events appended to ``events.jsonl`` since the last read (a half-written line waits)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._offset = 0
        self._partial = b""

    def read_new(self) -> list[DetectorEvent]:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
        except FileNotFoundError:
            return []
        self._offset += len(chunk)
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        events = []
        for line in lines:
            if line.strip():
                try:
                    events.append(DetectorEvent.from_json(json.loads(line)))
                except (ValueError, KeyError, TypeError) as exc:
                    log.warning("%s: a bad line skipped (%s)", self.path, exc)
        return events


def alert_kind(finding: Finding) -> str:
    return ALERT_KIND_OF_RULE.get(finding.rule, finding.rule)


def alert_details(finding: Finding) -> str:
    text = f"{finding.rule}, {finding.duration:.0f} s"
    if finding.severity == "gross":
        text += ", gross"
    return text


class AlertSink(Protocol):
    """Where alert-worthy findings go (the outbox in production, a list in tests)."""

    def send(self, finding: Finding) -> int: ...


class OutboxAlertSink:
    """``notifications.events.live_alert`` with the finding's first evidence file attached.

    Event times count from the bot's start (``bot_started_at``, the manifest's origin),
    which ``live_alert`` is given: the text says the time from the recording start.
    """

    def __init__(
        self, ctx: AppContext, session_id: str, session_dir: Path, bot_started_at: float
    ) -> None:
        self.ctx = ctx
        self.session_id = session_id
        self.session_dir = Path(session_dir)
        self.bot_started_at = bot_started_at

    def send(self, finding: Finding) -> int:
        from proctorbot.notifications import events
        from proctorbot.storage.models import ExamSession

        with self.ctx.db.begin() as db:
            session = db.get(ExamSession, self.session_id)
            if session is None:
                log.warning("live alert for unknown session %s dropped", self.session_id)
                return 0
            # The one time convention: from the recording start, the day's clock beside it.
            return events.live_alert(
                db,
                self.session_id,
                alert_kind(finding),
                finding.start,
                recording_started_at=self.bot_started_at,
                duration_s=finding.duration,
                ongoing=bool(finding.values.get("ongoing")),
                evidence=self.attachment(finding),
                gross=finding.severity == "gross",
                default_zone=self.ctx.settings.scheduling.timezone,
            )

    def attachment(self, finding: Finding):  # noqa: ANN201 - notifications.outbox.Attachment | None
        from proctorbot.notifications.outbox import Attachment

        for relative in finding.evidence:
            path = self.session_dir / relative
            if not path.is_file():
                continue
            suffix = path.suffix.lower()
            kind = (
                "photo"
                if suffix in PHOTO_SUFFIXES
                else "video"
                if suffix in VIDEO_SUFFIXES
                else "document"
            )
            return Attachment(path=path, kind=kind)
        return None
