"""The dashboard's one-time sign-in links (report/sign_in_links.py) over HTTP.

``POST /dashboard/login/link``: an e-mail asks for a link; the answer is the same whether
the e-mail has an account or not (nothing to learn by asking), and at most 3 links per
e-mail and 20 per address are sent in 15 minutes. ``GET /dashboard/login/link/<secret>``
shows a button and spends nothing, so a chat's or a mail scanner's link preview cannot
use the link up; ``POST`` to the same address spends it and signs in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web
from proctorbot.report.dashboard_pages import Pages
from proctorbot.report.sign_in_guard import LINK_ACCOUNT_LIMIT, LINK_ADDRESS_LIMIT, first_passed
from proctorbot.report.sign_in_links import (
    LINK_PATH,
    LINK_TTL_MINUTES,
    link_is_open,
    people_signing_in_as,
    send_sign_in_link,
    spend_sign_in_link,
)

from proctorbot.context import AppContext

if TYPE_CHECKING:
    from proctorbot.report.dashboard_sign_in import SignIn


class SignInLinks:
    def __init__(self, ctx: AppContext, pages: Pages, sign_in: SignIn) -> None:
        self.ctx = ctx
        self.pages = pages
        self.sign_in = sign_in

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/dashboard/login/link", self.ask),
            web.get(LINK_PATH + "{secret}", self.confirm_page),
            web.post(LINK_PATH + "{secret}", self.spend),
        ]

    async def ask(self, request: web.Request) -> web.Response:
        from proctorbot.report.dashboard_sign_in import SIGN_IN_ROLES

        refused = await self.sign_in.refused_sign_in_form(request)
        if refused is not None:
            return refused
        email = str((await request.post()).get("email", "")).strip().lower()
        catalogue = self.pages.catalogue(None)
        limits = {LINK_ACCOUNT_LIMIT: email, LINK_ADDRESS_LIMIT: request.remote or ""}
        with self.ctx.db() as db:
            over = first_passed(db, limits)
            db.commit()
            people = people_signing_in_as(db, email, SIGN_IN_ROLES) if over is None else []
            for person in people:
                send_sign_in_link(db, person, self.ctx.settings.server.public_url)
            db.commit()
        if over is not None:
            self.pages.audit(
                request, "sign_in_link", "refused", target=email, detail=f"limit ({over.scope})"
            )
            text = catalogue.text("report.dashboard.link_requests_too_many")
            return self.pages.page("message.html", None, status=429, title=text, message=text)
        for person in people:
            self.pages.audit_by(request, person, "sign_in_link", "sent", target=email)
        if not people:
            self.pages.audit(request, "sign_in_link", "refused", target=email, detail="no account")
        return self.pages.page(
            "message.html",
            None,
            title=catalogue.text("report.dashboard.link_requested_title"),
            message=catalogue.text("report.dashboard.link_requested", minutes=LINK_TTL_MINUTES),
        )

    async def confirm_page(self, request: web.Request) -> web.Response:
        with self.ctx.db() as db:
            open_ = link_is_open(db, request.match_info["secret"])
        if not open_:
            return self.pages.refuse(None, 410, "link_used")
        return self.sign_in.login_form_page(request, "sign_in_link.html", action=request.path)

    async def spend(self, request: web.Request) -> web.Response:
        from proctorbot.report.dashboard_sign_in import SIGN_IN_ROLES

        refused = await self.sign_in.refused_sign_in_form(request)
        if refused is not None:
            return refused
        with self.ctx.db() as db:
            person = spend_sign_in_link(db, request.match_info["secret"], SIGN_IN_ROLES)
            db.commit()
        if person is None:
            self.pages.audit(
                request, "sign_in", "refused", target="one-time link", detail="used or expired"
            )
            return self.pages.refuse(None, 410, "link_used")
        self.pages.audit_by(
            request, person, "sign_in", "allowed", target=person.email or "", detail="one-time link"
        )
        raise self.sign_in.signed_in(person, "/dashboard/days")
