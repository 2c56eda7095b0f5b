"""The organizers' dashboard inside `proctorbot serve`: sign-in, exam days, sessions with
live status, reports, decisions on findings, legal holds, results CSV, and the signed
download links (``/d/<token>/<path>``) that Telegram and e-mail messages carry.

Every access to exam materials, allowed or refused, writes an audit line. A person
sees only their own organization; an examiner only the sessions they belong to.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from aiohttp import web
from proctorbot.conference.tokens import TokenError
from proctorbot.config.catalogue import Catalogue
from proctorbot.report.audit import audit
from proctorbot.report.decisions import DecisionError, current_decisions, record_decision
from proctorbot.report.html import finding_text, template_environment
from proctorbot.report.links import check_download, clean_path, download_link
from proctorbot.report.passwords import verify_password
from proctorbot.report.results import (
    load_session,
    results_csv,
    session_info,
    session_profile,
    summarize,
    summary_json,
)
from proctorbot.report.retention import active_hold, place_hold, release_hold
from proctorbot.report.rules import evaluate
from proctorbot.report.service import rebuild_report
from proctorbot.report.session_files import read_session_folder
from proctorbot.report.tables import AuditEntry
from proctorbot.storage.models import ExamDay, ExamSession, Person, SessionMember
from sqlalchemy import func, select

from proctorbot.context import AppContext

log = logging.getLogger(__name__)

COOKIE = "proctorbot_dashboard"
COOKIE_TTL_SECONDS = 12 * 3600
SIGN_IN_ROLES = ("organizer", "examiner")
LOCKOUT_FAILURES = 5  # refused sign-ins for one e-mail within the window lock it
LOCKOUT_WINDOW_SECONDS = 15 * 60


@dataclass(frozen=True)
class User:
    id: str
    organization_id: str
    role: str
    name: str
    language: str


class Dashboard:
    """The handlers; one instance per application, holding only the context."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.env = template_environment()

    # --- plumbing -------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/dashboard", self.index),
            web.get("/dashboard/", self.index),
            web.get("/dashboard/login", self.login_page),
            web.post("/dashboard/login", self.login),
            web.post("/dashboard/logout", self.logout),
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
            web.get("/d/{token}/{path:.+}", self.download),
        ]

    def _catalogue(self, user: User | None) -> Catalogue:
        language = (
            user.language if user and user.language in ("ru", "en") else self.ctx.settings.language
        )
        return Catalogue.load(language if language in ("ru", "en") else "ru")

    def _page(self, template: str, user: User | None, status: int = 200, **values) -> web.Response:
        catalogue = self._catalogue(user)
        html = self.env.get_template(f"dashboard/{template}").render(
            t=catalogue.section("report"), lang=catalogue.language, user=user, **values
        )
        return web.Response(text=html, content_type="text/html", status=status)

    def _refuse(self, user: User | None, status: int, key: str) -> web.Response:
        catalogue = self._catalogue(user)
        text = catalogue.text(f"report.dashboard.{key}")
        return self._page("message.html", user, status=status, title=text, message=text)

    def _user(self, request: web.Request) -> User | None:
        token = request.cookies.get(COOKIE, "")
        if not token:
            return None
        try:
            claims = self.ctx.signer.verify(token, purpose="dashboard", roles=SIGN_IN_ROLES)
        except TokenError:
            return None
        with self.ctx.db() as db:
            person = db.get(Person, claims.person_id)
            if person is None or person.organization_id != claims.session_id:
                return None
            return User(
                person.id, person.organization_id, person.role, person.full_name, person.language
            )

    def _require(self, request: web.Request) -> User:
        user = self._user(request)
        if user is None:
            raise web.HTTPFound(f"/dashboard/login?next={quote(request.path_qs)}")
        return user

    def _session_dir(self, session_id: str) -> Path:
        return self.ctx.settings.recordings_dir / session_id

    def _audit(self, request: web.Request | None, action: str, outcome: str, **fields) -> None:
        remote = (request.remote or "") if request is not None else ""
        with self.ctx.db() as db:
            audit(db, action, outcome, remote=remote, **fields)
            db.commit()

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
            self._audit(
                request,
                action,
                "refused",
                organization_id=user.organization_id,
                person_id=user.id,
                session_id=session_id,
                target=request.path,
                detail=reason,
            )
            status = 404 if session is None else 403
            key = "not_found" if status == 404 else "refused"
            raise _http_error(self._refuse(user, status, key))
        return session

    # --- sign-in --------------------------------------------------------------------

    async def index(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/dashboard/days")

    async def login_page(self, request: web.Request) -> web.Response:
        return self._page("login.html", None, next=request.query.get("next", "/dashboard/days"))

    async def login(self, request: web.Request) -> web.Response:
        form = await request.post()
        email = str(form.get("email", "")).strip().lower()
        password = str(form.get("password", ""))
        target = str(form.get("next", "") or "/dashboard/days")
        if not target.startswith("/dashboard"):
            target = "/dashboard/days"
        with self.ctx.db() as db:
            since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=LOCKOUT_WINDOW_SECONDS)
            failures = db.scalar(
                select(func.count(AuditEntry.id)).where(
                    AuditEntry.action == "sign_in",
                    AuditEntry.outcome == "refused",
                    AuditEntry.target == email,
                    AuditEntry.at >= since,
                )
            )
            if failures >= LOCKOUT_FAILURES:
                # Guessing passwords: stop checking them for a while, say nothing more.
                self._audit(request, "sign_in", "refused", target=email, detail="locked")
                return self._page(
                    "login.html",
                    None,
                    status=429,
                    next=target,
                    error=self._catalogue(None).text("report.dashboard.bad_credentials"),
                )
            people = db.scalars(
                select(Person).where(
                    func.lower(Person.email) == email, Person.role.in_(SIGN_IN_ROLES)
                )
            ).all()
        person = await asyncio.to_thread(
            lambda: next((p for p in people if verify_password(password, p.password_hash)), None)
        )
        if person is None:
            self._audit(request, "sign_in", "refused", target=email, detail="bad credentials")
            catalogue = self._catalogue(None)
            return self._page(
                "login.html",
                None,
                status=401,
                next=target,
                error=catalogue.text("report.dashboard.bad_credentials"),
            )
        self._audit(
            request,
            "sign_in",
            "allowed",
            organization_id=person.organization_id,
            person_id=person.id,
            target=email,
        )
        token = self.ctx.signer.sign(
            purpose="dashboard",
            session_id=person.organization_id,
            role=person.role,
            person_id=person.id,
            ttl_seconds=COOKIE_TTL_SECONDS,
        )
        response = web.HTTPFound(target)
        response.set_cookie(
            COOKIE,
            token,
            max_age=COOKIE_TTL_SECONDS,
            httponly=True,
            samesite="Strict",
            secure=self.ctx.settings.server.public_url.startswith("https://"),
            path="/",
        )
        raise response

    async def logout(self, request: web.Request) -> web.Response:
        response = web.HTTPFound("/dashboard/login")
        response.del_cookie(COOKIE, path="/")
        raise response

    # --- exam days ------------------------------------------------------------------

    async def days(self, request: web.Request) -> web.Response:
        user = self._require(request)
        with self.ctx.db() as db:
            rows = db.execute(
                select(ExamDay, func.count(ExamSession.id))
                .outerjoin(ExamSession, ExamSession.exam_day_id == ExamDay.id)
                .where(ExamDay.organization_id == user.organization_id)
                .group_by(ExamDay.id)
                .order_by(ExamDay.date.desc())
            ).all()
        return self._page("days.html", user, days=[(day, count) for day, count in rows])

    def _day_summaries(self, request: web.Request, user: User, action: str):
        day_id = request.match_info["day_id"]
        with self.ctx.db() as db:
            day = db.get(ExamDay, day_id)
            if day is None or day.organization_id != user.organization_id:
                self._audit(
                    request,
                    action,
                    "refused",
                    organization_id=user.organization_id,
                    person_id=user.id,
                    target=request.path,
                    detail="no such day" if day is None else "another organization's day",
                )
                status = 404 if day is None else 403
                raise _http_error(
                    self._refuse(user, status, "not_found" if day is None else "refused")
                )
            query = select(ExamSession).where(ExamSession.exam_day_id == day_id)
            if user.role == "examiner":
                query = query.join(SessionMember).where(SessionMember.person_id == user.id)
            sessions = db.scalars(query.order_by(ExamSession.starts_at)).all()
            summaries = [
                summarize(db, s, self._session_dir(s.id), self.ctx.settings.default_profile)
                for s in sessions
            ]
        return day, summaries

    async def day(self, request: web.Request) -> web.Response:
        user = self._require(request)
        day, summaries = self._day_summaries(request, user, "view_day")
        return self._page("day.html", user, day=day, summaries=summaries)

    async def day_json(self, request: web.Request) -> web.Response:
        user = self._user(request)
        if user is None:
            return web.json_response({"error": "sign in"}, status=401)
        _day, summaries = self._day_summaries(request, user, "view_day")
        return web.json_response({"sessions": [summary_json(s) for s in summaries]})

    async def day_csv(self, request: web.Request) -> web.Response:
        user = self._require(request)
        day, summaries = self._day_summaries(request, user, "results_csv")
        self._audit(
            request,
            "results_csv",
            "allowed",
            organization_id=user.organization_id,
            person_id=user.id,
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
        user = self._require(request)
        session = self._allowed_session(request, user, "view_session")
        folder_path = self._session_dir(session.id)
        with self.ctx.db() as db:
            session = load_session(db, session.id)
            info = session_info(db, session)
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
        findings = (
            evaluate(read_session_folder(folder_path, probe=False).events, profile)
            if folder_path.is_dir()
            else []
        )
        catalogue = self._catalogue(user)
        titles = {f.id: finding_text(catalogue, f) for f in findings}
        self._audit(
            request,
            "view_session",
            "allowed",
            organization_id=user.organization_id,
            person_id=user.id,
            session_id=session.id,
            target=request.path,
        )
        return self._page(
            "session.html",
            user,
            session=session,
            info=info,
            summary=summary,
            findings=findings,
            titles=titles,
            decisions=decisions,
            hold=hold,
            access_log=access_log,
            **extra,
        )

    async def build(self, request: web.Request) -> web.Response:
        user = self._require(request)
        session = self._allowed_session(request, user, "build_report")
        try:
            await asyncio.to_thread(rebuild_report, self.ctx, session.id, pdf=True)
        except Exception as exc:  # a PDF failure must not lose the page; say why
            log.exception("report for %s failed", session.id)
            return await self.session_page(request, error=str(exc))
        self._audit(
            request,
            "build_report",
            "done",
            organization_id=user.organization_id,
            person_id=user.id,
            session_id=session.id,
        )
        raise web.HTTPFound(f"/dashboard/sessions/{session.id}")

    async def make_link(self, request: web.Request) -> web.Response:
        user = self._require(request)
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
        self._audit(
            request,
            "make_link",
            "done",
            organization_id=user.organization_id,
            person_id=user.id,
            session_id=session.id,
            detail=f"until {until.isoformat()}",
        )
        notice = self._catalogue(user).text(
            "report.dashboard.link_made", until=until.strftime("%Y-%m-%d %H:%M UTC")
        )
        return await self.session_page(request, link=link, notice=notice)

    async def decide(self, request: web.Request) -> web.Response:
        user = self._require(request)
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
            error = self._catalogue(user).text("report.dashboard.reason_required")
            return await self.session_page(request, error=error)
        report_dir = self._session_dir(session.id) / "report"
        if (report_dir / "report.html").is_file():
            # The acts must match the decisions: reprint the PDFs if there were any.
            with_pdf = (report_dir / "report.pdf").is_file()
            await asyncio.to_thread(rebuild_report, self.ctx, session.id, pdf=with_pdf)
        raise web.HTTPFound(f"/dashboard/sessions/{session.id}")

    async def hold(self, request: web.Request) -> web.Response:
        user = self._require(request)
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
        user = self._require(request)
        session = self._allowed_session(request, user, "view_file")
        return self._serve(
            request, session.id, request.match_info["path"], user.organization_id, user.id
        )

    # --- signed links ---------------------------------------------------------------

    async def download(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        try:
            claims, path = check_download(self.ctx.signer, token, request.match_info["path"])
        except TokenError as exc:
            self._audit(
                request,
                "download",
                "refused",
                target=request.match_info["path"],
                detail=exc.reason,
            )
            key = "link_expired" if exc.reason == "expired" else "link_invalid"
            return self._refuse(None, 403, key)
        with self.ctx.db() as db:
            session = db.get(ExamSession, claims.session_id)
            organization_id = session.organization_id if session else None
        return self._serve(
            request, claims.session_id, path, organization_id, claims.person_id or None
        )

    def _serve(
        self,
        request: web.Request,
        session_id: str,
        path: str,
        organization_id: str | None,
        person_id: str | None,
    ) -> web.StreamResponse:
        root = self._session_dir(session_id).resolve()
        try:
            relative = clean_path(path)
            target = (root / relative).resolve()
            target.relative_to(root)
        except ValueError:
            target = None
        action = "download" if request.path.startswith("/d/") else "view_file"
        if target is None or not target.is_file():
            self._audit(
                request,
                action,
                "refused",
                organization_id=organization_id,
                person_id=person_id,
                session_id=session_id,
                target=path,
                detail="no such file",
            )
            return self._refuse(None, 404, "not_found")
        # A player asks for many byte ranges; the first one stands for the whole file.
        range_header = request.headers.get("Range", "")
        if not range_header or range_header.startswith("bytes=0-"):
            self._audit(
                request,
                action,
                "allowed",
                organization_id=organization_id,
                person_id=person_id,
                session_id=session_id,
                target=relative,
            )
        response = web.FileResponse(target)
        response.headers["Cache-Control"] = "private, no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def _http_error(response: web.Response) -> web.HTTPException:
    """Turn a rendered refusal page into an exception a helper can raise from deep inside."""
    kind = {401: web.HTTPUnauthorized, 403: web.HTTPForbidden}.get(
        response.status, web.HTTPNotFound
    )
    return kind(text=response.text, content_type="text/html")


DASHBOARD = web.AppKey("proctorbot.report.dashboard", Dashboard)


async def setup(app: web.Application, ctx: AppContext) -> None:
    """Plug the dashboard and the download links into `proctorbot serve`."""
    dashboard = Dashboard(ctx)
    app[DASHBOARD] = dashboard
    app.add_routes(dashboard.routes())
