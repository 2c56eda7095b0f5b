"""What every dashboard handler shares: pages in the user's language, refusals, audit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web
from jinja2 import Environment
from proctorbot.config.catalogue import Catalogue
from proctorbot.report.audit import audit
from proctorbot.report.html import template_environment

from proctorbot.context import AppContext


@dataclass(frozen=True)
class User:
    """A signed-in organizer or examiner."""

    id: str
    organization_id: str
    role: str
    name: str
    language: str
    csrf: str = ""  # the form token of this sign-in (dashboard_sign_in.csrf_token)


class Pages:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.env: Environment = template_environment()

    def catalogue(self, user: User | None) -> Catalogue:
        language = user.language if user else self.ctx.settings.language
        return Catalogue.load(language if language in ("ru", "en") else "ru")

    def page(self, template: str, user: User | None, status: int = 200, **values) -> web.Response:
        catalogue = self.catalogue(user)
        html = self.env.get_template(f"dashboard/{template}").render(
            t=catalogue.section("report"), lang=catalogue.language, user=user, **values
        )
        return web.Response(text=html, content_type="text/html", status=status)

    def refuse(self, user: User | None, status: int, key: str) -> web.Response:
        """A page that says no (``key`` under report.dashboard), with its status."""
        text = self.catalogue(user).text(f"report.dashboard.{key}")
        return self.page("message.html", user, status=status, title=text, message=text)

    def audit(self, request: web.Request | None, action: str, outcome: str, **fields) -> None:
        """One audit line in its own transaction."""
        remote = (request.remote or "") if request is not None else ""
        with self.ctx.db() as db:
            audit(db, action, outcome, remote=remote, **fields)
            db.commit()

    def audit_by(self, request: web.Request, who: Any, action: str, outcome: str, **fields) -> None:
        """An audit line for a signed-in person (anything with ``id`` and ``organization_id``)."""
        self.audit(
            request,
            action,
            outcome,
            organization_id=who.organization_id,
            person_id=who.id,
            **fields,
        )


def http_error(response: web.Response) -> web.HTTPException:
    """Turn a rendered refusal page into an exception a helper can raise from deep inside."""
    kind = {401: web.HTTPUnauthorized, 403: web.HTTPForbidden, 429: web.HTTPTooManyRequests}
    return kind.get(response.status, web.HTTPNotFound)(text=response.text, content_type="text/html")
