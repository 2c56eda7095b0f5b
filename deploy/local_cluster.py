"""The scale-out set on one machine: PostgreSQL, Redis, an S3 API, Janus, N web nodes
behind a TCP balancer and worker processes for the ``bots`` and ``analysis`` queues.

``proctorbot cluster-demo`` runs it for trying; the cluster test (tests/cluster/) starts
it and kills its pieces. Every process is a real one (``proctorbot serve`` for a web
node, ``python -m proctorbot.worker`` for a worker), configured only through
``PROCTORBOT_*`` environment variables, as a deployment's units are (deploy/systemd/).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proctorbot.deploy.services import (
    ServiceProcess,
    free_port,
    http_ok,
    start_janus,
    start_moto,
    start_postgres,
    start_process,
    start_redis,
    wait_until_ready,
)
from proctorbot.deploy.tcp_balancer import TcpBalancer

from proctorbot.context import AppContext

log = logging.getLogger(__name__)

S3_BUCKET = "proctorbot-cluster"
S3_KEY = "cluster-demo"  # moto_server accepts any key; a real store has its own


@dataclass(frozen=True)
class ClusterPlan:
    """What to start. ``janus_address`` empty = mesh media (no Janus)."""

    folder: Path
    web_nodes: int = 2
    bot_workers: int = 2
    analysis_workers: int = 1
    janus_address: str = ""  # an address of this machine that is not loopback
    janus_interface: str = ""  # its interface (Janus's ice_enforce_list)
    s3: bool = True
    heartbeat_timeout_s: float = 5.0
    # the bots gather ICE on 127.0.0.1 only (tests and demos on one machine)
    allow_loopback: bool = True
    verbose: bool = False  # INFO logs from every node and worker
    worker_plugins: str = "all"  # what runs in each bot besides the recording (or "none")
    seed_demo: bool = True  # the demo exam day (storage/demo.py), seeded before the nodes
    extra_env: dict[str, str] = field(default_factory=dict)


@dataclass
class LocalCluster:
    plan: ClusterPlan
    secret_key: str
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    nodes: list[ServiceProcess] = field(default_factory=list)
    workers: list[ServiceProcess] = field(default_factory=list)
    balancer: TcpBalancer | None = None
    public_url: str = ""
    demo_sessions: list[str] = field(default_factory=list)
    demo_organization: str = ""

    @property
    def database_url(self) -> str:
        return self.services["postgres"].url

    @property
    def data_dir(self) -> Path:
        return self.plan.folder / "var"

    def app_context(self, *, migrate: bool = False) -> AppContext:
        """A context on the cluster's database, for the commands run beside it (seeding,
        links); the caller disposes of its engine."""
        from proctorbot.config.settings import load_settings

        settings = load_settings(
            data_dir=self.data_dir,
            database_url=self.database_url,
            server={"secret_key": self.secret_key, "public_url": self.public_url},
        )
        return AppContext.build(settings, migrate=migrate)

    def s3_client(self) -> Any:
        """A boto3 client on the cluster's S3 store (moto_server)."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.services["s3"].url,
            aws_access_key_id=S3_KEY,
            aws_secret_access_key=S3_KEY,
            region_name="us-east-1",
        )

    def env(self) -> dict[str, str]:
        """The settings every node and worker runs with (environment variables only)."""
        plan = self.plan
        env = {k: v for k, v in os.environ.items() if not k.startswith("PROCTORBOT_")}
        env.update(
            PYANNOTE_METRICS_ENABLED="0",
            PROCTORBOT_DATA_DIR=str(self.data_dir),
            PROCTORBOT_DATABASE_URL=self.database_url,
            PROCTORBOT_SERVER__SECRET_KEY=self.secret_key,
            PROCTORBOT_SERVER__PUBLIC_URL=self.public_url,
            PROCTORBOT_CLUSTER__REDIS_URL=self.services["redis"].url,
            PROCTORBOT_CLUSTER__HEARTBEAT_TIMEOUT_S=str(plan.heartbeat_timeout_s),
            PROCTORBOT_CLUSTER__NODE_HEARTBEAT_S=str(max(0.5, plan.heartbeat_timeout_s / 4)),
            PROCTORBOT_CONFERENCE__ALLOW_LOOPBACK="true" if plan.allow_loopback else "false",
        )
        if "janus" in self.services:
            janus = self.services["janus"]
            env.update(
                PROCTORBOT_CONFERENCE__MODE="janus",
                PROCTORBOT_JANUS__URLS=json.dumps([janus.url]),
                PROCTORBOT_JANUS__RECORD_DIR=str(Path(janus.log).parent / "recordings"),
                PROCTORBOT_JANUS__BOT_ICE_ADDRESS=plan.janus_address,
            )
        if "s3" in self.services:
            env.update(
                PROCTORBOT_ARCHIVE__S3_ENDPOINT_URL=self.services["s3"].url,
                PROCTORBOT_ARCHIVE__S3_BUCKET=S3_BUCKET,
                PROCTORBOT_ARCHIVE__ACCESS_KEY_ID=S3_KEY,
                PROCTORBOT_ARCHIVE__SECRET_ACCESS_KEY=S3_KEY,
            )
        env.update(plan.extra_env)
        return env

    def start_node(self, index: int, port: int | None = None) -> ServiceProcess:
        """A web node (``proctorbot serve``) on 127.0.0.1; blocks until /healthz answers."""
        port = port or free_port()
        command = [sys.executable, "-m", "proctorbot", *(["-v"] if self.plan.verbose else [])]
        command += ["serve", "--host", "127.0.0.1"]
        command += ["--port", str(port)]
        url = f"http://127.0.0.1:{port}"
        node = start_process(f"web-{index}", command, self.plan.folder, url, env=self.env())
        wait_until_ready(node, http_ok(f"{url}/healthz"), timeout=90)
        return node

    def start_worker(self, queue: str, index: int, worker_id: str = "") -> ServiceProcess:
        """One worker process consuming ``queue`` (one job at a time); its leases name it
        ``<worker_id or host name>-<pid>``."""
        command = [sys.executable, "-m", "proctorbot.worker", "--queues", queue]
        command += ["--plugins", self.plan.worker_plugins, *(["-v"] if self.plan.verbose else [])]
        env = self.env()
        if worker_id:
            env["PROCTORBOT_CLUSTER__WORKER_ID"] = worker_id
        worker = start_process(f"worker-{queue}-{index}", command, self.plan.folder, queue, env=env)
        self.workers.append(worker)
        return worker

    def stop(self) -> None:
        for process in [*self.workers, *self.nodes, *reversed(list(self.services.values()))]:
            process.stop()


