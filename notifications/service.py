"""Plug-in for ``proctorbot serve``: the outbox dispatcher and the Telegram bot.

A bad or missing token, or no SMTP host, never stops the server: that channel's
messages stay queued (and are sent once the settings are fixed) and the log says why.
Telegram unreachable at start-up (network down, Bot API down) is an outage, not a
setting: the notifier keeps trying to connect, with a growing pause (at most
``TELEGRAM_RECONNECT_MAX_S``), and hands the channel to the dispatcher once it answers.
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

TELEGRAM_RECONNECT_MAX_S = 30.0


class Notifier:
    """Owns the dispatcher loop and the Telegram application of one server."""

    def __init__(
        self,
        ctx: AppContext,
        *,
        commands: TelegramCommands | None = None,
        poll_commands: bool = True,
    ) -> None:
        self.ctx = ctx
        self.commands = commands or TelegramCommands(ctx)
        self.poll_commands = poll_commands
        self.application: Application | None = None
        self.dispatcher: OutboxDispatcher | None = None
        self.telegram_error: str | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._unconnected: Application | None = None  # built, never reached

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
        if self.ctx.settings.smtp.host:
            senders["email"] = EmailSender(self.ctx.settings.smtp)
        self.dispatcher = OutboxDispatcher(
            self.ctx.db, senders, self.pacing(), on_blocked=handle_blocked_chat
        )
        application: Application | None = None
        try:
            application = build_application(self.ctx, self.commands)
        except TelegramSetupError as exc:
            self.telegram_error = str(exc)
            log.error("%s; Telegram messages stay queued in the outbox", self.telegram_error)
        if application is not None and not await self._connect_telegram(application):
            self._unconnected = application
            self._connecting = asyncio.create_task(
                self._keep_connecting(application), name="telegram-connect"
            )
        self._task = asyncio.create_task(
            self.dispatcher.run(self._stop, telegram.outbox_poll_seconds), name="outbox"
        )

    async def _connect_telegram(self, application: Application) -> bool:
        """One try: getMe, then the command polling; the channel goes to the dispatcher.
        False while the Bot API cannot be reached (try again); a refused token is final."""
        try:
            await application.initialize()  # getMe: checks the token
        except InvalidToken:
            self.telegram_error = "Telegram rejected the bot token; check telegram.token"
            log.error("%s; Telegram messages stay queued in the outbox", self.telegram_error)
            return True  # nothing to retry: the setting must change
        except NetworkError as exc:
            if self.telegram_error is None:
                log.error(
                    "cannot reach the Telegram Bot API (%s); Telegram messages stay queued "
                    "and the connection is tried again",
                    exc,
                )
            self.telegram_error = f"cannot reach the Telegram Bot API: {exc}"
            return False
        await application.start()
        if self.poll_commands and application.updater is not None:
            await application.updater.start_polling(poll_interval=0.5, timeout=10)
        self.application, self._unconnected = application, None
        assert self.dispatcher is not None
        self.dispatcher.add_sender(
            TelegramSender(
                application.bot, max_file_bytes=self.ctx.settings.telegram.max_file_mb * 2**20
            )
        )
        if self.telegram_error:
            log.warning("Telegram Bot API reachable again: queued messages go out now")
        self.telegram_error = None
        log.info("Telegram bot @%s ready", application.bot.username)
        return True

    async def _keep_connecting(self, application: Application) -> None:
        pause = self.ctx.settings.telegram.retry_base_seconds
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), pause)
            if self._stop.is_set():
                return
            try:
                if await self._connect_telegram(application):
                    return
            except Exception:  # noqa: BLE001 - keep trying; the log says why
                log.exception("connecting to Telegram failed")
            pause = min(pause * 2, TELEGRAM_RECONNECT_MAX_S)

    async def stop(self) -> None:
        self._stop.set()
        if self._connecting is not None:
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting
        if self._unconnected is not None:  # its HTTP client was opened by the first try
            with contextlib.suppress(Exception):
                await self._unconnected.bot.shutdown()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.application is not None:
            if self.application.updater is not None and self.application.updater.running:
                await self.application.updater.stop()
            await self.application.stop()
            await self.application.shutdown()


NOTIFIER = web.AppKey("proctorbot.notifications.notifier", Notifier)


async def setup(
    app: web.Application, ctx: AppContext, commands: TelegramCommands | None = None
) -> Notifier:
    """The notifier, started and stopped with the server; ``commands``: the Telegram
    commands as the composition root built them (the report's link, the checklist's step)."""
    notifier = Notifier(ctx, commands=commands)
    app[NOTIFIER] = notifier

    async def start(app: web.Application) -> None:
        await notifier.start()

    async def stop(app: web.Application) -> None:
        await notifier.stop()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return notifier
