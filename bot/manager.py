"""One isolated asyncio task per session (the LiveKit Agents model).

A crash inside a session's bot is caught and logged here; the other sessions never
see it, and whatever that session already recorded stays on disk.

Each session's task also watches for the session's end (``bot/session_end.py``): when
it is over the bot leaves by itself and ``after_session(session_id)`` (the hand-over)
runs in the same task. A server shutdown (``leave_all``) only closes the recordings:
the hand-over of those sessions runs when the server starts again.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from proctorbot.bot.session_bot import SessionBot, SessionPlugin
from proctorbot.bot.session_end import EndRules, EndWatch
from proctorbot.bot.session_status import advance_status
from proctorbot.storage.models import SessionStatus

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


AfterSession = Callable[[str], Awaitable[Any]]


@dataclass
class BotManager:
    ctx: AppContext
    base_url: str | None = None  # default: settings.server.public_url
    plugins: list[SessionPlugin] = field(default_factory=list)
    bots: dict[str, SessionBot] = field(default_factory=dict)
    # Runs after a bot left because its session is over (the hand-over); None: nothing.
    after_session: AfterSession | None = None
    # Watch for the end of each session and leave by itself (off: leave() only).
    end_by_itself: bool = True
    # Why each bot left by itself (room_empty, slot_over, overrun_limit).
    ended: dict[str, str] = field(default_factory=dict)
    shutting_down: bool = False
    # conference.mode "janus": where each session's VideoRoom is (made on first use)
    janus_rooms: Any = None
    _tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    _handovers: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    def add_session_plugin(self, plugin: SessionPlugin) -> None:
        """``await plugin(bot)`` runs in every session the bot joins from now on."""
        self.plugins.append(plugin)

    def _janus_rooms(self) -> Any:
        """conference.mode "janus": the room placement (one per manager); else None."""
        if self.ctx.settings.conference.mode != "janus":
            return None
        if self.janus_rooms is None:
            from proctorbot.conference.janus.placement import JanusRooms

            self.janus_rooms = JanusRooms(self.ctx.db, self.ctx.settings)
        return self.janus_rooms

    def is_joined(self, session_id: str) -> bool:
        task = self._tasks.get(session_id)
        return task is not None and not task.done()

    async def join(self, session_id: str) -> SessionBot:
        """Start the bot of a session (no-op when it already runs)."""
        if self.is_joined(session_id):
            return self.bots[session_id]
        url = bot_signaling_url(self.ctx, session_id, self.base_url)
        bot = SessionBot(
            session_id,
            url,
            self.ctx.settings,
            plugins=tuple(self.plugins),
            janus_place=self._janus_rooms(),
        )
        self.bots[session_id] = bot
        self._tasks[session_id] = asyncio.create_task(self._run(bot), name=f"bot-{session_id}")
        return bot

    async def _run(self, bot: SessionBot) -> None:
        watch = (
            asyncio.create_task(self._leave_when_over(bot), name=f"end-{bot.session_id}")
            if self.end_by_itself
            else None
        )
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
        finally:
            if watch is not None:
                watch.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await watch
        if bot.session_id in self.ended and not self.shutting_down and self.after_session:
            self.hand_over(bot.session_id)

    def hand_over(self, session_id: str) -> asyncio.Task[None]:
        """Run ``after_session`` for a session in its own task (once at a time)."""
        running = self._handovers.get(session_id)
        if running is not None and not running.done():
            return running
        task = asyncio.create_task(self._hand_over(session_id), name=f"handover-{session_id}")
        self._handovers[session_id] = task
        return task

    async def _hand_over(self, session_id: str) -> None:
        if self.after_session is None:
            return
        try:
            await self.after_session(session_id)
        except asyncio.CancelledError:
            logger.warning(
                "hand-over of session %s interrupted; it resumes when the server starts again",
                session_id,
            )
            raise
        except Exception:  # noqa: BLE001 - isolate the session
            logger.exception("hand-over of session %s failed", session_id)

    async def _leave_when_over(self, bot: SessionBot) -> None:
        """Wait for the end of the session (``bot/session_end.py``), then leave."""
        await bot.joined.wait()
        await advance_status(self.ctx, bot.session_id, SessionStatus.OPEN)
        slot_end = await asyncio.to_thread(self._slot_end, bot.session_id)
        seen_before = bool(bot.recorder.manifest.participants)  # a restarted bot
        rules = EndRules.from_settings(self.ctx.settings.bot, slot_end)
        reason = await EndWatch(bot, rules, people_seen=seen_before).wait()
        logger.info("session %s is over (%s): the bot leaves", bot.session_id, reason)
        self.ended[bot.session_id] = reason
        # whoever is still in the call (an overrun) is told; their page lets the devices go
        with contextlib.suppress(Exception):
            await bot.send_panel("session", "ended", {"reason": reason})
        await bot.stop(reason)

    def _slot_end(self, session_id: str) -> float | None:
        from proctorbot.storage.models import ExamSession

        try:
            with self.ctx.db() as db:
                session = db.get(ExamSession, session_id)
                if session is None:
                    return None
                ends = session.ends_at
        except Exception:  # noqa: BLE001 - no slot known: the empty-room rule alone
            logger.exception("session %s: slot end unknown", session_id)
            return None
        if ends.tzinfo is None:
            ends = ends.replace(tzinfo=dt.UTC)
        return ends.timestamp()

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
        """The server stops: every bot closes its recording; no hand-over now."""
        self.shutting_down = True
        handovers = [task for task in self._handovers.values() if not task.done()]
        for task in handovers:
            task.cancel()
        await asyncio.gather(*(self.leave(sid) for sid in list(self._tasks)))
        await asyncio.gather(*handovers, return_exceptions=True)

    def handing_over(self) -> list[str]:
        return [sid for sid, task in self._handovers.items() if not task.done()]

    def running(self) -> list[str]:
        return [sid for sid, task in self._tasks.items() if not task.done()]
