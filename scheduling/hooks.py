"""What scheduled jobs need from other areas, as small callables injected at start-up.

The composition root (proctorbot/app.py) fills them: ``bot_join`` is the bot manager's
``join``, ``people_in_room`` the conference's room registry (who is in a room now),
``post_session`` the hand-over's closer (handover/closer.SessionCloser) and
``retention`` the report's retention rules. A hook left unset makes its job log a clear
warning instead of guessing.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from proctorbot.context import AppContext

BotJoin = Callable[[str], Awaitable[Any]]
PeopleInRoom = Callable[[str], "set[str] | Awaitable[set[str]]"]
PostSession = Callable[[str], Awaitable[Any] | Any]
Retention = Callable[[], Awaitable[Any] | Any]


@dataclass
class JobHooks:
    bot_join: BotJoin | None = None
    # person ids connected to the session's room now
    people_in_room: PeopleInRoom | None = None
    post_session: PostSession | None = None
    retention: Retention | None = None


@dataclass
class JobRuntime:
    """Handed to every job by the scheduler's executor; never stored in the job store."""

    ctx: AppContext
    hooks: JobHooks


async def call_hook(hook: Callable[..., Any], *args: Any) -> Any:
    result = hook(*args)
    if inspect.isawaitable(result):
        result = await result
    return result
