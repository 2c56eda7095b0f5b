"""Signing in to the dashboard: organizers and examiners with a password, a signed cookie.

The cookie is a token from conference/tokens.py with purpose "dashboard" (the
organization in its session field), so no server-side session store is needed.
Five refused sign-ins for one e-mail within 15 minutes lock it for the rest of the window.

Cross-site requests, on top of the SameSite=Strict cookie: every form a signed-in page
renders carries a token derived from the cookie (`csrf_token`), which another site can
make the browser send but can never read, and every state-changing POST but the sign-in
checks it (`require_form`). The sign-in itself has no cookie yet; it is refused when the
browser says (Origin, else Referer) that it comes from another site.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
from urllib.parse import quote, urlsplit

from aiohttp import web
from proctorbot.conference.tokens import TokenError, TokenSigner
from proctorbot.report.dashboard_pages import Pages, User, http_error
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
CSRF_FIELD = "csrf"  # the hidden form field that carries csrf_token


def csrf_token(signer: TokenSigner, cookie: str) -> str:
    """The form token of one sign-in: an HMAC of its cookie under a key kept for this use
    only, so it changes with every sign-in and is no token of any other kind."""
    key = hmac.new(signer.secret, b"proctorbot dashboard csrf", hashlib.sha256).digest()
    return hmac.new(key, cookie.encode(), hashlib.sha256).hexdigest()


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
                person.id,
                person.organization_id,
                person.role,
                person.full_name,
                person.language,
                csrf=csrf_token(self.ctx.signer, token),
            )

    def require(self, request: web.Request) -> User:
        """The signed-in user, or a redirect to the sign-in page that comes back here."""
        user = self.current_user(request)
        if user is None:
            raise web.HTTPFound(f"/dashboard/login?next={quote(request.path_qs)}")
        return user

    async def require_form(self, request: web.Request) -> User:
        """The signed-in user of a state-changing POST, once its form carries their token;
        without it a 403 (audited) before anything is done."""
        user = self.require(request)
        await self._check_form_token(request, user)
        return user

    async def _check_form_token(self, request: web.Request, user: User) -> None:
        given = str((await request.post()).get(CSRF_FIELD, ""))
        if hmac.compare_digest(given.encode(), user.csrf.encode()):
            return
        self.pages.audit_by(
            request,
            user,
            "csrf",
            "refused",
            session_id=request.match_info.get("session_id"),
            target=request.path,
            detail="wrong form token" if given else "no form token",
        )
        raise http_error(self.pages.refuse(user, 403, "csrf_refused"))

    def _other_site(self, request: web.Request) -> str:
        """The Origin (else Referer) of a request when it names another site; "" otherwise,
        also when the browser sent neither."""
        source = request.headers.get("Origin") or request.headers.get("Referer") or ""
        if not source:
            return ""
        ours = {request.host, urlsplit(self.ctx.settings.server.public_url).netloc}
        return "" if urlsplit(source).netloc in ours else source

    async def login_page(self, request: web.Request) -> web.Response:
        return self.pages.page(
            "login.html", None, next=request.query.get("next", "/dashboard/days")
        )

    async def login(self, request: web.Request) -> web.Response:
        other_site = self._other_site(request)
        if other_site:
            # Audited apart from the refused sign-ins: it must not count toward the lock-out.
            self.pages.audit(
                request, "csrf", "refused", target=request.path, detail=f"from {other_site}"
            )
            return self.pages.refuse(None, 403, "csrf_refused")
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
        user = self.current_user(request)
        if user is not None:  # signed out already: nothing to protect
            await self._check_form_token(request, user)
        response = web.HTTPFound("/dashboard/login")
        response.del_cookie(COOKIE, path="/")
        raise response
