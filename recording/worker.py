"""One thread per session that does all file work, so the event loop never waits on a disk."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

logger = logging.getLogger(__name__)
T = TypeVar("T")


class RecordingWorker:
    def __init__(self, name: str) -> None:
        self._queue: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...], Any] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, function: Callable[..., Any], *args: Any) -> None:
        """Run ``function(*args)`` in the worker, in submission order; errors are logged."""
        self._queue.put((function, args, None))

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """Run in the worker, after everything submitted before, and await the result."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._queue.put((function, args, future))
        return await asyncio.wrap_future(future)

    def backlog(self) -> int:
        return self._queue.qsize()

    def stop(self, timeout: float = 30.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            function, args, future = item
            try:
                result = function(*args)
            except BaseException as exc:  # noqa: BLE001 - one bad call must not stop the others
                if future is not None:
                    future.set_exception(exc)
                else:
                    logger.exception(
                        "recording task %s failed", getattr(function, "__qualname__", function)
                    )
                continue
            if future is not None:
                future.set_result(result)