async def start_cluster(plan: ClusterPlan) -> LocalCluster:
    """Start every piece of ``plan``; on a failure what started is stopped again."""
    plan.folder.mkdir(parents=True, exist_ok=True)
    key_file = plan.folder / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(32))
        key_file.chmod(0o600)
    cluster = LocalCluster(plan, key_file.read_text().strip())
    try:
        await _start(cluster)
    except BaseException:
        await _stop(cluster)
        raise
    return cluster


async def _start(cluster: LocalCluster) -> None:
    plan = cluster.plan
    services = cluster.services
    services["postgres"] = await asyncio.to_thread(start_postgres, plan.folder / "postgres")
    services["redis"] = await asyncio.to_thread(start_redis, plan.folder / "redis")
    if plan.s3:
        services["s3"] = await asyncio.to_thread(start_moto, plan.folder / "s3")
    if plan.janus_address:
        services["janus"] = await asyncio.to_thread(
            start_janus,
            plan.folder / "janus",
            ice_address=plan.janus_address,
            ice_interface=plan.janus_interface,
        )
    ports = [free_port() for _ in range(plan.web_nodes)]
    cluster.balancer = TcpBalancer([("127.0.0.1", port) for port in ports])
    cluster.public_url = f"http://127.0.0.1:{await cluster.balancer.start()}"
    await asyncio.to_thread(_prepare_database, cluster)
    cluster.nodes = list(
        await asyncio.gather(
            *(asyncio.to_thread(cluster.start_node, i, port) for i, port in enumerate(ports))
        )
    )
    for index in range(plan.bot_workers):
        cluster.start_worker("bots", index)
    for index in range(plan.analysis_workers):
        cluster.start_worker("analysis", index)
    if plan.seed_demo and plan.bot_workers:
        await asyncio.to_thread(_enqueue_due_bots, cluster)


def _enqueue_due_bots(cluster: LocalCluster) -> None:
    """The demo day has no scheduler jobs (``proctorbot plan`` makes those): its sessions
    that are due get their bot now, not at the active node's first orphan sweep."""
    from proctorbot.bot.service import sessions_due
    from proctorbot.config.settings import ClusterSettings
    from proctorbot.workers.queues import job_queues

    ctx = cluster.app_context()
    try:
        due = sessions_due(ctx)
    finally:
        ctx.engine.dispose()
    queues = job_queues(ClusterSettings(redis_url=cluster.services["redis"].url))
    for session_id in due:
        queues.send_bot(session_id)


def _prepare_database(cluster: LocalCluster) -> None:
    """Migrate once before the nodes start, seed the demo day, make the S3 bucket."""
    ctx = cluster.app_context(migrate=True)
    try:
        if cluster.plan.seed_demo:  # before the nodes start: their scheduler plans its jobs
            from proctorbot.storage.demo import seed_demo

            settings = ctx.settings
            day = seed_demo(ctx.db, profile=settings.default_profile, language=settings.language)
            cluster.demo_sessions = list(day.session_ids)
            cluster.demo_organization = day.organization_id
    finally:
        ctx.engine.dispose()
    if "s3" in cluster.services:
        cluster.s3_client().create_bucket(Bucket=S3_BUCKET)


async def _stop(cluster: LocalCluster) -> None:
    if cluster.balancer is not None:
        await cluster.balancer.close()
    await asyncio.to_thread(cluster.stop)


async def stop_cluster(cluster: LocalCluster) -> None:
    await _stop(cluster)
