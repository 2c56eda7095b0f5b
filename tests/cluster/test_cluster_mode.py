"""The scale-out set as real processes (deploy/local_cluster.py, what
``proctorbot cluster-demo`` starts): PostgreSQL, redis-server, moto_server (S3), Janus on
the test's veth pair, two web nodes behind a round-robin balancer, four bot worker
processes ("two machines" of two) and an analysis worker.

Three exams at once, each student an aiortc sender publishing through Janus by way of our
signaling; a fourth participant, the first exam's examiner, is headless Chromium in Janus
mode. Then:
1. ``kill -9`` of the worker holding the first exam's bot: another worker takes the lease
   within the heartbeat timeout and its bot goes on recording (a ``bot_down`` gap), never
   two bots at once;
2. ``kill -9`` of a web node: whoever was on it reconnects through the balancer to the
   other node and publishes again; the bots record the students after it;
3. the students leave: every bot leaves its empty room by itself, the hand-over runs on
   the ``analysis`` queue; each exam's folder lists the student's tracks recorded by the
   bot and by Janus, and the S3 store holds every file with the SHA-256 it was uploaded
   with (``archive.json`` verified, hashes compared here again).

Needs root in a loopback-only namespace (``make test``), janus, redis-server,
PostgreSQL 15, moto_server and dramatiq; skips with the reason otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import time
from pathlib import Path

import pytest
from proctorbot.recording.manifest import read_manifest

from tests.browser_helpers import CHROMIUM, fake_media, launch_chromium, open_call
from tests.cluster.janus_student import JanusStudent
from tests.conference.janus_fixture import JANUS_ICE_ADDRESS, VETH, janus_network
from tests.conference.test_janus_browser import wait_frames_grow

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(900)]
__all__ = ["fake_media", "janus_network"]  # fixtures: Chromium's camera, the veth pair

HEARTBEAT_TIMEOUT_S = 4.0
SESSIONS = 3
GROWTH = 60_000  # bytes of the student's video (a few seconds at 320x240)


def cluster_plan(folder: Path):  # noqa: ANN201
    from proctorbot.deploy.local_cluster import ClusterPlan

    return ClusterPlan(
        folder=folder,
        web_nodes=2,
        bot_workers=0,  # started by the test: two "machines" of two processes
        analysis_workers=1,
        janus_address=JANUS_ICE_ADDRESS,
        janus_interface=VETH,
        heartbeat_timeout_s=HEARTBEAT_TIMEOUT_S,
        worker_plugins="none",
        verbose=True,  # their logs say what happened when a step fails  # the mechanics here; benchmarks/capacity.py measures detection
        extra_env={
            "PROCTORBOT_RECORDING__SEGMENT_SECONDS": "3",
            "PROCTORBOT_RECORDING__MAKE_COMPOSITE": "false",
            "PROCTORBOT_BOT__LEAVE_WHEN_EMPTY_SECONDS": "6",
            "PROCTORBOT_CLUSTER__LOAD_THRESHOLD": "1000",  # a busy shared test machine
        },
    )


def make_all_due(database_url: str, session_ids: list[str]) -> None:
    """The demo day's exams all start now (the demo spreads them over the day)."""
    from proctorbot.storage.models import ExamSession
    from sqlalchemy import create_engine, update

    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    now = dt.datetime.now(dt.UTC)
    try:
        with engine.begin() as connection:
            connection.execute(
                update(ExamSession)
                .where(ExamSession.id.in_(session_ids))
                .values(
                    starts_at=now - dt.timedelta(minutes=1), ends_at=now + dt.timedelta(minutes=30)
                )
            )
    finally:
        engine.dispose()


def student_token(cluster, session_id: str, role: str = "student") -> str:  # noqa: ANN001
    from proctorbot.conference.links import session_links

    ctx = cluster.app_context()
    try:
        return next(link.token for link in session_links(ctx, session_id) if link.role == role)
    finally:
        ctx.engine.dispose()


