"""Call links for the people of a session (used by the demo, scheduling, notifications)."""

from __future__ import annotations

from dataclasses import dataclass

from proctorbot.conference.tokens import call_link
from proctorbot.storage.models import Person, SessionMember
from sqlalchemy import select

from proctorbot.context import AppContext


@dataclass(frozen=True)
class CallLink:
    session_id: str
    role: str
    person_id: str
    name: str
    url: str
    token: str


def call_token(ctx: AppContext, session_id: str, role: str, person_id: str) -> str:
    """A signed call token valid for `server.call_link_ttl_hours`."""
    return ctx.signer.sign(
        purpose="call",
        session_id=session_id,
        role=role,
        person_id=person_id,
        ttl_seconds=ctx.settings.server.call_link_ttl_hours * 3600,
    )


def bot_token(ctx: AppContext, session_id: str) -> str:
    """The token the bot uses for `/ws?t=...` of a session."""
    return call_token(ctx, session_id, "bot", "bot")


def session_links(ctx: AppContext, session_id: str) -> list[CallLink]:
    """One link per member of the session, in role order (student first)."""
    order = {"student": 0, "examiner": 1, "expert": 2, "organizer": 3}
    with ctx.db() as db:
        rows = db.execute(
            select(SessionMember.role, Person.id, Person.full_name)
            .join(Person, Person.id == SessionMember.person_id)
            .where(SessionMember.session_id == session_id)
        ).all()
    links = []
    for role, person_id, name in sorted(rows, key=lambda r: (order.get(r[0], 9), r[2])):
        token = call_token(ctx, session_id, role, person_id)
        url = call_link(ctx.settings.server.public_url, token)
        links.append(CallLink(session_id, role, person_id, name, url, token))
    return links
