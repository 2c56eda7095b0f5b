"""Sending outbox messages with python-telegram-bot; files over the bot limit become links."""

from __future__ import annotations

import logging
import warnings

from proctorbot.config.catalogue import Catalogue
from proctorbot.notifications.delivery import (
    ChannelUnavailable,
    OutgoingMessage,
    PermanentFailure,
    RecipientBlocked,
    TemporaryFailure,
)
from telegram import Bot
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

log = logging.getLogger(__name__)
TELEGRAM_TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024


class TelegramSender:
    channel = "telegram"

    def __init__(self, bot: Bot, *, max_file_bytes: int) -> None:
        self.bot = bot
        self.max_file_bytes = max_file_bytes

    async def send(self, message: OutgoingMessage) -> None:
        try:
            await self._send(message)
        except RetryAfter as exc:
            with warnings.catch_warnings():  # PTB 22 warns that the type will change
                warnings.simplefilter("ignore")
                retry = exc.retry_after
            seconds = retry.total_seconds() if hasattr(retry, "total_seconds") else float(retry)
            raise TemporaryFailure(f"Telegram rate limit: {exc}", retry_after=seconds) from exc
        except Forbidden as exc:
            raise RecipientBlocked(f"Telegram refused the chat: {exc.message}") from exc
        except InvalidToken as exc:
            raise ChannelUnavailable(f"Telegram rejected the bot token: {exc.message}") from exc
        except BadRequest as exc:
            raise PermanentFailure(f"Telegram refused the message: {exc.message}") from exc
        except (TimedOut, NetworkError) as exc:
            raise TemporaryFailure(f"Telegram unreachable: {exc}", unreachable=True) from exc
        except TelegramError as exc:
            raise TemporaryFailure(f"Telegram error: {exc}") from exc

    async def _send(self, message: OutgoingMessage) -> None:
        chat_id = int(message.address)
        path = message.attachment_path
        if path is None:
            await self.bot.send_message(chat_id, message.text[:TELEGRAM_TEXT_LIMIT])
            return
        size = path.stat().st_size if path.is_file() else None
        if size is None or size > self.max_file_bytes:
            catalogue = Catalogue.load(message.language)
            link = message.link or str(path.name)
            note = catalogue.text(
                "notifications.file_too_large",
                size_mb=round((size or 0) / 2**20, 1),
                link=link,
            )
            if size is None:
                note = catalogue.text("notifications.file_link", link=link)
            await self.bot.send_message(chat_id, f"{message.text}\n\n{note}"[:TELEGRAM_TEXT_LIMIT])
            return
        caption = message.text if len(message.text) <= CAPTION_LIMIT else None
        with path.open("rb") as handle:
            if message.attachment_kind == "photo":
                await self.bot.send_photo(chat_id, handle, caption=caption)
            elif message.attachment_kind == "video":
                await self.bot.send_video(chat_id, handle, caption=caption)
            else:
                await self.bot.send_document(chat_id, handle, caption=caption, filename=path.name)
        if caption is None:
            await self.bot.send_message(chat_id, message.text[:TELEGRAM_TEXT_LIMIT])
