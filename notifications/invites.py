"""One-time invite codes: ``/start CODE`` links a Telegram chat to a person."""

from __future__ import annotations

import datetime as dt
import secrets

from proctorbot.notifications.tables import InviteCode, TelegramChat
from proctorbot.storage.db import utcnow
from proctorbot.storage.models import Person
from sqlalchemy.orm import Session

# No 0/O, 1/I: codes are read aloud and typed from paper.
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8


class InviteError(ValueError):
    """The code is unknown, used or expired."""


def create_invite(db: Session, person: Person, *, ttl: dt.timedelta = dt.timedelta(days=7)) -> str:
    code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    db.add(InviteCode(code=code, person_id=person.id, expires_at=utcnow() + ttl))
    db.flush()
    return code


def redeem_invite(db: Session, code: str, chat_id: int) -> Person:
    """Link the chat and spend the code; a chat that had blocked the bot is unblocked."""
    invite = db.get(InviteCode, code.strip().upper())
    now = utcnow()
    if invite is None or invite.used_at is not None or invite.expires_at <= now:
        raise InviteError("unknown, used or expired invite code")
    person = db.get(Person, invite.person_id)
    if person is None:
        raise InviteError("the invited person no longer exists")
    invite.used_at = now
    invite.used_by_chat = chat_id
    person.telegram_chat_id = chat_id
    chat = db.get(TelegramChat, chat_id)
    if chat is None:
        chat = TelegramChat(chat_id=chat_id)
        db.add(chat)
    chat.person_id = person.id
    chat.linked_at = now
    chat.blocked_at = None
    db.flush()
    return person


def deep_link(bot_username: str, code: str) -> str:
    return f"https://t.me/{bot_username}?start={code}"
