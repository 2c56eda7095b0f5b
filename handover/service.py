"""Plug-in for ``proctorbot serve``: the live watch in every session's bot, and the
hand-over of every session that is over.

* the bot's session plug-in ``LiveWatchPlugin`` with the outbox as its alert sink and the
  organizers' ``session_started`` notice;
* ``BotManager.after_session`` = ``SessionHandOver``: when the bot has left a session that
  is over (``bot/session_end.py``), the report and the organizers' link first, then the
  composite and the full audio pass, and the report again;
* the scheduled ``post_session`` job = ``SessionCloser`` (returned: the composition root
  gives it to the scheduler): hands over a session no bot records any more (crash,
  server down at the end);
* at start-up, hand-overs a stop or a crash left undone run again (``resume_hand_overs``);
  on Ctrl+C the console says what is being finished.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from proctorbot.bot.live_watch_plugin import LiveWatchPlugin
from proctorbot.bot.manager import BotManager
from proctorbot.handover.closer import SessionCloser, resume_hand_overs
from proctorbot.handover.session_handover import SessionHandOver, composite_labels
from proctorbot.notifications.live_alerts import OutboxAlertSink

from proctorbot.context import AppContext

log = logging.getLogger(__name__)

LIVE_WATCH_PLUGIN = web.AppKey("proctorbot.handover.live_watch_plugin", LiveWatchPlugin)
HAND_OVER = web.AppKey("proctorbot.handover.hand_over", SessionHandOver)
_RESUMER = web.AppKey("proctorbot.handover.resumer", asyncio.Task)


def session_started_notice(ctx: AppContext):  # noqa: ANN201 - Callable[[str], int]
    def announce(session_id: str) -> int:
        from proctorbot.notifications import events

        with ctx.db.begin() as db:
            return events.session_started(db, session_id)

    return announce


def live_watch_plugin(ctx: AppContext, *, wait_for_admission: bool) -> LiveWatchPlugin:
    """The live watch of a session's bot, alerting through the outbox: the same in the web
    process (one-process mode) and in a worker process (workers/).

    ``wait_for_admission``: a checklist runs in the sessions, so the live watch starts
    once the student is admitted (else at once)."""
    return LiveWatchPlugin(
        ctx,
        ctx.models,  # shared with the checklist (checklist.adapters.build_detectors)
        wait_for_admission=wait_for_admission,
        alert_sink=lambda session_id, folder, started_at: OutboxAlertSink(
            ctx, session_id, folder, started_at
        ),
        announce=session_started_notice(ctx),
    )


def session_hand_over(ctx: AppContext) -> SessionHandOver:
    """The hand-over of one session (a web process's bot manager, or a worker's job)."""
    models = ctx.models
    return SessionHandOver(
        ctx,
        audio_models=models.audio_models,
        transcriber=models.transcriber,
        labels=composite_labels,
    )


async def setup(
    app: web.Application, ctx: AppContext, manager: BotManager, *, live_watch: LiveWatchPlugin
) -> SessionCloser:
    """The hand-over after each session ``manager`` runs; ``live_watch`` is the plug-in the
    root added to the manager (``live_watch_plugin``), kept here for tests and handlers."""
    app[LIVE_WATCH_PLUGIN] = live_watch
    hand_over = session_hand_over(ctx)
    app[HAND_OVER] = hand_over
    manager.after_session = hand_over

    async def start(app: web.Application) -> None:
        app[_RESUMER] = asyncio.create_task(
            resume_hand_overs(ctx, manager, retry_archive=hand_over.retry_archive), name="resume"
        )

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
    return SessionCloser(manager, ctx.settings.recordings_dir)
