"""Notifications' tables: the outbox, linked Telegram chats, one-time invite codes."""

from __future__ import annotations

import datetime as dt

from proctorbot.storage.db import Base, UtcDateTime, utcnow
from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column


class OutboxStatus:
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # refused for good (bad request); kept for the record
    BLOCKED = "blocked"  # the chat blocked the bot
    MUTED = "muted"  # the chat muted this kind; kept, not sent
    UNDELIVERABLE = "undeliverable"  # the person has neither a chat nor an e-mail


class OutboxMessage(Base):
    """A notification: written first, sent after, retried until delivered or refused."""

    __tablename__ = "notifications_outbox"
    __table_args__ = (
        Index("ix_notifications_outbox_status_due", "status", "next_attempt_at"),
        Index("ix_notifications_outbox_address", "channel", "address", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    person_id: Mapped[str | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )
    session_id: Mapped[str | None] = mapped_column(String(32), default=None)
    channel: Mapped[str] = mapped_column(String(16))  # telegram | email
    address: Mapped[str] = mapped_column(String(300))  # chat id or e-mail address
    kind: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8), default="ru")
    subject: Mapped[str] = mapped_column(String(300), default="")
    text: Mapped[str] = mapped_column(Text)
    attachment_path: Mapped[str | None] = mapped_column(String(1000), default=None)
    attachment_kind: Mapped[str | None] = mapped_column(String(16), default=None)
    link: Mapped[str | None] = mapped_column(String(2000), default=None)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), default=None, unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)


class TelegramChat(Base):
    """A private chat linked to a person by an invite code."""

    __tablename__ = "notifications_chats"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    person_id: Mapped[str | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )
    linked_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    blocked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)
    muted: Mapped[bool] = mapped_column(default=False)


class InviteCode(Base):
    """A one-time code for ``/start CODE`` that links a chat to a person."""

    __tablename__ = "notifications_invites"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)
    used_by_chat: Mapped[int | None] = mapped_column(BigInteger, default=None)
