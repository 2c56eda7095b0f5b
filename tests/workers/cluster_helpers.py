"""Worker processes for the work plane's tests: ``python -m proctorbot.worker`` (the
worker's composition root) with the test's settings in its environment, its log in a
file the test reads."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HEARTBEAT_TIMEOUT_S = 3.0


def cluster_env(
    data_dir: Path, database_url: str, redis_url: str, public_url: str, **extra: str
) -> dict[str, str]:
    env = {
        **os.environ,
        "PROCTORBOT_DATA_DIR": str(data_dir),
        "PROCTORBOT_DATABASE_URL": database_url,
        "PROCTORBOT_CLUSTER__REDIS_URL": redis_url,
        "PROCTORBOT_CLUSTER__HEARTBEAT_TIMEOUT_S": str(HEARTBEAT_TIMEOUT_S),
        "PROCTORBOT_CLUSTER__LOAD_THRESHOLD": "1000",  # the shared test machine is busy
        "PROCTORBOT_SERVER__PUBLIC_URL": public_url,
        "PROCTORBOT_CONFERENCE__ALLOW_LOOPBACK": "true",
        "PROCTORBOT_RECORDING__SEGMENT_SECONDS": "3",
        "PROCTORBOT_RECORDING__MAKE_COMPOSITE": "false",
        "PYANNOTE_METRICS_ENABLED": "0",
    }
    env.pop("PROCTORBOT_CONFIG", None)
    env.update(extra)
    return env


@dataclass
class WorkerProcess:
    process: subprocess.Popen
    log: Path

    @classmethod
    def start(cls, env: dict[str, str], log: Path, queue: str = "bots") -> WorkerProcess:
        handle = log.open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "proctorbot.worker", "--queues", queue, "--plugins", "none"],
            env=env,
            cwd=log.parent,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        return cls(process, log)

    @property
    def pid(self) -> int:
        return self.process.pid

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    async def wait_for(self, needle: str, timeout: float = 40.0) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            if self.process.poll() is not None:
                raise AssertionError(f"worker {self.pid} exited:\n{self.text()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no {needle!r} from worker {self.pid}:\n{self.text()[-3000:]}"
                )
            await asyncio.sleep(0.1)

    def kill_9(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self, timeout: float = 30.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
