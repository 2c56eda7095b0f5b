"""The Dramatiq broker on Redis, built from ``[cluster]`` (no global broker is set).

A worker process heartbeats on every Redis command its consumers send (they poll about
once a second even while the one job thread runs a bot); a worker silent for
``heartbeat_timeout_s`` is dead, and the next maintenance pass puts its unacknowledged
messages back on their queue. Maintenance runs on every command here (Dramatiq's default
is one in a thousand), so a dead worker's bot is taken over within about the timeout.
"""

from __future__ import annotations

from dramatiq.brokers.redis import MAINTENANCE_SCALE, RedisBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)
from proctorbot.config.settings import ClusterSettings

NAMESPACE = "proctorbot"
# A job that raised is retried (a crashed bot resumes its session) this often.
MAX_RETRIES = 3
MIN_BACKOFF_MS = 1000
MAX_BACKOFF_MS = 30_000


def make_broker(settings: ClusterSettings) -> RedisBroker:
    """A Redis broker with Dramatiq's usual middleware and fast dead-worker detection."""
    if not settings.redis_url:
        raise ValueError("[cluster] redis_url is empty: the work plane needs Redis")
    middleware = [
        AgeLimit(),
        TimeLimit(),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        Retries(max_retries=MAX_RETRIES, min_backoff=MIN_BACKOFF_MS, max_backoff=MAX_BACKOFF_MS),
    ]
    return RedisBroker(
        url=settings.redis_url,
        namespace=NAMESPACE,
        middleware=middleware,
        heartbeat_timeout=int(settings.heartbeat_timeout_s * 1000),
        maintenance_chance=MAINTENANCE_SCALE,
    )
