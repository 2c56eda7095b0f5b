"""Plug-in for ``proctorbot serve``: the outbox dispatcher and the Telegram bot.

A bad or missing token, or no SMTP host, never stops the server: that channel's
messages stay queued (and are sent once the settings are fixed) and the log says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web
from proctorbot.notifications.blocked import handle_blocked_chat
from proctorbot.notifications.delivery import ChannelSender
from proctorbot.notifications.dispatcher import OutboxDispatcher
from proctorbot.notifications.email_sender import EmailSender
from proctorbot.notifications.pacing import Pacing
from proctorbot.notifications.telegram_bot import TelegramCommands, build_application
from proctorbot.notifications.telegram_client import TelegramSetupError
from proctorbot.notifications.telegram_sender import TelegramSender
from telegram.error import InvalidToken, NetworkError
from telegram.ext import Application

from proctorbot.context import AppContext

log = logging.getLogger(__name__)


class Notifier:
    """Owns the dispatcher loop and the Telegram application of one server."""

    def __init__(self, ctx: AppContext, *, poll_commands: bool = True) -> None:
        self.ctx = ctx
        self.poll_commands = poll_commands
        self.application: Application | None = None
        self.dispatcher: OutboxDispatcher | None = None
        self.telegram_error: str | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def pacing(self) -> Pacing:
        t = self.ctx.settings.telegram
        return Pacing(
            t.chat_interval_seconds,
            t.messages_per_second,
            t.retry_base_seconds,
            t.retry_max_seconds,
        )

    async def start(self) -> None:
        senders: dict[str, ChannelSender] = {}
        telegram = self.ctx.settings.telegram
        try:
            application = build_application(self.ctx, TelegramCommands(self.ctx))
            await application.initialize()  # getMe: checks the token
            await application.start()
            if self.poll_commands and application.updater is not None:
                await application.updater.start_polling(poll_interval=0.5, timeout=10)
            self.application = application
            senders["telegram"] = TelegramSender(
                application.bot, max_file_bytes=telegram.max_file_mb * 2**20
            )
            log.info("Telegram bot @%s ready", application.bot.username)
        except TelegramSetupError as exc:
            self.telegram_error = str(exc)
        except InvalidToken as exc:
            self.telegram_error = (
                f"Telegram rejected the bot token ({exc.message}); check telegram.token"
            )
        except NetworkError as exc:
            self.telegram_error = f"cannot reach the Telegram Bot API: {exc}"
        if self.telegram_error:
            log.error("%s; Telegram messages stay queued in the outbox", self.telegram_error)
        if self.ctx.settings.smtp.host:
            senders["email"] = EmailSender(self.ctx.settings.smtp)
        self.dispatcher = OutboxDispatcher(
            self.ctx.db, senders, self.pacing(), on_blocked=handle_blocked_chat
        )
        self._task = asyncio.create_task(
            self.dispatcher.run(self._stop, telegram.outbox_poll_seconds), name="outbox"
        )

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.application is not None:
            if self.application.updater is not None and self.application.updater.running:
                await self.application.updater.stop()
            await self.application.stop()
            await self.application.shutdown()


NOTIFIER = web.AppKey("proctorbot.notifications.notifier", Notifier)


async def setup(app: web.Application, ctx: AppContext) -> None:
    notifier = Notifier(ctx)
    app[NOTIFIER] = notifier

    async def start(app: web.Application) -> None:
        await notifier.start()

    async def stop(app: web.Application) -> None:
        await notifier.stop()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
