"""A chat that blocked the bot: mark it, move its queue to e-mail, tell the organizers."""

from __future__ import annotations

import logging

from proctorbot.notifications.outbox import enqueue
from proctorbot.notifications.tables import OutboxMessage, OutboxStatus, TelegramChat
from proctorbot.storage.db import utcnow
from proctorbot.storage.models import Person, Role
from sqlalchemy import select
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


def handle_blocked_chat(db: Session, chat_id: int) -> int:
    """Returns how many queued messages were affected; none is retried on Telegram again."""
    chat = db.get(TelegramChat, chat_id)
    if chat is None:
        chat = TelegramChat(chat_id=chat_id)
        db.add(chat)
    chat.blocked_at = utcnow()
    pending = db.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.channel == "telegram",
            OutboxMessage.address == str(chat_id),
            OutboxMessage.status == OutboxStatus.PENDING,
        )
        .order_by(OutboxMessage.id)
    ).all()
    person = db.get(Person, chat.person_id) if chat.person_id else None
    if person is None:
        person = db.scalar(select(Person).where(Person.telegram_chat_id == chat_id))
    for message in pending:
        message.status = OutboxStatus.BLOCKED
        if person is not None and person.email:
            db.add(
                OutboxMessage(
                    person_id=person.id,
                    session_id=message.session_id,
                    channel="email",
                    address=person.email,
                    kind=message.kind,
                    language=message.language,
                    subject=message.subject,
                    text=message.text,
                    attachment_path=message.attachment_path,
                    attachment_kind=message.attachment_kind,
                    link=message.link,
                    status=OutboxStatus.PENDING,
                    next_attempt_at=utcnow(),
                )
            )
    db.flush()
    if person is not None:
        organizers = db.scalars(
            select(Person).where(
                Person.organization_id == person.organization_id,
                Person.role == Role.ORGANIZER,
                Person.id != person.id,
            )
        ).all()
        for organizer in organizers:
            enqueue(
                db,
                organizer,
                "chat_blocked",
                {"person": person.full_name, "count": len(pending)},
                dedupe_key=f"chat_blocked:{chat_id}:{organizer.id}:{chat.blocked_at:%Y%m%d%H%M}",
            )
    log.warning(
        "chat %s marked blocked; %d queued message(s) moved off Telegram", chat_id, len(pending)
    )
    return len(pending)
