"""Signing in to the dashboard: organizers and examiners with a password, a signed cookie.

The cookie is a token from conference/tokens.py with purpose "dashboard" (the
organization in its session field), so no server-side session store is needed.
Every try is counted in the database before its password is checked
(report/sign_in_guard.py): 5 per e-mail and 20 per address in 15 minutes, whatever
arrives in parallel. A locked-out owner signs in with a one-time link sent by Telegram or
e-mail (dashboard_sign_in_link.py).

Cross-site requests, on top of the SameSite=Strict cookie: every form a signed-in page
renders carries a token derived from the cookie (`csrf_token`), which another site can
make the browser send but can never read, and every state-changing POST but the sign-in
checks it (`require_form`). The sign-in forms (password, one-time link) have no sign-in
cookie yet: they carry a token bound to a cookie of their own (`login_form_token`, set by
the page that shows the form; SameSite=Strict, so another site's form arrives without it)
and are refused when the browser says (Origin, else Referer) that they come from another
site. Pages send ``Referrer-Policy: no-referrer``, under which the browser's Origin of a
form post is "null": that names no site and is left to the form token.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from urllib.parse import quote, urlsplit

from aiohttp import web
from proctorbot.conference.tokens import TokenError, TokenSigner
from proctorbot.report.dashboard_pages import Pages, User, http_error
from proctorbot.report.passwords import verify_password
from proctorbot.report.sign_in_guard import ACCOUNT_LIMIT, ADDRESS_LIMIT, first_passed, refund
from proctorbot.report.sign_in_links import people_signing_in_as
from proctorbot.storage.models import Person

from proctorbot.context import AppContext

COOKIE = "proctorbot_dashboard"
COOKIE_TTL_SECONDS = 12 * 3600
LOGIN_COOKIE = "proctorbot_login"  # binds the sign-in forms' token (login_form_token)
SIGN_IN_ROLES = ("organizer", "examiner")
CSRF_FIELD = "csrf"  # the hidden form field that carries csrf_token / login_form_token


def csrf_token(signer: TokenSigner, cookie: str) -> str:
    """The form token of one sign-in: an HMAC of its cookie under a key kept for this use
    only, so it changes with every sign-in and is no token of any other kind."""
    key = hmac.new(signer.secret, b"proctorbot dashboard csrf", hashlib.sha256).digest()
    return hmac.new(key, cookie.encode(), hashlib.sha256).hexdigest()


def login_form_token(signer: TokenSigner, cookie: str) -> str:
    """The token of the sign-in forms: an HMAC of the browser's login cookie."""
    key = hmac.new(signer.secret, b"proctorbot dashboard login", hashlib.sha256).digest()
    return hmac.new(key, cookie.encode(), hashlib.sha256).hexdigest()


class SignIn:
    def __init__(self, ctx: AppContext, pages: Pages) -> None:
        self.ctx = ctx
        self.pages = pages

    def routes(self) -> list[web.RouteDef]:
        from proctorbot.report.dashboard_sign_in_link import SignInLinks

        return [
            web.get("/dashboard/login", self.login_page),
            web.post("/dashboard/login", self.login),
            web.post("/dashboard/logout", self.logout),
            *SignInLinks(self.ctx, self.pages, self).routes(),
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
        also when the browser sent neither, or an Origin of "null" (no-referrer pages)."""
        origin = request.headers.get("Origin", "")
        source = (origin if origin != "null" else "") or request.headers.get("Referer") or ""
        if not source:
            return ""
        ours = {request.host, urlsplit(self.ctx.settings.server.public_url).netloc}
        return "" if urlsplit(source).netloc in ours else source

    def login_form_page(
        self, request: web.Request, template: str, *, status: int = 200, **values
    ) -> web.Response:
        """A page with a sign-in form: its token, and the login cookie it is bound to
        (made here when the browser has none yet)."""
        cookie = request.cookies.get(LOGIN_COOKIE, "")
        fresh = not cookie
        if fresh:
            cookie = secrets.token_urlsafe(24)
        response = self.pages.page(
            template,
            None,
            status=status,
            login_csrf=login_form_token(self.ctx.signer, cookie),
            **values,
        )
        if fresh:
            response.set_cookie(
                LOGIN_COOKIE,
                cookie,
                httponly=True,
                samesite="Strict",
                secure=self.ctx.settings.server.public_url.startswith("https://"),
                path="/dashboard",
            )
        return response

    async def refused_sign_in_form(self, request: web.Request) -> web.Response | None:
        """None when a sign-in form post comes from our own page; else the 403 page
        (audited as csrf, not counted toward any lock-out)."""
        other_site = self._other_site(request)
        if other_site:
            detail = f"from {other_site}"
        else:
            given = str((await request.post()).get(CSRF_FIELD, ""))
            cookie = request.cookies.get(LOGIN_COOKIE, "")
            expected = login_form_token(self.ctx.signer, cookie) if cookie else ""
            if expected and hmac.compare_digest(given.encode(), expected.encode()):
                return None
            detail = "wrong sign-in form token" if given else "no sign-in form token"
        self.pages.audit(request, "csrf", "refused", target=request.path, detail=detail)
        return self.pages.refuse(None, 403, "csrf_refused")

    async def login_page(self, request: web.Request) -> web.Response:
        return self.login_form_page(
            request, "login.html", next=request.query.get("next", "/dashboard/days")
        )

    async def login(self, request: web.Request) -> web.Response:
        refused = await self.refused_sign_in_form(request)
        if refused is not None:
            return refused
        form = await request.post()
        email = str(form.get("email", "")).strip().lower()
        password = str(form.get("password", ""))
        target = str(form.get("next", "") or "/dashboard/days")
        if not target.startswith("/dashboard"):
            target = "/dashboard/days"
        limits = {ACCOUNT_LIMIT: email, ADDRESS_LIMIT: request.remote or ""}
        with self.ctx.db() as db:
            # Counted and committed before the password is looked at: parallel tries
            # each see the others (sign_in_guard.py).
            over = first_passed(db, limits)
            db.commit()
            people = people_signing_in_as(db, email, SIGN_IN_ROLES) if over is None else []
        catalogue = self.pages.catalogue(None)
        if over is not None:
            # Guessing passwords: stop checking them for a while; the owner can ask for a link.
            self.pages.audit(
                request, "sign_in", "refused", target=email, detail=f"locked ({over.scope})"
            )
            return self.login_form_page(
                request,
                "login.html",
                status=429,
                next=target,
                error=catalogue.text("report.dashboard.too_many_attempts"),
            )
        person = await asyncio.to_thread(
            lambda: next((p for p in people if verify_password(password, p.password_hash)), None)
        )
        if person is None:
            self.pages.audit(request, "sign_in", "refused", target=email, detail="bad credentials")
            return self.login_form_page(
                request,
                "login.html",
                status=401,
                next=target,
                error=catalogue.text("report.dashboard.bad_credentials"),
            )
        with self.ctx.db() as db:
            refund(db, limits)  # the right password costs no try
            db.commit()
        self.pages.audit_by(
            request,
            person,
            "sign_in",
            "allowed",
            target=email,
        )
        raise self.signed_in(person, target)

    def signed_in(self, person: Person, target: str) -> web.HTTPFound:
        """The redirect to ``target`` that carries a new sign-in cookie for ``person``."""
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
        return response

    async def logout(self, request: web.Request) -> web.Response:
        user = self.current_user(request)
        if user is not None:  # signed out already: nothing to protect
            await self._check_form_token(request, user)
        response = web.HTTPFound("/dashboard/login")
        response.del_cookie(COOKIE, path="/")
        raise response