def lease_holders(cluster) -> dict[str, str]:  # noqa: ANN001
    from proctorbot.workers.tables import BotLease
    from sqlalchemy import create_engine, select

    url = cluster.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(BotLease.session_id, BotLease.worker_id)).all()
    finally:
        engine.dispose()
    return dict(rows)


def student_video_bytes(folder: Path) -> int:
    """Bytes of the student's video the bot has written so far (every segment)."""
    return sum(path.stat().st_size for path in folder.glob("student-*/video-*.ivf"))


async def recording_grows(folder: Path, by: int, timeout: float, what: str) -> None:
    """The bot appends at least ``by`` more bytes of the student's video."""
    before = await asyncio.to_thread(student_video_bytes, folder)
    await wait_until(lambda: student_video_bytes(folder) >= before + by, timeout, what)


async def wait_until(check, timeout: float, what: str) -> float:  # noqa: ANN001
    started = time.monotonic()
    while True:
        value = await asyncio.to_thread(check)
        if value:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        await asyncio.sleep(0.25)


def s3_objects(cluster, prefix: str) -> dict[str, dict[str, str]]:  # noqa: ANN001
    """Key → {sha256 metadata, body sha256} of every object under ``prefix``."""
    from proctorbot.deploy.local_cluster import S3_BUCKET

    client = cluster.s3_client()
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=S3_BUCKET, Prefix=prefix):
        for item in page.get("Contents", []):
            obj = client.get_object(Bucket=S3_BUCKET, Key=item["Key"])
            body = obj["Body"].read()
            found[item["Key"]] = {
                "meta": obj.get("Metadata", {}).get("sha256", ""),
                "body": hashlib.sha256(body).hexdigest(),
            }
    return found


