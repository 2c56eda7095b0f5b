"""Writing notifications: render the text now, store the row, let the dispatcher send it.

Other areas call ``enqueue`` inside their own transaction, so a notification exists
exactly when the change it reports was committed, and an outage of Telegram or the
mail server loses nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from proctorbot.config.catalogue import Catalogue
from proctorbot.notifications.tables import OutboxMessage, OutboxStatus, TelegramChat
from proctorbot.storage.db import utcnow
from proctorbot.storage.models import Person
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

# Kinds a chat can silence with /mute; reminders, summaries and reports always arrive.
MUTABLE_KINDS = frozenset({"alert", "session_started", "identity_confirmed"})
ATTACHMENT_KINDS = ("photo", "video", "document")


@dataclass(frozen=True)
class Recipient:
    """Somebody without a Person row (a group chat, an office mailbox)."""

    channel: str  # telegram | email
    address: str
    language: str = "ru"


@dataclass(frozen=True)
class Attachment:
    path: Path
    kind: str = "document"  # photo | video | document
    # Where the file can be opened when it is too large to send.
    link: str | None = None


def render(language: str, kind: str, payload: Mapping[str, object]) -> str:
    """The text of ``kind`` (``notifications.<kind>`` or a full ``area.key``)."""
    key = kind if "." in kind else f"notifications.{kind}"
    return Catalogue.load(language).text(key, **payload)


def enqueue(
    db: Session,
    recipient: Person | Recipient,
    kind: str,
    payload: Mapping[str, object],
    *,
    session_id: str | None = None,
    attachment: Attachment | None = None,
    dedupe_key: str | None = None,
) -> OutboxMessage | None:
    """Store one notification for one person; returns the row (None if deduplicated).

    A person with a linked, unblocked chat gets Telegram; otherwise e-mail; with neither
    the row is stored as ``undeliverable`` so the gap is visible, never silent.
    """
    if dedupe_key and db.scalar(
        select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)
    ):
        return None
    if isinstance(recipient, Person):
        channel, address = _route(db, recipient)
        language, person_id = recipient.language or "ru", recipient.id
    else:
        channel, address = recipient.channel, recipient.address
        language, person_id = recipient.language, None
    values = dict(payload)
    text = render(language, kind, values)
    subject_values = {"title": values.get("title", kind)}
    message = OutboxMessage(
        person_id=person_id,
        session_id=session_id,
        channel=channel or "none",
        address=address or "",
        kind=kind,
        language=language,
        subject=render(language, "subject", subject_values),
        text=text,
        attachment_path=str(attachment.path) if attachment else None,
        attachment_kind=attachment.kind if attachment else None,
        link=attachment.link if attachment else None,
        status=OutboxStatus.PENDING,
        next_attempt_at=utcnow(),
        dedupe_key=dedupe_key,
    )
    if channel is None:
        message.status = OutboxStatus.UNDELIVERABLE
        message.last_error = "the person has neither a linked Telegram chat nor an e-mail"
        log.warning("notification %s for %s is undeliverable: no chat, no e-mail", kind, person_id)
    elif channel == "telegram" and kind.split(".")[-1] in MUTABLE_KINDS and _muted(db, address):
        message.status = OutboxStatus.MUTED
    if attachment and attachment.kind not in ATTACHMENT_KINDS:
        raise ValueError(f"attachment kind must be one of {ATTACHMENT_KINDS}")
    try:
        with db.begin_nested():
            db.add(message)
    except IntegrityError:  # the same dedupe key written concurrently
        return None
    return message


def pending_count(db: Session) -> int:
    from sqlalchemy import func

    return db.scalar(select(func.count()).where(OutboxMessage.status == OutboxStatus.PENDING)) or 0


def _route(db: Session, person: Person) -> tuple[str | None, str | None]:
    if person.telegram_chat_id is not None:
        chat = db.get(TelegramChat, person.telegram_chat_id)
        if chat is None or chat.blocked_at is None:
            return "telegram", str(person.telegram_chat_id)
    if person.email:
        return "email", person.email
    return None, None


def _muted(db: Session, address: str) -> bool:
    try:
        chat = db.get(TelegramChat, int(address))
    except ValueError:
        return False
    return bool(chat and chat.muted)


def backoff(attempts: int, base: float, maximum: float) -> dt.timedelta:
    """2, 4, 8 … seconds (with the defaults), never more than ``maximum``."""
    return dt.timedelta(seconds=min(maximum, base * 2 ** max(0, attempts - 1)))
