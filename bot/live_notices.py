"""What the live watch tells people: each alerted finding and its end on the examiners'
panel (area ``live``) and to the organizers (the ``AlertSink``, the outbox), a detector
that stopped (once per detector); nothing about a session that has ended (everyone gone,
the bot leaving)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from proctorbot.bot.live_alerts import AlertSink, alert_details, alert_kind
from proctorbot.bot.peer_directory import peer_field
from proctorbot.bot.session_bus import FindingAlerted, FindingClosed
from proctorbot.rules.findings import Finding
from proctorbot.storage.db_retry import write_retrying

log = logging.getLogger(__name__)

AREA = "live"
EXAMINER_ROLES = frozenset({"examiner", "expert", "organizer"})


class LiveNotices:
    """The live watch's messages to the examiners' pages and the organizers."""

    def __init__(
        self,
        bot: Any,  # proctorbot.bot.session_bot.SessionBot or anything with its API
        *,
        name: str,
        alerts: AlertSink | None = None,
        texts: Callable[[str], str] | None = None,
    ) -> None:
        self.bot = bot
        self.name = name  # the session, for the log
        self.alerts = alerts
        self.texts = texts or (lambda key: key)
        self.unavailable: dict[str, str] = {}  # detector → why it stopped
        self._pending: set[asyncio.Task[Any]] = set()

    async def drain(self) -> None:
        """Wait for alerts still being written (tests, shutdown)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    def session_going_on(self) -> bool:
        """Someone besides the bot is in the call and the bot is not leaving: alerts
        about a session that has ended (everyone gone, the bot leaving) are not sent."""
        if getattr(self.bot, "stopped_at", None) is not None:
            return False
        present = getattr(self.bot, "people_present", None)
        if present is not None:
            return bool(present())
        return any(peer_field(p, "role") not in ("bot", "") for p in self.bot.peers.values())

    def finding_alerted(self, alerted: FindingAlerted) -> None:
        """A bus listener: a finding to alert."""
        finding = alerted.finding
        if alerted.ongoing:
            # alerted while it still goes on: the message says so, not a duration so far
            finding = replace(finding, values={**finding.values, "ongoing": True})
        self.alert_all([finding])

    def finding_closed(self, closed: FindingClosed) -> None:
        """A bus listener: an alerted finding ended; the examiners see how long it lasted."""
        self._spawn(self.to_examiners("alert_closed", alert_data(closed.finding)))

    def alert_all(self, findings: list[Finding]) -> None:
        for finding in findings:
            if not self.session_going_on():
                log.info(
                    "%s: %s at %.0f s not alerted: the session has ended",
                    self.name,
                    finding.rule,
                    finding.start,
                )
                continue
            self._spawn(self._alert(finding))

    async def detector_failed(self, detector: str, exc: BaseException) -> None:
        """Logged each time; the examiners hear of it once per detector."""
        log.error("%s: live %s detection stopped: %s", self.name, detector, exc, exc_info=exc)
        if detector in self.unavailable:
            return
        self.unavailable[detector] = str(exc) or type(exc).__name__
        await self.to_examiners(
            "detector_unavailable", {"detector": detector, "reason": self.unavailable[detector]}
        )
        text = self.texts(f"live.unavailable.{detector}")
        for peer_id in self._examiners():
            with contextlib.suppress(Exception):
                await self.bot.send_prompt(
                    f"live.unavailable.{detector}", text, to=peer_id, level="warning"
                )

    async def to_examiners(self, action: str, data: dict[str, Any]) -> None:
        for peer_id in self._examiners():
            try:
                await self.bot.send_panel(AREA, action, data, to=peer_id)
            except Exception:  # noqa: BLE001 - a closed signaling link
                log.warning("%s: live panel %s not sent to %s", self.name, action, peer_id)

    async def _alert(self, finding: Finding) -> None:
        await self.to_examiners("alert", alert_data(finding))
        if self.alerts is not None:
            try:
                # waits out a locked database (retried in a thread): an alert is never lost
                await write_retrying(self.alerts.send, finding, what=f"live alert of {self.name}")
            except Exception:  # noqa: BLE001 - the outbox must not stop the watch
                log.exception("%s: live alert not queued", self.name)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def _examiners(self) -> list[str]:
        return [
            pid
            for pid, info in self.bot.peers.items()
            if peer_field(info, "role") in EXAMINER_ROLES
        ]


def alert_data(finding: Finding) -> dict[str, Any]:
    """A finding as the examiners' panel shows it."""
    return {
        "finding": finding.id,
        "kind": alert_kind(finding),
        "rule": finding.rule,
        "severity": finding.severity,
        "start": round(finding.start, 2),
        "end": round(finding.end, 2),
        "track": finding.track,
        "evidence": list(finding.evidence),
        "details": alert_details(finding),
    }
