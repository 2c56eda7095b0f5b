"""The job store on PostgreSQL (by URL): a throwaway cluster on a unix socket in a temp dir."""

import asyncio
import datetime as dt
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from proctorbot.scheduling.hooks import JobHooks, JobRuntime
from proctorbot.scheduling.scheduler import make_scheduler, schedule_session_jobs
from proctorbot.storage.db import utcnow
from proctorbot.storage.models import ExamSession

from tests.scheduling.test_jobs import make_session, wait_for

PG_BIN = Path("/usr/lib/postgresql/15/bin")
pytestmark = pytest.mark.postgres


def _as_postgres(*args: str) -> list[str]:
    if os.geteuid() != 0:
        return list(args)
    runner = shutil.which("runuser")
    if runner is None:
        pytest.skip("running as root without runuser: cannot start PostgreSQL")
    return [runner, "-u", "postgres", "--", *args]


@pytest.fixture
def postgres_url(tmp_path: Path):
    if not (PG_BIN / "initdb").exists():
        pytest.skip("PostgreSQL server binaries are not installed")
    base = Path("/tmp") / f"pbpg-{os.getpid()}-{tmp_path.name}"[:60]
    base.mkdir(mode=0o700)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    data = base / "data"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    try:
        subprocess.run(
            _as_postgres(
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        subprocess.run(
            _as_postgres(
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(data),
                "-w",
                "-l",
                str(base / "log"),
                "-o",
                f"-k {base} -p {port} -c listen_addresses=''",
                "start",
            ),
            check=True,
            capture_output=True,
            timeout=60,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"cannot start a throwaway PostgreSQL: {exc}")
    try:
        yield f"postgresql://postgres@/postgres?host={base}&port={port}"
    finally:
        subprocess.run(
            _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"),
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(base, ignore_errors=True)


async def test_jobs_persist_in_postgres_across_restart(app_context, postgres_url: str) -> None:
    app_context.settings.scheduling.jobstore_url = postgres_url
    now = utcnow()
    session_id, _ = make_session(app_context, now + dt.timedelta(minutes=15, seconds=1))
    scheduler = make_scheduler(JobRuntime(app_context, JobHooks()))
    scheduler.start(paused=True)
    schedule_session_jobs(
        scheduler,
        app_context.db().get(ExamSession, session_id),
        reminder_offsets_minutes=[],
        bot_join_minutes_before=15,
        now=now,
    )
    scheduler.shutdown(wait=False)

    from sqlalchemy import create_engine, text

    engine = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as connection:
        stored = (
            connection.execute(text("select id from scheduling_jobs order by id")).scalars().all()
        )
    engine.dispose()
    assert stored == sorted(
        [f"bot_join:{session_id}", f"check_no_show:{session_id}", f"post_session:{session_id}"]
    )
    await asyncio.sleep(1.2)
    joined: list[str] = []

    async def join(session: str) -> None:
        joined.append(session)

    restarted = make_scheduler(JobRuntime(app_context, JobHooks(bot_join=join)))
    restarted.start()
    try:
        await wait_for(lambda: joined == [session_id])
    finally:
        restarted.shutdown(wait=False)
