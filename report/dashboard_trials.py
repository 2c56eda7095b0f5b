"""The organizers' page of an exam day's trial calls [003 §3]: per student passed / failed
(the step and the reason in words) / did not attend / not held yet, and first the
students to contact before the exam, with their e-mail and Telegram.

The results are scheduling's (``scheduling.trial_calls.trial_results``); this page only
puts them in words. An examiner sees no trial calls (they are the organizers' work).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from aiohttp import web
from proctorbot.checklist.trial import trial_reason_text
from proctorbot.report.dashboard_pages import Pages, http_error
from proctorbot.report.dashboard_sign_in import SignIn
from proctorbot.scheduling.trial_calls import TrialResult, trial_results
from proctorbot.storage.db import utcnow
from proctorbot.storage.models import ExamDay
from proctorbot.storage.session_time import zone_of

from proctorbot.context import AppContext


@dataclass(frozen=True)
class TrialRow:
    """One line of the table, every value already in words."""

    result: TrialResult
    trial_at: str  # the exam day's clock, or "—"
    exam_at: str
    state: str
    reason: str
    contacts: str


class TrialCallsPage:
    def __init__(self, ctx: AppContext, pages: Pages, sign_in: SignIn) -> None:
        self.ctx = ctx
        self.pages = pages
        self.sign_in = sign_in

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/dashboard/days/{day_id}/trial-calls", self.page)]

    async def page(self, request: web.Request) -> web.Response:
        user = self.sign_in.require(request)
        day_id = request.match_info["day_id"]
        with self.ctx.db() as db:
            day = db.get(ExamDay, day_id)
            allowed = day is not None and day.organization_id == user.organization_id
            if not allowed or user.role != "organizer":
                reason = "no such day" if day is None else "not an organizer of this day"
                self.pages.audit_by(
                    request, user, "view_trials", "refused", target=request.path, detail=reason
                )
                status = 404 if day is None else 403
                raise http_error(
                    self.pages.refuse(user, status, "not_found" if day is None else "refused")
                )
            results = trial_results(db, day_id, utcnow())
        self.pages.audit_by(request, user, "view_trials", "allowed", target=request.path)
        zone, tz = zone_of(day.timezone, self.ctx.settings.scheduling.timezone)
        texts = self.pages.catalogue(user)
        rows = [self._row(result, tz, texts) for result in results]
        return self.pages.page(
            "trial_calls.html",
            user,
            day=day,
            zone=zone,
            rows=rows,
            to_contact=[row for row in rows if row.result.needs_contact],
            tt=texts.section("report.trials"),
        )

    @staticmethod
    def _row(result: TrialResult, tz: dt.tzinfo, texts) -> TrialRow:  # noqa: ANN001 - Catalogue
        def clock(moment: dt.datetime | None) -> str:
            return moment.astimezone(tz).strftime("%d.%m %H:%M") if moment else "—"

        reason = trial_reason_text(texts, result.outcome) if result.outcome else ""
        contacts = ", ".join(c for c in (result.email, result.telegram) if c)
        return TrialRow(
            result=result,
            trial_at=clock(result.trial_starts_at),
            exam_at=clock(result.exam_starts_at),
            state=texts.text(f"checklist.trial.status.{result.state}"),
            reason=reason,
            contacts=contacts or texts.text("report.trials.no_contacts"),
        )
