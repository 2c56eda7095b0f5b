"""The worker's composition root: one worker process of ``proctorbot worker``
(``python -m proctorbot.worker --queues bots``).

It builds what ``serve`` builds for a session's bot — the context, the same session
plug-ins (``proctorbot.app.session_plugins``: page focus, live watch, checklist) — and
the hand-over, gives them to the two jobs (workers/bot_job.py, workers/analysis_job.py),
declares the actors on a Redis broker and consumes the queues, one job at a time.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
from dataclasses import dataclass

import click

from proctorbot.app import session_plugins
from proctorbot.config.settings import Settings, load_settings
from proctorbot.context import AppContext
from proctorbot.handover.service import session_hand_over
from proctorbot.workers.actors import declare_actors
from proctorbot.workers.analysis_job import AnalysisJob
from proctorbot.workers.bot_job import BotJob
from proctorbot.workers.broker import make_broker
from proctorbot.workers.leases import BotLeases
from proctorbot.workers.load import LoadMeter
from proctorbot.workers.process import serve_jobs
from proctorbot.workers.queues import JobQueues


@dataclass
class WorkerParts:
    ctx: AppContext
    broker: object  # dramatiq RedisBroker
    bot_job: BotJob
    analysis_job: AnalysisJob


def worker_id(settings: Settings) -> str:
    """Unique per process: the configured name (or the host's) and the process id."""
    return f"{settings.cluster.worker_id or socket.gethostname()}-{os.getpid()}"


def build_worker(
    settings: Settings, *, with_plugins: bool = True, migrate: bool = True
) -> WorkerParts:
    ctx = AppContext.build(settings, migrate=migrate)
    cluster = settings.cluster
    broker = make_broker(cluster)
    queues = JobQueues(broker, cluster)
    leases = BotLeases(ctx.engine, cluster.heartbeat_timeout_s)
    me = worker_id(settings)
    plugins = session_plugins(ctx, live_watch=with_plugins, checklist=with_plugins)
    bot_job = BotJob(
        ctx,
        plugins=plugins.in_order if with_plugins else list,
        leases=leases,
        load=LoadMeter(ctx.engine, cluster, me),
        queues=queues,
        worker_id=me,
    )
    analysis_job = AnalysisJob(ctx, hand_over=session_hand_over(ctx), leases=leases)
    declare_actors(broker, settings, bot_job=bot_job, analysis_job=analysis_job)
    return WorkerParts(ctx, broker, bot_job, analysis_job)


@click.command()
@click.option("--queues", "queues", multiple=True, default=("bots",))
@click.option("--plugins", type=click.Choice(["all", "none"]), default="all")
@click.option("--config", "config_path", default=None)
@click.option("--migrated", is_flag=True, help="The database is migrated (by the supervisor).")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(
    queues: tuple[str, ...], plugins: str, config_path: str | None, migrated: bool, verbose: int
) -> None:
    logging.basicConfig(
        level=logging.WARNING - 10 * min(verbose, 2),
        format=f"%(asctime)s %(levelname)s [worker {os.getpid()}] %(name)s: %(message)s",
        stream=sys.stderr,
    )
    os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")
    parts = build_worker(
        load_settings(config_path), with_plugins=plugins == "all", migrate=not migrated
    )
    names = {parts.ctx.settings.cluster.bots_queue if q == "bots" else q for q in queues}
    names = {parts.ctx.settings.cluster.analysis_queue if q == "analysis" else q for q in names}
    stopping: threading.Event = parts.bot_job.stopping
    serve_jobs(parts.broker, names, stopping)
    parts.bot_job.load.forget()


if __name__ == "__main__":
    main()
