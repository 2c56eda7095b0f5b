"""``proctorbot worker --queues bots|analysis --processes K``: K worker processes, each
one job at a time (``python -m proctorbot.worker``, the worker's composition root), as
``dramatiq --processes K --threads 1`` would run them; a process that dies (a crash, an
out-of-memory kill) is started again, its bot taken over by whoever gets its message."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time

import click

log = logging.getLogger(__name__)

RESTART_DELAY_S = 1.0


def worker_process_command(queues: tuple[str, ...], plugins: str, config: str | None) -> list[str]:
    # the supervisor migrated the database once: K processes must not race to
    command = [sys.executable, "-m", "proctorbot.worker", "--plugins", plugins, "--migrated"]
    for queue in queues:
        command += ["--queues", queue]
    if config:
        command += ["--config", config]
    return command


def supervise(command: list[str], processes: int) -> int:
    """Run ``processes`` copies of ``command`` until SIGTERM/SIGINT, restarting any that exits."""
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    children = [subprocess.Popen(command) for _ in range(processes)]
    click.echo(f"{processes} worker process(es): {' '.join(str(c.pid) for c in children)}")
    while not stopping:
        time.sleep(0.5)
        for index, child in enumerate(children):
            if child.poll() is not None and not stopping:
                log.warning(
                    "worker process %d exited (%s); started again", child.pid, child.returncode
                )
                time.sleep(RESTART_DELAY_S)
                children[index] = subprocess.Popen(command)
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        child.wait()
    return 0


@click.command("worker")
@click.option(
    "--queues",
    "queues",
    multiple=True,
    default=("bots",),
    show_default=True,
    help="Queues to consume ([cluster] bots_queue / analysis_queue); repeat for several.",
)
@click.option("--processes", type=click.IntRange(1, 256), default=1, show_default=True)
@click.option(
    "--plugins",
    type=click.Choice(["all", "none"]),
    default="all",
    show_default=True,
    help="What runs in each bot besides the recording: everything `serve` runs, or nothing.",
)
@click.pass_context
def worker_command(
    ctx: click.Context, queues: tuple[str, ...], processes: int, plugins: str
) -> None:
    """Run bots and hand-overs from the Redis queues ([cluster] settings)."""
    from proctorbot.command_settings import settings_from

    settings = settings_from(ctx)  # checked here: a bad file fails before any process starts
    if not settings.cluster.enabled:
        raise click.ClickException("[cluster] redis_url is empty: there is no queue to consume")
    config = ctx.obj.get("config_path") if ctx.obj else None
    from proctorbot.storage.migrate import upgrade

    upgrade(settings.resolved_database_url)
    sys.exit(supervise(worker_process_command(queues, plugins, config), processes))


def register(group: click.Group) -> None:
    group.add_command(worker_command)
