"""Plug-in for ``proctorbot serve``: the live watch in every session's bot, and the
hand-over (full audio pass, report, "session finished") as the post-session job.

* a bot session plug-in (``BotManager.add_session_plugin``) that tells the organizers
  the session started when the student joins (``notifications.events.session_started``)
  and runs ``LiveWatch`` once the checklist has admitted the student;
* ``job_hooks(app).post_session`` = ``SessionHandOver``: the bot leaves, the recording
  is finalised, then speech, diarization, transcripts, report, notification.

Models come from the process's one holder, ``ctx.models`` (``proctorbot.process_models``),
the same the checklist uses: each loads once, lazily, on first use in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web
from proctorbot.bot.after_session import SessionHandOver
from proctorbot.bot.live_alerts import OutboxAlertSink
from proctorbot.bot.live_watch import LiveDetectors, LiveWatch, LiveWatchOptions, peer_field

from proctorbot.context import AppContext
from proctorbot.process_models import ProcessModels

log = logging.getLogger(__name__)


class LiveWatchPlugin:
    """``await plugin(bot)`` in every session the bot joins."""

    __name__ = "live_watch"

    def __init__(
        self,
        ctx: AppContext,
        models: ProcessModels | None = None,  # default: the process's ctx.models
        *,
        wait_for_admission: bool = True,
    ) -> None:
        self.ctx = ctx
        self.models = models or ctx.models
        self.wait_for_admission = wait_for_admission

    async def __call__(self, bot: Any) -> None:  # proctorbot.bot.session_bot.SessionBot
        profile_name, language = await asyncio.to_thread(self._session_facts, bot.session_id)
        announcer = asyncio.create_task(self.announce_start(bot), name="session-started")
        try:
            profile = await asyncio.to_thread(self._profile, profile_name)
            watch = LiveWatch(
                bot,
                profile=profile,
                detectors=LiveDetectors(self.models.audio_models, self.models.face_analyzer),
                alerts=OutboxAlertSink(self.ctx, bot.session_id, bot.session_dir, bot.started_at),
                options=LiveWatchOptions(
                    video_fps=self.ctx.settings.detection.live_video_fps,
                    wait_for_admission=self.wait_for_admission,
                ),
                texts=_texts(language),
            )
            await watch.run()
        finally:
            announcer.cancel()

    async def announce_start(self, bot: Any, poll_s: float = 0.5) -> int:
        """``session_started`` once the student is in the room (deduplicated per session)."""
        while not any(peer_field(p, "role") == "student" for p in bot.peers.values()):
            await asyncio.sleep(poll_s)
        return await asyncio.to_thread(self._started, bot.session_id)

    def _started(self, session_id: str) -> int:
        from proctorbot.notifications import events

        try:
            with self.ctx.db.begin() as db:
                return events.session_started(db, session_id)
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


class BotDeparture:
    """The post-session job's first step: the bot leaves once the room is empty.

    The job fires at the scheduled end; an oral exam that runs over must not lose its
    recording, so the bot stays while anyone but itself is in the call, up to
    ``max_overrun_s``, then leaves (closing the files, the manifest, the composite).
    """

    def __init__(
        self, manager: Any, *, poll_s: float = 10.0, max_overrun_s: float = 3600.0
    ) -> None:
        self.manager = manager
        self.poll_s = poll_s
        self.max_overrun_s = max_overrun_s

    async def __call__(self, session_id: str) -> None:
        bot = self.manager.bots.get(session_id)
        if bot is None or not self.manager.is_joined(session_id):
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_overrun_s
        while loop.time() < deadline and any(
            peer_field(p, "role") != "bot" for p in bot.peers.values()
        ):
            await asyncio.sleep(self.poll_s)
        if loop.time() >= deadline:
            log.warning("session %s: people still in the call at the overrun limit", session_id)
        await self.manager.leave(session_id)


LIVE_WATCH_PLUGIN = web.AppKey("proctorbot.bot.live_watch_plugin", LiveWatchPlugin)
HAND_OVER = web.AppKey("proctorbot.bot.hand_over", SessionHandOver)


async def setup(app: web.Application, ctx: AppContext) -> None:
    from proctorbot.bot.service import BOT_MANAGER

    from proctorbot.app import module_exists

    models = ctx.models  # shared with the checklist (checklist.adapters.build_detectors)
    manager = app.get(BOT_MANAGER)
    plugin = LiveWatchPlugin(
        ctx, models, wait_for_admission=module_exists("proctorbot.checklist.service")
    )
    app[LIVE_WATCH_PLUGIN] = plugin
    if manager is not None:
        manager.add_session_plugin(plugin)
    hand_over = SessionHandOver(
        ctx,
        audio_models=models.audio_models,
        transcriber=models.transcriber,
        leave_bot=BotDeparture(manager) if manager is not None else None,
    )
    app[HAND_OVER] = hand_over
    if module_exists("proctorbot.scheduling.service"):
        from proctorbot.scheduling.service import job_hooks

        job_hooks(app).post_session = hand_over
