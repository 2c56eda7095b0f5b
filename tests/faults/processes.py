"""The product as real processes for the fault suite: ``proctorbot serve`` and
``proctorbot bot join`` on one data folder, started, waited for, and killed with SIGKILL;
a second process that holds SQLite's write lock; figures read from what they wrote.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from proctorbot.recording.manifest import Manifest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def product_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of every process of one test: same data folder (database, secret
    key, recordings), loopback ICE, short segments, fast reconnects."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROCTORBOT_")}
    env.update(
        PROCTORBOT_DATA_DIR=str(data_dir),
        PROCTORBOT_CONFERENCE__ALLOW_LOOPBACK="true",
        PROCTORBOT_RECORDING__SEGMENT_SECONDS="3",
        PROCTORBOT_RECORDING__MAKE_COMPOSITE="false",
        PROCTORBOT_RECORDING__MIN_FREE_MB="0",
        PROCTORBOT_BOT__RECONNECT_DELAY_SECONDS="0.5",
        PYANNOTE_METRICS_ENABLED="0",
    )
    env.update({f"PROCTORBOT_{k.upper()}": v for k, v in settings.items()})
    return env


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "proctorbot", *args]


@dataclass
class ProductProcess:
    """One product command in the background, its output in a log file."""

    args: list[str]
    env: dict[str, str]
    workdir: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    starts: list[float] = field(default_factory=list)

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.args, env=self.env, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self.starts.append(time.time())

    def kill_9(self) -> float:
        """SIGKILL, as the OOM killer or a power cut would; returns when it happened."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        killed_at = time.time()
        self.process.wait(10)
        assert self.process.returncode == -signal.SIGKILL
        return killed_at

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM (a normal stop), SIGKILL if it does not end in time."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class ServerProcess(ProductProcess):
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def ready(self, timeout: float = 60.0) -> float:
        """Wait until ``/healthz`` answers; returns the seconds since the last start."""
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                assert self.process is not None and self.process.poll() is None, self.log()
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with http.get(f"{self.url}/healthz") as answer:
                        if answer.status == 200:
                            return time.time() - self.starts[-1]
                await asyncio.sleep(0.1)
        raise TimeoutError(f"server not up in {timeout} s:\n{self.log()[-3000:]}")


def server_process(workdir: Path, env: dict[str, str], port: int | None = None) -> ServerProcess:
    port = port or free_port()
    return ServerProcess(
        command("serve", "--port", str(port)), env, workdir, workdir / "serve.log", port=port
    )


def bot_process(workdir: Path, env: dict[str, str], session_id: str, url: str) -> ProductProcess:
    return ProductProcess(
        command("bot", "join", session_id, "--url", url), env, workdir, workdir / "bot.log"
    )


def seed_future_day(ctx) -> list[str]:  # noqa: ANN001 - proctorbot.context.AppContext
    """The demo day, its first session 3 h ahead: the server's own bot stays out (it joins
    15 min before), the bot of the test joins by itself with ``bot join``."""
    from proctorbot.storage.db import utcnow
    from proctorbot.storage.demo import seed_demo

    later = utcnow() + dt.timedelta(hours=3)
    return seed_demo(
        ctx.db, profile=ctx.settings.default_profile, language="en", now=later
    ).session_ids


HOLD_LOCK = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("COMMIT")
"""


@contextlib.contextmanager
def database_locked(path: Path, seconds: float) -> Iterator[subprocess.Popen[bytes]]:
    """Another process holds SQLite's write lock (``BEGIN EXCLUSIVE``) for ``seconds``."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path), str(seconds)], stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"locked"
        yield holder
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait(10)


# --- figures from what the bot wrote --------------------------------------------------


def union_length(spans: list[tuple[float, float]], start: float, end: float) -> float:
    """Seconds of [start, end] that the spans cover (overlaps counted once)."""
    clipped = sorted((max(a, start), min(b, end)) for a, b in spans if b > start and a < end)
    total, reach = 0.0, start
    for a, b in clipped:
        if b > reach:
            total += b - max(a, reach)
            reach = b
    return total


def media_lost(manifest: Manifest, participant: str, start: float, end: float) -> dict:
    """Of the participant's time [start, end]: seconds of audio recorded, seconds in gaps
    by reason, and what is in neither (lost).

    Recorded time is the sum of the audio segments' lengths within the window, not their
    union: on a loaded machine a burst of late packets stamps a segment late (it then
    overlaps the next one) although not a sample is missing."""
    audio = [
        (f.started_at, f.started_at + f.duration)
        for f in manifest.files
        if f.participant == participant and f.kind == "audio"
    ]
    gaps: dict[str, float] = {}
    for gap in manifest.gaps:
        if gap.participant == participant and gap.end is not None:
            gaps[gap.reason] = gaps.get(gap.reason, 0.0) + union_length(
                [(gap.start, gap.end)], start, end
            )
    recorded = min(end - start, sum(union_length([span], start, end) for span in audio))
    return {
        "span_s": round(end - start, 2),
        "recorded_s": round(recorded, 2),
        "gaps_s": {k: round(v, 2) for k, v in gaps.items()},
        "lost_s": round(max(0.0, end - start - recorded - sum(gaps.values())), 2),
    }
