"""``proctorbot cluster-demo``: the scale-out set on this machine, for trying it.

PostgreSQL, Redis, an S3 API (moto_server), Janus (when installed and this machine has
an address that is not loopback), two web nodes behind a round-robin balancer, two bot
workers and an analysis worker — each a real process with its log in ``--folder``. The
demo exam day is seeded and its links printed (through the balancer); Ctrl+C stops all.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import shutil
import signal
import subprocess
from pathlib import Path

import click
from proctorbot.deploy.local_cluster import ClusterPlan, LocalCluster, start_cluster, stop_cluster


def host_address() -> tuple[str, str] | None:
    """(address, interface) of the first IPv4 address that is up and not loopback."""
    if shutil.which("ip") is None:
        return None
    try:
        shown = subprocess.run(
            ["ip", "-j", "-4", "addr", "show", "up"], capture_output=True, timeout=5, check=True
        )
        links = json.loads(shown.stdout or b"[]")
    except (subprocess.SubprocessError, OSError, ValueError):
        return None
    for link in links:
        for info in link.get("addr_info", []):
            address = info.get("local", "")
            if address and not ipaddress.ip_address(address).is_loopback:
                return address, link.get("ifname", "")
    return None


def print_links(cluster: LocalCluster) -> None:
    from proctorbot.conference.links import session_links
    from proctorbot.report.demo_sign_in import demo_sign_in_lines
    from proctorbot.storage.models import ExamSession

    ctx = cluster.app_context()
    try:
        with ctx.db() as db:
            sessions = [db.get(ExamSession, sid) for sid in cluster.demo_sessions]
        for session in sessions:
            click.echo(f"\n{session.title} — {session.starts_at:%H:%M} UTC (session {session.id})")
            for link in session_links(ctx, session.id):
                click.echo(f"  {link.role:<10} {link.name}: {link.url}")
        click.echo("")
        click.echo("\n".join(demo_sign_in_lines(ctx, cluster.demo_organization)))
    finally:
        ctx.engine.dispose()


def describe(cluster: LocalCluster) -> None:
    click.echo(f"\nbalancer   {cluster.public_url}  (round robin over the web nodes)")
    for node in cluster.nodes:
        click.echo(f"web node   {node.url}  pid {node.pid}")
    for worker in cluster.workers:
        click.echo(f"worker     {worker.url:<10} pid {worker.pid}  log {worker.log}")
    for name, service in cluster.services.items():
        click.echo(f"{name:<10} {service.url}  pid {service.pid}")
    media = "Janus" if "janus" in cluster.services else "peer to peer (no Janus)"
    click.echo(f"media: {media}; logs and data in {cluster.plan.folder}")


@click.command("cluster-demo")
@click.option(
    "--folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/cluster"),
    show_default=True,
    help="Where the services keep their data and logs.",
)
@click.option("--web-nodes", type=click.IntRange(1, 8), default=2, show_default=True)
@click.option("--bot-workers", type=click.IntRange(1, 16), default=2, show_default=True)
@click.option("--analysis-workers", type=click.IntRange(0, 8), default=1, show_default=True)
@click.option(
    "--janus/--no-janus",
    default=None,
    help="Media through Janus (default: when janus is installed and an address is found).",
)
def cluster_demo_command(
    folder: Path, web_nodes: int, bot_workers: int, analysis_workers: int, janus: bool | None
) -> None:
    """Start the scale-out set on this machine and print the demo's links."""
    from proctorbot.deploy.services import ServiceMissing

    found = host_address()
    if janus is None:
        janus = shutil.which("janus") is not None and found is not None
    if janus and found is None:
        raise click.ClickException("Janus needs an address that is not loopback: none found")
    address, interface = found if janus and found else ("", "")
    plan = ClusterPlan(
        folder=folder.resolve(),
        web_nodes=web_nodes,
        bot_workers=bot_workers,
        analysis_workers=analysis_workers,
        janus_address=address,
        janus_interface=interface,
        allow_loopback=not janus,
    )
    click.echo("starting PostgreSQL, Redis, S3, Janus, web nodes and workers…")

    async def run() -> None:
        try:
            cluster = await start_cluster(plan)
        except ServiceMissing as exc:
            raise click.ClickException(str(exc)) from None
        try:
            describe(cluster)
            await asyncio.to_thread(print_links, cluster)
            click.echo("\nCtrl+C stops every process.")
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            await stop.wait()
            click.echo("stopping…")
        finally:
            await stop_cluster(cluster)

    asyncio.run(run())
    click.echo("stopped")


def register(group: click.Group) -> None:
    group.add_command(cluster_demo_command)
