"""One isolated asyncio task per session (the LiveKit Agents model).

A crash inside a session's bot is caught and logged here; the other sessions never
see it, and whatever that session already recorded stays on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from proctorbot.bot.session_bot import SessionBot, SessionPlugin

from proctorbot.context import AppContext

logger = logging.getLogger(__name__)


def signaling_url(base_url: str, token: str) -> str:
    """``http://host:port`` → ``ws://host:port/ws?t=TOKEN``."""
    base = base_url.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base[len("https://") :]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://") :]
    return f"{base}/ws?t={token}"


def bot_signaling_url(ctx: AppContext, session_id: str, base_url: str | None = None) -> str:
    from proctorbot.conference.links import bot_token

    return signaling_url(base_url or ctx.settings.server.public_url, bot_token(ctx, session_id))


@dataclass
class BotManager:
    ctx: AppContext
    base_url: str | None = None  # default: settings.server.public_url
    plugins: list[SessionPlugin] = field(default_factory=list)
    bots: dict[str, SessionBot] = field(default_factory=dict)
    _tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    def add_session_plugin(self, plugin: SessionPlugin) -> None:
        """``await plugin(bot)`` runs in every session the bot joins from now on."""
        self.plugins.append(plugin)

    def is_joined(self, session_id: str) -> bool:
        task = self._tasks.get(session_id)
        return task is not None and not task.done()

    async def join(self, session_id: str) -> SessionBot:
        """Start the bot of a session (no-op when it already runs)."""
        if self.is_joined(session_id):
            return self.bots[session_id]
        url = bot_signaling_url(self.ctx, session_id, self.base_url)
        bot = SessionBot(session_id, url, self.ctx.settings, plugins=tuple(self.plugins))
        self.bots[session_id] = bot
        self._tasks[session_id] = asyncio.create_task(self._run(bot), name=f"bot-{session_id}")
        return bot

    async def _run(self, bot: SessionBot) -> None:
        try:
            await bot.run()
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - isolate the session
            logger.exception(
                "bot of session %s crashed; other sessions go on, its recordings are kept in %s",
                bot.session_id,
                bot.session_dir,
            )

    async def leave(self, session_id: str, timeout: float = 120.0) -> None:
        """Stop a session's bot and wait until its files are closed (and the composite made)."""
        bot = self.bots.get(session_id)
        task = self._tasks.get(session_id)
        if bot is None or task is None:
            return
        await bot.stop()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        except TimeoutError:
            logger.error("bot of session %s did not stop within %.0f s", session_id, timeout)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.pop(session_id, None)

    async def leave_all(self) -> None:
        await asyncio.gather(*(self.leave(sid) for sid in list(self._tasks)))
