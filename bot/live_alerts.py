"""Which live events are worth telling people about (the outbox sink that tells them is
``notifications/live_alerts.py``, given by the composition root).

The same rule engine that writes the report (``rules.engine.evaluate``) decides, so a
live alert and the report's finding never disagree: after each new event the events
so far are evaluated against the session's rule profile, and every finding of an
alerting severity that was not alerted yet becomes one ``notifications.events.live_alert``
(recipients follow the profile's ``[notify]`` violation / gross_violation rules).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

from proctorbot.config.profiles import RuleProfile
from proctorbot.detection.events import DetectorEvent, EventKind
from proctorbot.rules.engine import evaluate
from proctorbot.rules.findings import Finding

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
# Published by the bot itself (a participant's media gap, the call page's focus reports:
# bot/page_focus.py), not by a detector of the live watch: heard on the session bus so
# they count for alerts too.
RECORDER_KINDS = frozenset(
    {
        EventKind.PARTICIPANT_LEFT,
        EventKind.VIDEO_LOST,
        EventKind.PAGE_HIDDEN,
        EventKind.WINDOW_BLUR,
        EventKind.FULLSCREEN_LEFT,
    }
)


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
