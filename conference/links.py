"""Call tokens and links: minted here and only here, checked here and only here.

``sign_call_token`` is the one place a call token is made (the demo's links, the bot's
own token, scheduling's invitations and reminders all come through it) and
``verify_call_token`` the one place it is checked (``conference.admission.admit``, for the
call page, the signaling socket and the checklist's evidence).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from proctorbot.conference.tokens import TokenClaims, TokenSigner, call_link
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


CALL_PURPOSE = "call"
# A link for a session stays valid this long after the session's end.
VALID_AFTER_END = dt.timedelta(hours=1)
# A token bound to one device carries "device:<name>" in its extra claim.
DEVICE_CLAIM = "device:"
PHONE_DEVICE = "phone"


def sign_call_token(
    signer: TokenSigner,
    session_id: str,
    role: str,
    person_id: str,
    *,
    min_ttl_hours: float,
    ends_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
    device: str = "",
) -> str:
    """A signed call token: valid ``min_ttl_hours``, and until an hour after ``ends_at``
    (the session's end) when that is later. ``device`` binds the token to one of the
    person's devices (``"phone"``: the second camera's short-lived link); such a token
    opens that device's page and connects only as that device."""
    issued = now.timestamp() if now is not None else time.time()
    ttl = min_ttl_hours * 3600
    if ends_at is not None:
        ttl = max(ttl, (ends_at + VALID_AFTER_END).timestamp() - issued)
    return signer.sign(
        purpose=CALL_PURPOSE,
        session_id=session_id,
        role=role,
        person_id=person_id,
        ttl_seconds=ttl,
        extra=f"{DEVICE_CLAIM}{device}" if device else "",
        now=issued,
    )


def token_device(claims: TokenClaims) -> str:
    """The device a call token is bound to ("" = any: the person's own link)."""
    return claims.extra.removeprefix(DEVICE_CLAIM) if claims.extra.startswith(DEVICE_CLAIM) else ""


def verify_call_token(signer: TokenSigner, token: str, roles: tuple[str, ...]) -> TokenClaims:
    """The claims of a call token for one of ``roles``; ``TokenError`` otherwise."""
    return signer.verify(token, purpose=CALL_PURPOSE, roles=tuple(roles))


def call_token(ctx: AppContext, session_id: str, role: str, person_id: str) -> str:
    """A signed call token valid for `server.call_link_ttl_hours`."""
    return sign_call_token(
        ctx.signer,
        session_id,
        role,
        person_id,
        min_ttl_hours=ctx.settings.server.call_link_ttl_hours,
    )


def phone_link(ctx: AppContext, session_id: str, person_id: str) -> CallLink:
    """The student's second camera: a short-lived link (``conference.phone_link_ttl_minutes``)
    for the same person and session, bound to the device "phone"."""
    token = sign_call_token(
        ctx.signer,
        session_id,
        "student",
        person_id,
        min_ttl_hours=ctx.settings.conference.phone_link_ttl_minutes / 60,
        device=PHONE_DEVICE,
    )
    url = call_link(ctx.settings.server.public_url, token)
    return CallLink(session_id, "student", person_id, "", url, token)


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
