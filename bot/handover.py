"""Plug-in for ``proctorbot serve``: the live watch in every session's bot, and the
hand-over when a session is over.

* a bot session plug-in (``BotManager.add_session_plugin``) that tells the organizers
  the session started when the student joins (``notifications.events.session_started``)
  and runs ``LiveWatch`` once the checklist has admitted the student (status ``live``);
* ``BotManager.after_session`` = ``SessionHandOver``: when the bot has left a session
  that is over (``bot/session_end.py``), the report and the organizers' link first, then
  the composite and the full audio pass, and the report again;
* the scheduled ``post_session`` job = ``SessionCloser``: hands over a session no bot
  records any more (crash, server down at the end);
* at start-up, hand-overs a stop or a crash left undone run again (``resume_hand_overs``);
  on Ctrl+C the console says what is being finished.

Models come from the process's one holder, ``ctx.models`` (``proctorbot.process_models``),
the same the checklist uses: each loads once, lazily, on first use in a worker thread.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from proctorbot.bot.after_session import SessionHandOver, handover_complete
from proctorbot.bot.live_alerts import OutboxAlertSink
from proctorbot.bot.live_watch import LiveDetectors, LiveWatch, LiveWatchOptions, peer_field
from proctorbot.bot.session_bus import PeerJoined

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


def composite_labels(language: str, manifest: Any) -> dict[str, str]:
    """``Name · role`` for each tile of the composite, the role in the session's language."""
    text = _texts(language)
    return {
        entry.participant: f"{entry.name} · {text('conference.role.' + entry.role)}"
        if entry.name
        else text("conference.role." + entry.role)
        for entry in manifest.participants
    }


class SessionCloser:
    """The scheduled post-session job (``proctorbot plan`` places one at each slot's end).

    A bot still in the call leaves by itself once the session is over
    (``bot/session_end.py``) and its hand-over follows; this job only hands over a
    session no bot records any more (it crashed, the server was down at the end) that
    has not been handed over yet."""

    def __init__(self, manager: Any, recordings_dir: Path) -> None:
        self.manager = manager
        self.recordings_dir = recordings_dir

    async def __call__(self, session_id: str) -> str:
        if self.manager.is_joined(session_id):
            return "the bot is in the call; it leaves when the session is over"
        if await asyncio.to_thread(handover_complete, self.recordings_dir / session_id):
            return "already handed over"
        await self.manager.hand_over(session_id)
        return "handed over"


def unfinished_sessions(ctx: AppContext, now: dt.datetime | None = None) -> list[str]:
    """Sessions with a recording whose hand-over never completed: over (by their slot or
    their status) and not being recorded. Oldest first."""
    from proctorbot.storage.models import ExamSession, SessionStatus
    from sqlalchemy import or_, select

    now = now or dt.datetime.now(dt.UTC)
    with ctx.db() as db:
        rows = db.execute(
            select(ExamSession.id)
            .where(ExamSession.status != SessionStatus.CANCELLED)
            .where(or_(ExamSession.ends_at <= now, ExamSession.status == SessionStatus.FINISHED))
            .order_by(ExamSession.ends_at)
        ).all()
    folders = ctx.settings.recordings_dir
    return [
        sid
        for (sid,) in rows
        if (folders / sid / "manifest.json").is_file() and not handover_complete(folders / sid)
    ]


async def resume_hand_overs(ctx: AppContext, manager: Any, delay_s: float = 2.0) -> None:
    """At start-up: hand over, one after another, what a stop or a crash left undone."""
    await asyncio.sleep(delay_s)
    try:
        pending = await asyncio.to_thread(unfinished_sessions, ctx)
    except Exception:  # noqa: BLE001 - the server runs on; the job will retry
        log.exception("sessions left to hand over could not be listed")
        return
    for session_id in pending:
        if manager.is_joined(session_id):
            continue
        log.warning("session %s: its hand-over did not complete; it runs now", session_id)
        await manager.hand_over(session_id)


LIVE_WATCH_PLUGIN = web.AppKey("proctorbot.bot.live_watch_plugin", LiveWatchPlugin)
HAND_OVER = web.AppKey("proctorbot.bot.hand_over", SessionHandOver)
_RESUMER = web.AppKey("proctorbot.bot.handover_resumer", asyncio.Task)


async def setup(app: web.Application, ctx: AppContext) -> None:
    from proctorbot.bot.service import BOT_MANAGER

    from proctorbot.app import module_exists

    models = ctx.models  # shared with the checklist (checklist.adapters.build_detectors)
    manager = app.get(BOT_MANAGER)
    plugin = LiveWatchPlugin(
        ctx, models, wait_for_admission=module_exists("proctorbot.checklist.service")
    )
    app[LIVE_WATCH_PLUGIN] = plugin
    hand_over = SessionHandOver(
        ctx,
        audio_models=models.audio_models,
        transcriber=models.transcriber,
        labels=composite_labels,
    )
    app[HAND_OVER] = hand_over
    if manager is None:
        return
    manager.add_session_plugin(plugin)
    manager.after_session = hand_over
    if module_exists("proctorbot.scheduling.service"):
        from proctorbot.scheduling.service import job_hooks

        job_hooks(app).post_session = SessionCloser(manager, ctx.settings.recordings_dir)

    async def start(app: web.Application) -> None:
        app[_RESUMER] = asyncio.create_task(resume_hand_overs(ctx, manager), name="resume")

    async def announce_stop(app: web.Application) -> None:
        running, handing = manager.running(), manager.handing_over()
        if running or handing:
            log.warning(
                "Stopping: %d session(s) in the call close their recordings now (a few "
                "seconds; their hand-over runs at the next start)%s",
                len(running),
                f"; {len(handing)} hand-over(s) interrupted, resumed at the next start"
                if handing
                else "",
            )
        resumer = app.get(_RESUMER)
        if resumer is not None:
            resumer.cancel()

    app.on_startup.append(start)
    app.on_shutdown.append(announce_stop)
