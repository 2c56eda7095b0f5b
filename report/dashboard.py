"""The organizers' dashboard inside `proctorbot serve`: exam days, sessions with live
status, reports, decisions on findings, legal holds, results CSV, download links.

Sign-in is in dashboard_sign_in.py (also the form token every state-changing POST
carries: ``require_form``), file serving and the signed download links
(``/d/<token>/<path>``, the links Telegram and e-mail carry) in dashboard_files.py.

Every access to exam materials, allowed or refused, writes an audit line. A person
sees only their own organization; an examiner only the sessions they belong to.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path

from aiohttp import web
from proctorbot.conference.off_loop import routes_in_thread
from proctorbot.config.profiles import ProfileError, load_profile
from proctorbot.report.audit import audit
from proctorbot.report.build import build_report
from proctorbot.report.dashboard_files import SessionFiles
from proctorbot.report.dashboard_pages import Pages, User, http_error
from proctorbot.report.dashboard_review import review_page
from proctorbot.report.dashboard_sign_in import SignIn
from proctorbot.report.dashboard_trials import TrialCallsPage
from proctorbot.report.decisions import DecisionError, current_decisions, record_decision
from proctorbot.report.links import download_link
from proctorbot.report.results import (
    load_session,
    results_csv,
    session_info,
    session_profile,
    summarize,
    summary_json,
)
from proctorbot.report.retention import active_hold, place_hold, release_hold
from proctorbot.report.service import rebuild_report
from proctorbot.report.tables import AuditEntry
from proctorbot.storage.models import ExamDay, ExamSession, Person, SessionKind, SessionMember
from proctorbot.storage.session_folder import REPORT_DIR
from proctorbot.storage.session_time import zone_of
from sqlalchemy import func, select

from proctorbot.context import AppContext

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"


class Dashboard:
    """The handlers; one instance per application, holding only the context."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.pages = Pages(ctx)
        self.sign_in = SignIn(ctx, self.pages)
        self.files = SessionFiles(ctx, self.pages)
        self.trials = TrialCallsPage(ctx, self.pages, self.sign_in)

    # --- plumbing -------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/dashboard", self.index),
            web.get("/dashboard/", self.index),
            web.get("/dashboard/days", self.days),
            web.get("/dashboard/days/{day_id}", self.day),
            web.get("/dashboard/days/{day_id}/results.csv", self.day_csv),
            web.get("/dashboard/api/days/{day_id}/sessions", self.day_json),
            web.get("/dashboard/sessions/{session_id}", self.session_page),
            web.post("/dashboard/sessions/{session_id}/build", self.build),
            web.post("/dashboard/sessions/{session_id}/link", self.make_link),
            web.post("/dashboard/sessions/{session_id}/hold", self.hold),
            web.post("/dashboard/sessions/{session_id}/findings/{finding_id}", self.decide),
            web.get("/dashboard/sessions/{session_id}/files/{path:.+}", self.session_file),
            *self.sign_in.routes(),
            *self.files.routes(),
            *self.trials.routes(),
        ]

    def _session_dir(self, session_id: str) -> Path:
        return self.ctx.settings.recordings_dir / session_id

    def _allowed_session(self, request: web.Request, user: User, action: str) -> ExamSession:
        """The session named in the URL if this user may see it; refusals are audited."""
        session_id = request.match_info["session_id"]
        with self.ctx.db() as db:
            session = load_session(db, session_id)
            member = db.scalar(
                select(SessionMember).where(
                    SessionMember.session_id == session_id, SessionMember.person_id == user.id
                )
            )
        reason = ""
        if session is None:
            reason = "no such session"
        elif session.organization_id != user.organization_id:
            reason = "another organization's session"
        elif user.role == "examiner" and member is None:
            reason = "not a member of this session"
        if reason:
            self.pages.audit_by(
                request,
                user,
                action,
                "refused",
                session_id=session_id,
                target=request.path,
                detail=reason,
            )
            status = 404 if session is None else 403
            key = "not_found" if status == 404 else "refused"
            raise http_error(self.pages.refuse(user, status, key))
        return session

    async def index(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/dashboard/days")

    # --- exam days ------------------------------------------------------------------

    async def days(self, request: web.Request) -> web.Response:
        user = self.sign_in.require(request)
        with self.ctx.db() as db:
            rows = db.execute(
                select(ExamDay, func.count(ExamSession.id))
                .outerjoin(
                    ExamSession,
                    (ExamSession.exam_day_id == ExamDay.id)
                    & (ExamSession.kind == SessionKind.EXAM),
                )
                .where(ExamDay.organization_id == user.organization_id)
                .group_by(ExamDay.id)
                .order_by(ExamDay.date.desc())
            ).all()
        titles = {}
        for day, _ in rows:  # the profile's title, not its file name
            if day.profile not in titles:
                try:
                    titles[day.profile] = load_profile(day.profile).title
                except ProfileError:
                    titles[day.profile] = day.profile
        return self.pages.page(
            "days.html", user, days=[(day, count) for day, count in rows], profile_titles=titles
        )

    def _day_summaries(self, request: web.Request, user: User, action: str):
        day_id = request.match_info["day_id"]
        with self.ctx.db() as db:
            day = db.get(ExamDay, day_id)
            if day is None or day.organization_id != user.organization_id:
                self.pages.audit_by(
                    request,
                    user,
                    action,
                    "refused",
                    target=request.path,
                    detail="no such day" if day is None else "another organization's day",
                )
                status = 404 if day is None else 403
                raise http_error(
                    self.pages.refuse(user, status, "not_found" if day is None else "refused")
                )
            query = select(ExamSession).where(
                ExamSession.exam_day_id == day_id, ExamSession.kind == SessionKind.EXAM
            )
            if user.role == "examiner":
                query = query.join(SessionMember).where(SessionMember.person_id == user.id)
            sessions = db.scalars(query.order_by(ExamSession.starts_at)).all()
            summaries = [
                summarize(db, s, self._session_dir(s.id), self.ctx.settings.default_profile)
                for s in sessions
            ]
        return day, summaries

    async def day(self, request: web.Request) -> web.Response:
        user = self.sign_in.require(request)
        day, summaries = self._day_summaries(request, user, "view_day")
        zone, tz = zone_of(day.timezone, self.ctx.settings.scheduling.timezone)
        starts = {  # the exam day's clock, the zone named in the column
            s.session_id: dt.datetime.fromisoformat(s.starts_at).astimezone(tz).strftime("%H:%M")
            for s in summaries
        }
        return self.pages.page(
            "day.html", user, day=day, summaries=summaries, zone=zone, starts=starts
        )

    async def day_json(self, request: web.Request) -> web.Response:
        user = self.sign_in.current_user(request)
        if user is None:
            return web.json_response({"error": "sign in"}, status=401)
        _day, summaries = self._day_summaries(request, user, "view_day")
        catalogue = self.pages.catalogue(user)
        sessions = [
            {
                **summary_json(s),
                "status_text": catalogue.texts.get(f"report.session_status.{s.status}", s.status),
            }
            for s in summaries
        ]
        return web.json_response({"sessions": sessions})

    async def day_csv(self, request: web.Request) -> web.Response:
        user = self.sign_in.require(request)
        day, summaries = self._day_summaries(request, user, "results_csv")
        self.pages.audit_by(
            request,
            user,
            "results_csv",
            "allowed",
            target=day.id,
        )
        return web.Response(
            body=results_csv(summaries).encode("utf-8"),
            content_type="text/csv",
            charset="utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="results-{day.date.isoformat()}.csv"'
            },
        )

    # --- one session ----------------------------------------------------------------

    async def session_page(self, request: web.Request, **extra) -> web.Response:
        user = self.sign_in.require(request)
        session = self._allowed_session(request, user, "view_session")
        folder_path = self._session_dir(session.id)
        with self.ctx.db() as db:
            session = load_session(db, session.id)
            info = session_info(db, session, self.ctx.settings.scheduling.timezone)
            summary = summarize(db, session, folder_path, self.ctx.settings.default_profile)
            decisions = current_decisions(db, session.id)
            hold = active_hold(db, session.id)
            access_log = (
                db.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.session_id == session.id)
                    .order_by(AuditEntry.id.desc())
                    .limit(50)
                ).all()
                if user.role == "organizer"
                else []
            )
        profile = session_profile(session, self.ctx.settings.default_profile)
        report = (
            build_report(folder_path, profile, decisions=decisions, info=info, probe=False)
            if folder_path.is_dir()
            else None
        )
        catalogue = self.pages.catalogue(user)
        review = review_page(report, catalogue, session.id, info.student_name)
        tz = zone_of(info.timezone)[1]
        with self.ctx.db() as db:  # the access log names people, not their ids
            people = dict(
                db.execute(
                    select(Person.id, Person.full_name).where(
                        Person.organization_id == session.organization_id
                    )
                ).all()
            )
        self.pages.audit_by(
            request,
            user,
            "view_session",
            "allowed",
            session_id=session.id,
            target=request.path,
        )
        return self.pages.page(
            "session.html",
            user,
            session=session,
            info=info,
            summary=summary,
            review=review,
            profile=profile,
            people=people,
            finding_titles={item.finding.id: item.title for item in review.items},
            local_time=lambda at: at.astimezone(tz).strftime("%d.%m.%Y %H:%M:%S"),
            decisions=decisions,
            hold=hold,
            access_log=access_log,
            **extra,
        )

    async def build(self, request: web.Request) -> web.Response:
        user = await self.sign_in.require_form(request)
        session = self._allowed_session(request, user, "build_report")
        try:
            await asyncio.to_thread(rebuild_report, self.ctx, session.id, pdf=True)
        except Exception as exc:  # a PDF failure must not lose the page; say why
            log.exception("report for %s failed", session.id)
            return await self.session_page(request, error=str(exc))
        self.pages.audit_by(
            request,
            user,
            "build_report",
            "done",
            session_id=session.id,
        )
        raise web.HTTPFound(f"/dashboard/sessions/{session.id}")

    async def make_link(self, request: web.Request) -> web.Response:
        user = await self.sign_in.require_form(request)
        session = self._allowed_session(request, user, "make_link")
        ttl = self.ctx.settings.server.download_link_ttl_minutes * 60
        link = download_link(
            self.ctx.signer,
            self.ctx.settings.server.public_url,
            session.id,
            person_id=user.id,
            ttl_seconds=ttl,
        )
        until = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=ttl)
        self.pages.audit_by(
            request,
            user,
            "make_link",
            "done",
            session_id=session.id,
            detail=f"until {until.isoformat()}",
        )
        notice = self.pages.catalogue(user).text(
            "report.dashboard.link_made", until=until.strftime("%Y-%m-%d %H:%M UTC")
        )
        return await self.session_page(request, link=link, notice=notice)

    async def decide(self, request: web.Request) -> web.Response:
        user = await self.sign_in.require_form(request)
        session = self._allowed_session(request, user, "decision")
        form = await request.post()
        finding_id = request.match_info["finding_id"]
        decision = str(form.get("decision", ""))
        reason = str(form.get("reason", ""))
        try:
            with self.ctx.db() as db:
                record_decision(
                    db,
                    session_id=session.id,
                    finding_id=finding_id,
                    decision=decision,
                    reason=reason,
                    decided_by=user.id,
                )
                audit(
                    db,
                    "decision",
                    "done",
                    organization_id=user.organization_id,
                    person_id=user.id,
                    session_id=session.id,
                    target=finding_id,
                    detail=f"{decision}: {reason}".strip(": "),
                    remote=request.remote or "",
                )
                db.commit()
        except DecisionError:
            error = self.pages.catalogue(user).text("report.dashboard.reason_required")
            return await self.session_page(request, error=error)
        report_dir = self._session_dir(session.id) / REPORT_DIR
        if (report_dir / "report.html").is_file():
            # The acts must match the decisions: reprint the PDFs if there were any.
            with_pdf = (report_dir / "report.pdf").is_file()
            await asyncio.to_thread(rebuild_report, self.ctx, session.id, pdf=with_pdf)
        raise web.HTTPFound(f"/dashboard/sessions/{session.id}")

    async def hold(self, request: web.Request) -> web.Response:
        user = await self.sign_in.require_form(request)
        session = self._allowed_session(request, user, "legal_hold")
        form = await request.post()
        with self.ctx.db() as db:
            if form.get("action") == "release":
                release_hold(db, session.id, person_id=user.id)
            else:
                place_hold(
                    db, session.id, str(form.get("reason", "")) or "appeal", person_id=user.id
                )
            db.commit()
        raise web.HTTPFound(f"/dashboard/sessions/{session.id}")

    async def session_file(self, request: web.Request) -> web.StreamResponse:
        user = self.sign_in.require(request)
        session = self._allowed_session(request, user, "view_file")
        return self.files.serve(
            request, session.id, request.match_info["path"], user.organization_id, user.id
        )


DASHBOARD = web.AppKey("proctorbot.report.dashboard", Dashboard)


async def setup(app: web.Application, ctx: AppContext) -> None:
    """Plug the dashboard and the download links into `proctorbot serve`."""
    dashboard = Dashboard(ctx)
    app[DASHBOARD] = dashboard
    # Every handler reads or writes the database: each runs in a thread (conference/off_loop.py)
    app.add_routes(routes_in_thread(dashboard.routes()))
    # The pages' scripts (no inline script runs under the server's Content-Security-Policy).
    app.router.add_static("/dashboard/static", STATIC_DIR)
