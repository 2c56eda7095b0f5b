"""Throwaway service processes for a local cluster: PostgreSQL, Redis, an S3 API
(moto_server) and Janus, each in a folder of its own on a free port.

For trying the scale-out set on one machine (``proctorbot cluster-demo``) and for the
cluster test; a real deployment runs these as system services (deploy/systemd/).
Every process is started in a session of its own so ``kill_9`` and ``stop`` reach it
and its children, and its output goes to ``<folder>/<name>.log``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")
START_TIMEOUT_S = 30.0


class ServiceMissing(RuntimeError):
    """A service's program is not installed; the message names the package."""


@dataclass
class ServiceProcess:
    """One started service: its name, process, log file and address."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    url: str

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")[-chars:]
        return ""

    def kill_9(self) -> None:
        """No goodbye: the process group gets SIGKILL."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> None:
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill_9()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def start_process(
    name: str,
    command: list[str],
    folder: Path,
    url: str,
    *,
    env: dict[str, str] | None = None,
) -> ServiceProcess:
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"{name}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(  # noqa: S603 - our own command lines
            command,
            cwd=folder,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return ServiceProcess(name, process, log, url)


def wait_until_ready(
    service: ServiceProcess, ready: Callable[[], bool], timeout: float = START_TIMEOUT_S
) -> ServiceProcess:
    """Return once ``ready()`` holds; the log's tail in the error when it never does."""
    deadline = time.monotonic() + timeout
    while not ready():
        if not service.alive():
            raise RuntimeError(
                f"{service.name} exited ({service.process.returncode}):\n{service.log_tail()}"
            )
        if time.monotonic() > deadline:
            service.stop()
            raise RuntimeError(
                f"{service.name} not ready in {timeout:.0f} s:\n{service.log_tail()}"
            )
        time.sleep(0.1)
    return service


def tcp_open(host: str, port: int) -> Callable[[], bool]:
    def check() -> bool:
        try:
            with socket.create_connection((host, port), timeout=0.3):
                return True
        except OSError:
            return False

    return check


def http_ok(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1.0) as response:  # noqa: S310 - local
                return 200 <= response.status < 500
        except urllib.error.HTTPError as exc:
            return exc.code < 500
        except (OSError, urllib.error.URLError):
            return False

    return check


def need(program: str, package: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise ServiceMissing(f"{program} is not installed (Debian package: {package})")
    return path


def start_redis(folder: Path) -> ServiceProcess:
    """redis-server on 127.0.0.1, no persistence (the queues of a trial run)."""
    binary = need("redis-server", "redis-server")
    port = free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", str(folder)]
    service = start_process("redis", command, folder, f"redis://127.0.0.1:{port}/0")
    return wait_until_ready(service, tcp_open("127.0.0.1", port))


def _as_postgres(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    runner = need("runuser", "util-linux")
    return [runner, "-u", "postgres", "--", *command]


def _postgres_can_enter(folder: Path) -> bool:
    probe = subprocess.run(_as_postgres(["test", "-x", str(folder)]), capture_output=True)
    return probe.returncode == 0


def start_postgres(folder: Path) -> ServiceProcess:
    """A PostgreSQL 15 cluster of its own (trust auth, unix socket in the folder only)."""
    if not (PG_BIN / "initdb").exists():
        raise ServiceMissing("PostgreSQL server is not installed (Debian package: postgresql-15)")
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0 and not _postgres_can_enter(folder.parent):
        # as root the server runs as the postgres user, which may not enter a private tmp
        # folder (pytest's): the cluster lives in /tmp, the folder points at it
        outside = Path(tempfile.mkdtemp(prefix="proctorbot-pg-"))
        shutil.rmtree(folder)
        folder.symlink_to(outside, target_is_directory=True)
        folder = outside
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    folder.chmod(0o700)
    data = folder / "data"
    if not (data / "PG_VERSION").exists():
        subprocess.run(
            _as_postgres(
                [str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]
                + ["-E", "UTF8"]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
    port = free_port()
    command = _as_postgres(
        [str(PG_BIN / "postgres"), "-D", str(data), "-k", str(folder), "-p", str(port)]
        + ["-c", "listen_addresses=", "-c", "max_connections=200"]
    )
    url = f"postgresql://postgres@/postgres?host={folder}&port={port}"
    service = start_process("postgres", command, folder, url)
    socket_file = folder / f".s.PGSQL.{port}"
    return wait_until_ready(service, socket_file.exists)


def start_moto(folder: Path) -> ServiceProcess:
    """An S3 API (moto_server) on 127.0.0.1, for the archive of finished sessions."""
    binary = need("moto_server", "the Python package moto[server]")
    port = free_port()
    service = start_process(
        "s3", [binary, "-H", "127.0.0.1", "-p", str(port)], folder, f"http://127.0.0.1:{port}"
    )
    return wait_until_ready(service, http_ok(f"http://127.0.0.1:{port}/"))


def start_janus(
    folder: Path, *, ice_address: str, ice_interface: str, api_secret: str | None = None
) -> ServiceProcess:
    """One Janus (VideoRoom + HTTP only), ICE on ``ice_interface`` (its ``ice_address``)."""
    from proctorbot.deploy.janus_config import write_janus_config

    binary = need("janus", "janus")
    port = free_port()
    config = write_janus_config(
        folder,
        http_port=port,
        ice_address=ice_address,
        ice_interface=ice_interface,
        record_dir=folder / "recordings",
        api_secret=api_secret,
    )
    url = f"http://127.0.0.1:{port}/janus"
    service = start_process("janus", [binary, "-C", str(config), "-F", str(folder)], folder, url)
    return wait_until_ready(service, http_ok(f"{url}/info"))
