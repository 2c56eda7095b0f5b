"""Plug-in for ``proctorbot serve``: the checklist runs in every session's bot, and the
examiners' evidence images are served here (examiners, experts, organizers only).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from aiohttp import web
from proctorbot.checklist.adapters import build_detectors
from proctorbot.checklist.checks import EVIDENCE_SUBDIR, CheckThresholds
from proctorbot.checklist.detectors import ChecklistDetectors
from proctorbot.checklist.trial import TrialOutcome, end_after_sample, trial_done_text
from proctorbot.checklist.views import EXAMINER_ROLES
from proctorbot.checklist.wiring import build_runner, trial_sample_seconds
from proctorbot.conference.admission import Refusal, admit
from proctorbot.conference.off_loop import in_thread
from proctorbot.config.catalogue import LANGUAGES, Catalogue

from proctorbot.context import CONTEXT, AppContext

log = logging.getLogger(__name__)


class ChecklistPlugin:
    """A bot session plug-in: ``await plugin(bot)`` runs the session's checklist."""

    __name__ = "checklist"

    def __init__(
        self,
        ctx: AppContext,
        detectors: ChecklistDetectors | None = None,
        thresholds: CheckThresholds | None = None,
    ) -> None:
        self.ctx = ctx
        self._detectors = detectors
        self.thresholds = thresholds

    @property
    def detectors(self) -> ChecklistDetectors:
        if self._detectors is None:  # shared by the sessions of this process: models load once
            self._detectors = build_detectors(self.ctx.settings, self.ctx.models)
        return self._detectors

    async def __call__(self, bot) -> None:  # noqa: ANN001 - proctorbot.bot.SessionBot
        runner = await build_runner(self.ctx, bot, bot.session_id, self.detectors, self.thresholds)
        if runner is None:
            return
        if not runner.trial:
            await runner.run()
            return
        # A trial call: once its checks are decided, a short sample more, then the end.
        sample = await asyncio.to_thread(trial_sample_seconds, runner.profile_name)
        texts = Catalogue.load(runner.language if runner.language in LANGUAGES else "ru")

        async def tell_student(outcome: TrialOutcome) -> None:
            await bot.send_prompt("checklist.trial", trial_done_text(texts, outcome, sample))

        ending = asyncio.create_task(
            end_after_sample(
                lambda: runner.machine.run if runner.machine is not None else None,
                sample_seconds=sample,
                tell_student=tell_student,
                end=bot.request_end,
            ),
            name=f"trial-end-{bot.session_id}",
        )
        try:
            await runner.run()
        finally:
            ending.cancel()


CHECKLIST_PLUGIN = web.AppKey("proctorbot.checklist.plugin", ChecklistPlugin)


async def setup(app: web.Application, ctx: AppContext, plugin: ChecklistPlugin) -> ChecklistPlugin:
    """The checklist's texts and evidence pages; ``plugin`` is the checklist the root added
    to every session's bot (in this process, or in a worker's), kept here for tests."""
    app.router.add_get("/checklist/texts.json", texts)
    # in a thread: its checks read the database and the disk (conference/off_loop.py)
    app.router.add_get("/checklist/evidence/{session_id}/{path:.+}", in_thread(evidence))
    app[CHECKLIST_PLUGIN] = plugin
    return plugin


async def texts(request: web.Request) -> web.Response:
    """The checklist's texts in every language, for conference/static/areas/checklist.js."""
    return web.json_response(
        {lang: Catalogue.load(lang).section("checklist") for lang in LANGUAGES},
        headers={"Cache-Control": "public, max-age=300"},
    )


async def evidence(request: web.Request) -> web.StreamResponse:
    """An evidence file of a session, for a call token of an examiner, expert or organizer.

    The token is checked as the call page checks it (``admit``: the database says the
    session is still open and the person still in it, on every request), then the path
    must name a file under ``evidence/``; anything else (a null byte, ``..``) is a 404."""
    ctx = request.app[CONTEXT]
    session_id = request.match_info["session_id"]
    try:
        admission = admit(ctx, request.query.get("t", ""), roles=tuple(sorted(EXAMINER_ROLES)))
        if admission.session_id != session_id:
            raise Refusal("wrong_session", "the link belongs to another session")
    except Refusal as refused:
        status = 410 if refused.reason == "session_closed" else 403
        return web.Response(status=status, text=f"evidence refused: {refused} ({refused.reason})")
    session_dir = (ctx.settings.recordings_dir / admission.session_id).resolve()
    allowed = (session_dir / EVIDENCE_SUBDIR).resolve()
    try:
        path = (session_dir / request.match_info["path"]).resolve()
    except (ValueError, OSError):  # a null byte, a name too long
        path = None
    if path is None or not path.is_relative_to(allowed) or not path.is_file():
        raise web.HTTPNotFound(text="no such evidence")
    return web.FileResponse(
        Path(path),
        headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
    )
