"""The live watch in every session's bot (``BotManager.add_session_plugin``).

``await plugin(bot)``: once the checklist has admitted the student (``ExamDecided`` on the
session bus) the session is ``live`` and ``LiveWatch`` runs; the organizers are told the
session started when the student joins. Where alerts go and how the start is told are
given by the composition root (``alert_sink``, ``announce``): the bot area knows nothing
of the outbox.

Models come from the process's one holder, ``ctx.models`` (``proctorbot.process_models``),
the same the checklist uses: each loads once, lazily, on first use in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from proctorbot.bot.live_alerts import AlertSink
from proctorbot.bot.live_watch import LiveDetectors, LiveWatch, LiveWatchOptions
from proctorbot.bot.peer_directory import peer_field
from proctorbot.bot.session_bus import PeerJoined

from proctorbot.context import AppContext
from proctorbot.process_models import ProcessModels

log = logging.getLogger(__name__)


AlertSinkFor = Callable[[str, Path, float], AlertSink]  # (session, folder, bot start)
Announce = Callable[[str], int]  # blocking: tell the organizers the session started


class LiveWatchPlugin:
    """``await plugin(bot)`` in every session the bot joins."""

    __name__ = "live_watch"

    def __init__(
        self,
        ctx: AppContext,
        models: ProcessModels | None = None,  # default: the process's ctx.models
        *,
        wait_for_admission: bool = True,
        alert_sink: AlertSinkFor | None = None,
        announce: Announce | None = None,
    ) -> None:
        self.ctx = ctx
        self.models = models or ctx.models
        self.wait_for_admission = wait_for_admission
        self.alert_sink = alert_sink
        self.announce = announce

    async def __call__(self, bot: Any) -> None:  # proctorbot.bot.session_bot.SessionBot
        profile_name, language = await asyncio.to_thread(self._session_facts, bot.session_id)
        announcer = asyncio.create_task(self.announce_start(bot), name="session-started")
        try:
            profile = await asyncio.to_thread(self._profile, profile_name)
            watch = LiveWatch(
                bot,
                profile=profile,
                detectors=LiveDetectors(self.models.audio_models, self.models.face_analyzer),
                alerts=self.alert_sink(bot.session_id, bot.session_dir, bot.started_at)
                if self.alert_sink is not None
                else None,
                options=LiveWatchOptions(
                    video_fps=self.ctx.settings.detection.live_video_fps,
                    wait_for_admission=self.wait_for_admission,
                ),
                texts=_texts(language),
                on_exam=lambda state: self.exam_started(bot.session_id, state),
            )
            await watch.run()
        finally:
            announcer.cancel()

    async def exam_started(self, session_id: str, state: str) -> None:
        """The checklist admitted the student: the session is ``live``."""
        from proctorbot.bot.session_status import advance_status
        from proctorbot.storage.models import SessionStatus

        if state in ("proctored", "non_biometric"):
            await advance_status(self.ctx, session_id, SessionStatus.LIVE)

    async def announce_start(self, bot: Any) -> int:
        """``session_started`` once the student is in the room (deduplicated per session);
        the session bus says when someone joins."""
        async with bot.bus.subscribe(PeerJoined) as joined:
            while not any(peer_field(p, "role") == "student" for p in bot.peers.values()):
                await anext(joined)
        return await asyncio.to_thread(self._started, bot.session_id)

    def _started(self, session_id: str) -> int:
        if self.announce is None:
            return 0
        try:
            return self.announce(session_id)
        except LookupError:
            log.warning("session %s is not in the database: no start notice", session_id)
            return 0

    def _session_facts(self, session_id: str) -> tuple[str, str]:
        from proctorbot.storage.models import ExamSession

        with self.ctx.db() as db:
            session = db.get(ExamSession, session_id)
            if session is None:
                return self.ctx.settings.default_profile, "ru"
            return session.profile, session.language

    def _profile(self, name: str) -> Any:
        from proctorbot.config.profiles import ProfileError, load_profile

        try:
            return load_profile(name)
        except ProfileError:
            log.exception("profile %r unusable; the default profile is used", name)
            return load_profile(self.ctx.settings.default_profile)


def _texts(language: str) -> Callable[[str], str]:
    from proctorbot.config.catalogue import Catalogue, MissingText

    catalogue = Catalogue.load(language if language in ("ru", "en") else "ru")

    def text(key: str) -> str:
        try:
            return catalogue.text(key)
        except MissingText:
            return key

    return text
