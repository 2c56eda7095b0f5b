"""The one Telegram client: the python-telegram-bot ``Bot`` built from the settings (the
server's ``Application`` runs on it, ``proctorbot telegram check`` asks it), and a clear
word on a bad token."""

from __future__ import annotations

from proctorbot.config.settings import TelegramSettings
from telegram import Bot, User
from telegram.error import InvalidToken, NetworkError
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest


class TelegramSetupError(Exception):
    """Telegram cannot be used with these settings; the message says what to fix."""


def make_bot(settings: TelegramSettings) -> ExtBot:
    """The client for ``settings``; ``TelegramSetupError`` when there is no token."""
    if settings.token is None or not settings.token.get_secret_value().strip():
        raise TelegramSetupError("no Telegram bot token: set telegram.token (from @BotFather)")
    return ExtBot(
        settings.token.get_secret_value().strip(),
        base_url=settings.base_url,
        base_file_url=settings.base_file_url,
        request=HTTPXRequest(connection_pool_size=16, read_timeout=30, write_timeout=60),
    )


async def check_bot(bot: Bot) -> User:
    """Ask Telegram who we are (getMe); an invalid token becomes a readable error."""
    try:
        await bot.initialize()
        return bot.bot
    except InvalidToken as exc:
        raise TelegramSetupError(
            f"Telegram rejected the bot token ({exc.message}); check telegram.token"
        ) from exc
    except NetworkError as exc:
        raise TelegramSetupError(f"cannot reach the Telegram Bot API: {exc}") from exc
