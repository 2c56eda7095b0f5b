"""One worker process: Dramatiq's ``Worker`` with one job thread (one bot per process,
as ``dramatiq --processes K --threads 1``) consuming the given queues until SIGTERM or
SIGINT. Prefetch is one: a process busy with a bot holds no other message back."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterable

from dramatiq import Worker
from dramatiq.broker import Broker

log = logging.getLogger(__name__)

# On stop, the bot closes its recording and gives its session back: a few seconds.
STOP_TIMEOUT_MS = 120_000


def serve_jobs(broker: Broker, queues: Iterable[str], stopping: threading.Event) -> None:
    """Consume ``queues`` until a signal; ``stopping`` tells the running job to finish."""
    worker = Worker(broker, queues=set(queues), worker_threads=1)
    worker.queue_prefetch = 1
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    worker.start()
    log.warning("worker consuming %s", ", ".join(sorted(queues)))
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        worker.stop(timeout=STOP_TIMEOUT_MS)
        broker.close()