@pytest.fixture
async def chromium_pw(janus_network):  # noqa: ANN001, ANN201
    """Playwright in the test's namespace (lo and the veth pair only)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        yield pw


async def test_cluster_mode_three_exams_through_janus_survive_killed_worker_and_web_node(
    tmp_path: Path, janus_network, chromium_pw, fake_media
) -> None:
    pytest.importorskip("dramatiq", reason="dramatiq (the `cluster` extra) is not installed")
    pytest.importorskip("boto3", reason="boto3 (the `s3` extra) is not installed")
    from proctorbot.config.settings import ClusterSettings
    from proctorbot.deploy.local_cluster import start_cluster, stop_cluster
    from proctorbot.deploy.services import ServiceMissing
    from proctorbot.workers.queues import job_queues

    try:
        cluster = await start_cluster(cluster_plan(tmp_path / "cluster"))
    except ServiceMissing as exc:
        pytest.skip(str(exc))
    students: list[JanusStudent] = []
    browser = None
    try:
        sessions = cluster.demo_sessions[:SESSIONS]
        await asyncio.to_thread(make_all_due, cluster.database_url, sessions)
        # two worker "machines" of two bot processes each: three bots and a spare
        workers = [
            cluster.start_worker("bots", index, worker_id=f"machine-{'ab'[index // 2]}-{index}")
            for index in range(4)
        ]
        queues = job_queues(ClusterSettings(redis_url=cluster.services["redis"].url))
        for session_id in sessions:
            queues.send_bot(session_id)
        await wait_until(
            lambda: len(lease_holders(cluster)) == SESSIONS, 60, "a bot for every exam"
        )
        ws_base = cluster.public_url.replace("http://", "ws://")
        for session_id in sessions:
            token = await asyncio.to_thread(student_token, cluster, session_id)
            student = JanusStudent(f"{ws_base}/ws?t={token}", JANUS_ICE_ADDRESS)
            student.start()
            students.append(student)
        await asyncio.gather(*(s.wait_published() for s in students))
        folders = [cluster.data_dir / "recordings" / sid for sid in sessions]
        for folder in folders:
            await recording_grows(
                folder, GROWTH, 40, f"the bot records the student of {folder.name}"
            )
        # the first exam's examiner: headless Chromium in Janus mode, through the balancer
        browser = await launch_chromium(chromium_pw, fake_media)
        examiner_token = await asyncio.to_thread(student_token, cluster, sessions[0], "examiner")
        examiner = await open_call(browser, f"{cluster.public_url}/call?t={examiner_token}")
        await wait_frames_grow(examiner, students[0].welcomes[-1]["peer_id"], 30)

        # 1. kill -9 of the worker holding the first exam's bot
        first = sessions[0]
        holder = lease_holders(cluster)[first]
        victim = next(w for w in workers if holder.endswith(f"-{w.pid}"))
        victim.kill_9()
        killed = time.monotonic()
        await wait_until(
            lambda: lease_holders(cluster).get(first, holder) != holder,
            HEARTBEAT_TIMEOUT_S + 30,
            "another worker takes the first exam's lease",
        )
        takeover_s = time.monotonic() - killed
        await recording_grows(folders[0], GROWTH, 40, "the new bot records the first student again")

        # 2. kill -9 of a web node: everyone on it reconnects through the balancer
        node = cluster.nodes[0]
        node.kill_9()
        node_killed = time.time()
        await asyncio.gather(
            *(
                s.wait_published(len(s.published) + 1, timeout=60)
                for s in students
                if s.drops and s.drops[-1] >= node_killed - 1
            )
        )
        for folder in folders:
            await recording_grows(
                folder, GROWTH, 60, f"the student of {folder.name} recorded after the web node died"
            )
        # the examiner's page sees the student's feed again (a new one if it published anew)
        await wait_frames_grow(examiner, students[0].welcomes[-1]["peer_id"], 60)
        await examiner.click("#leave")

        # 3. the students leave; the bots leave by themselves; hand-over on `analysis`
        for student in students:
            await student.leave()

        def handed_over(folder: Path) -> bool:
            path = folder / "handover.json"
            with contextlib.suppress(FileNotFoundError, ValueError):
                return bool(json.loads(path.read_text("utf-8")).get("complete"))
            return False

        left = time.monotonic()
        for folder in folders:
            await wait_until(lambda f=folder: handed_over(f), 420, f"{folder.name} handed over")
        handover_s = time.monotonic() - left
        stored = {
            sid: await asyncio.to_thread(s3_objects, cluster, f"sessions/{sid}/")
            for sid in sessions
        }
    finally:
        for student in students:
            await student.leave()
        if browser is not None:
            await browser.close()
        logs = {
            p.name: p.read_text(errors="replace")[-2000:]
            for p in (tmp_path / "cluster").glob("*.log")
        }
        await stop_cluster(cluster)

    print(
        f"takeover after kill -9: {takeover_s:.1f} s (heartbeat timeout {HEARTBEAT_TIMEOUT_S} s);"
        f" the three hand-overs done {handover_s:.0f} s after the students left"
    )
    assert takeover_s <= HEARTBEAT_TIMEOUT_S + 15, logs
    for session_id, folder in zip(sessions, folders, strict=True):
        manifest = read_manifest(folder)
        student_key = next(p.participant for p in manifest.participants if p.role == "student")
        kinds = {f.kind for f in manifest.files if f.participant == student_key}
        assert {"video", "audio"} <= kinds, (session_id, kinds)
        assert {"janus_video", "janus_audio"} <= kinds, (session_id, kinds)
        down = [g for g in manifest.gaps if g.reason == "bot_down"]
        if session_id == first:
            assert down, manifest.gaps
        handover = json.loads((folder / "handover.json").read_text("utf-8"))
        assert all(step["ok"] for step in handover["steps"]), (session_id, handover["steps"])
        archive = json.loads((folder / "archive.json").read_text("utf-8"))
        assert archive.get("verified") is True, archive
        for entry in archive["files"]:
            local = folder / entry["path"]
            key = f"sessions/{session_id}/{entry['path']}"
            assert stored[session_id][key]["meta"] == entry["sha256"], key
            assert stored[session_id][key]["body"] == entry["sha256"], key
            if local.exists() and entry["path"] != "handover.json":
                assert hashlib.sha256(local.read_bytes()).hexdigest() == entry["sha256"], key
