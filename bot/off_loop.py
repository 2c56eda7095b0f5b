"""Detector calls off the event loop whose results survive a cancel.

``asyncio.to_thread`` / ``run_in_executor`` drop the result when the awaiting task is
cancelled, yet the thread runs on and does the work: a detector has moved its state,
and the events that call closed would be lost with the result. ``to_the_end`` waits
for the result, returns it, and re-raises the cancel at the caller's next ``await``,
so the caller hands those events on and then stops as asked.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

T = TypeVar("T")


async def to_the_end(func: Callable[..., T], *args: Any, executor: Executor | None = None) -> T:
    """``func(*args)`` in a worker thread (``executor`` or the loop's default); a cancel
    that arrives meanwhile is delivered after the result is back."""
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(executor, functools.partial(func, *args))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        result = await future  # a second cancel here gives up on the result
        task = asyncio.current_task()
        if task is not None:
            task.cancel()  # delivered at the caller's next await
        return result
