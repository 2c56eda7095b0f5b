"""Who may enter a call: the token is checked, then the session and the membership.

Both the call page and the WebSocket use `admit`, so a link that opens the page also
opens the signaling, and a refused link is refused with the same reason in both.
"""

from __future__ import annotations

from dataclasses import dataclass

from proctorbot.conference.links import token_device, verify_call_token
from proctorbot.conference.tokens import TokenError
from proctorbot.storage.models import ExamSession, Person, Role, SessionMember, SessionStatus
from proctorbot.storage.session_time import session_zone
from sqlalchemy import select

from proctorbot.context import AppContext

PEOPLE_ROLES = (Role.STUDENT, Role.EXAMINER, Role.EXPERT, Role.ORGANIZER)
ALL_ROLES = (*PEOPLE_ROLES, Role.BOT)

# HTTP status of the refusal page for each reason.
REFUSAL_STATUS = {
    "malformed": 400,
    "forged": 403,
    "wrong_purpose": 403,
    "wrong_session": 403,
    "wrong_role": 403,
    "not_member": 403,
    "expired": 410,
    "session_closed": 410,
    "unknown_session": 404,
}


class Refusal(Exception):
    """A link that must not open the call; `reason` keys the refusal texts."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason

    @property
    def status(self) -> int:
        return REFUSAL_STATUS.get(self.reason, 403)


@dataclass(frozen=True)
class Admission:
    """A verified participant of a session, ready to join its room."""

    session_id: str
    session_title: str
    language: str
    role: str
    person_id: str
    name: str
    # The exam day's time zone (else the settings' one): the clock the page shows.
    timezone: str = "Europe/Moscow"
    # The device the link is bound to ("phone": the second camera's QR link; "" = any).
    device: str = ""
    # The session's rule profile (which sources the call page asks for).
    profile: str = ""


def admit(ctx: AppContext, token: str, roles: tuple[str, ...] = PEOPLE_ROLES) -> Admission:
    """Check a call token against the database; raise Refusal with a reason otherwise."""
    try:
        claims = verify_call_token(ctx.signer, token, roles)
    except TokenError as exc:
        raise Refusal(exc.reason, str(exc)) from None
    with ctx.db() as db:
        session = db.get(ExamSession, claims.session_id)
        if session is None:
            raise Refusal("unknown_session", f"no session {claims.session_id}")
        if session.status in (SessionStatus.FINISHED, SessionStatus.CANCELLED):
            raise Refusal("session_closed", f"session {session.id} is {session.status}")
        if claims.role == Role.BOT:
            name = "proctorbot"
        else:
            member = db.scalar(
                select(SessionMember).where(
                    SessionMember.session_id == session.id,
                    SessionMember.person_id == claims.person_id,
                )
            )
            person = db.get(Person, claims.person_id)
            if member is not None:
                role = member.role
            elif person is not None and person.organization_id == session.organization_id:
                # Organizers watch any session of their organization without being members.
                role = person.role if person.role == Role.ORGANIZER else None
            else:
                role = None
            if role is None or person is None:
                raise Refusal("not_member", f"{claims.person_id} is not in session {session.id}")
            if role != claims.role:
                raise Refusal(
                    "wrong_role", f"{claims.person_id} is a {role}, link says {claims.role}"
                )
            name = person.full_name
        timezone = session_zone(db, session, ctx.settings.scheduling.timezone)
        return Admission(
            session_id=session.id,
            session_title=session.title,
            language=session.language,
            role=claims.role,
            person_id=claims.person_id,
            name=name,
            timezone=timezone,
            device=token_device(claims),
            profile=session.profile,
        )
