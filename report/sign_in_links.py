"""One-time sign-in links: the way in for an organizer whose account is being guessed at.

While somebody keeps guessing, the account's password tries stay locked
(report/sign_in_guard.py), for the owner too. The owner asks for a link on the sign-in
page; it goes through the outbox (notifications/outbox.enqueue) to their Telegram chat
or e-mail, works once, for ``LINK_TTL_MINUTES``. Only the SHA-256 of the link's secret is
stored; spending it is one ``UPDATE ... WHERE used_at IS NULL``, so two clicks (or a
stolen copy racing the owner) cannot both sign in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from proctorbot.config.catalogue import Catalogue
from proctorbot.notifications.outbox import enqueue
from proctorbot.report.tables import SignInLink
from proctorbot.storage.db import utcnow
from proctorbot.storage.models import Person
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

LINK_TTL_MINUTES = 15
LINK_PATH = "/dashboard/login/link/"
MESSAGE_KIND = "report.dashboard.sign_in_link_message"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def people_signing_in_as(db: Session, email: str, roles: tuple[str, ...]) -> list[Person]:
    """The accounts an e-mail signs in to (one per organization it belongs to)."""
    return list(
        db.scalars(select(Person).where(func.lower(Person.email) == email, Person.role.in_(roles)))
    )


def new_sign_in_link(
    db: Session,
    person: Person,
    public_url: str,
    *,
    ttl_minutes: float = LINK_TTL_MINUTES,
    now: dt.datetime | None = None,
) -> str:
    """Store a new one-time link for ``person`` (the caller commits) and return its URL,
    sending nothing: ``send_sign_in_link`` mails it, `proctorbot serve --demo` prints one
    for the demo organizer."""
    current = now or utcnow()
    secret = secrets.token_urlsafe(32)
    db.add(
        SignInLink(
            token_hash=_digest(secret),
            person_id=person.id,
            created_at=current,
            expires_at=current + dt.timedelta(minutes=ttl_minutes),
        )
    )
    return f"{public_url.rstrip('/')}{LINK_PATH}{secret}"


def send_sign_in_link(
    db: Session, person: Person, public_url: str, *, now: dt.datetime | None = None
) -> str:
    """Store a new link for ``person`` and queue the message that carries it (the caller
    commits both together); returns the URL."""
    url = new_sign_in_link(db, person, public_url, now=now)
    language = person.language if person.language in ("ru", "en") else "ru"
    title = Catalogue.load(language).text("report.dashboard.sign_in_link_title")
    enqueue(db, person, MESSAGE_KIND, {"url": url, "minutes": LINK_TTL_MINUTES, "title": title})
    return url


def link_is_open(db: Session, secret: str, *, now: dt.datetime | None = None) -> bool:
    """Whether the link can still be spent (for the page that asks to press the button)."""
    link = db.get(SignInLink, _digest(secret))
    return link is not None and link.used_at is None and link.expires_at > (now or utcnow())


def spend_sign_in_link(
    db: Session, secret: str, roles: tuple[str, ...], *, now: dt.datetime | None = None
) -> Person | None:
    """The person the link signs in, once: the first call marks it used, every later
    one (and an expired or unknown link, or a person no longer allowed in) gets None."""
    current = now or utcnow()
    digest = _digest(secret)
    spent = db.execute(
        update(SignInLink)
        .where(
            SignInLink.token_hash == digest,
            SignInLink.used_at.is_(None),
            SignInLink.expires_at > current,
        )
        .values(used_at=current)
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:
        return None
    person = db.get(Person, db.get(SignInLink, digest).person_id)
    return person if person is not None and person.role in roles else None
