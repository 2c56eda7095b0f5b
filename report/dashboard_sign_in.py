"""Signing in to the dashboard: organizers and examiners with a password, a signed cookie.

The cookie is a token from conference/tokens.py with purpose "dashboard" (the
organization in its session field), so no server-side session store is needed.
Five refused sign-ins for one e-mail within 15 minutes lock it for the rest of the window.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from urllib.parse import quote

from aiohttp import web
from proctorbot.conference.tokens import TokenError
from proctorbot.report.dashboard_pages import Pages, User
from proctorbot.report.passwords import verify_password
from proctorbot.report.tables import AuditEntry
from proctorbot.storage.models import Person
from sqlalchemy import func, select

from proctorbot.context import AppContext

COOKIE = "proctorbot_dashboard"
COOKIE_TTL_SECONDS = 12 * 3600
SIGN_IN_ROLES = ("organizer", "examiner")
LOCKOUT_FAILURES = 5  # refused sign-ins for one e-mail within the window lock it
LOCKOUT_WINDOW_SECONDS = 15 * 60


class SignIn:
    def __init__(self, ctx: AppContext, pages: Pages) -> None:
        self.ctx = ctx
        self.pages = pages

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/dashboard/login", self.login_page),
            web.post("/dashboard/login", self.login),
            web.post("/dashboard/logout", self.logout),
        ]

    def current_user(self, request: web.Request) -> User | None:
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

    def require(self, request: web.Request) -> User:
        """The signed-in user, or a redirect to the sign-in page that comes back here."""
        user = self.current_user(request)
        if user is None:
            raise web.HTTPFound(f"/dashboard/login?next={quote(request.path_qs)}")
        return user

    async def login_page(self, request: web.Request) -> web.Response:
        return self.pages.page(
            "login.html", None, next=request.query.get("next", "/dashboard/days")
        )

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
                self.pages.audit(request, "sign_in", "refused", target=email, detail="locked")
                return self.pages.page(
                    "login.html",
                    None,
                    status=429,
                    next=target,
                    error=self.pages.catalogue(None).text("report.dashboard.bad_credentials"),
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
            self.pages.audit(request, "sign_in", "refused", target=email, detail="bad credentials")
            catalogue = self.pages.catalogue(None)
            return self.pages.page(
                "login.html",
                None,
                status=401,
                next=target,
                error=catalogue.text("report.dashboard.bad_credentials"),
            )
        self.pages.audit_by(
            request,
            person,
            "sign_in",
            "allowed",
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
