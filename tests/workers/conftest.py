"""The work plane's services, started by the tests themselves: a throwaway redis-server
(temp dir, free port, no persistence) and PostgreSQL (tests/scheduling's fixture)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.scheduling.test_postgres_jobstore import postgres_url  # noqa: F401 - a fixture


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path: Path):
    """A throwaway redis-server (deploy/services.py, what cluster-demo starts)."""
    pytest.importorskip("dramatiq", reason="dramatiq (the `cluster` extra) is not installed")
    from proctorbot.deploy.services import ServiceMissing, start_redis

    try:
        service = start_redis(tmp_path / "redis")
    except ServiceMissing as exc:
        pytest.skip(str(exc))
    except RuntimeError as exc:
        pytest.skip(f"redis-server did not start: {exc}")
    try:
        yield service.url
    finally:
        service.stop()
