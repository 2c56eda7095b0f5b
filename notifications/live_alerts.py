"""Live alerts into the outbox: ``notifications.events.live_alert`` for each finding the
live watch's rule engine (``bot/live_alerts.LiveAlertPolicy``) wants told, with the
finding's first evidence file attached. The composition root hands the bot one sink per
session (``LiveWatchPlugin(alert_sink=OutboxAlertSink)``)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from proctorbot.bot.live_alerts import alert_kind

from proctorbot.context import AppContext

log = logging.getLogger(__name__)

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")
VIDEO_SUFFIXES = (".mp4", ".webm")


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

    def send(self, finding: Any) -> int:  # rules.findings.Finding
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

    def attachment(self, finding: Any):  # noqa: ANN201 - notifications.outbox.Attachment | None
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
