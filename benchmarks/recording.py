"""How many rooms can one bot process record without losing a frame?

    python benchmarks/recording.py --rooms 4 --seconds 30 --json

Builds N sessions of two people each (student + examiner) in a temporary database,
runs the real conference server in this process, starts ONE bot process (a
BotManager joined to every session, as `proctorbot serve` runs it) and connects two
aiortc senders per room (320x240 VP8 at 15 fps + Opus 20 ms, encoded live). After
`--seconds` the senders stop, the bot flushes and closes its files, and the frames
written to disk are counted from the manifests. Prints one JSON line:

    {"rooms", "streams", "frames_sent", "frames_recorded", "bot_cpu_percent", "bot_rss_mb", ...}

``bot_cpu_percent`` is the bot process's CPU time over the streaming window as a
percentage of one core; ``bot_rss_mb`` its peak resident memory. Run it in a
loopback-only network namespace as root:
``unshare -n sh -c 'ip link set lo up; .venv/bin/python benchmarks/recording.py ...'``.
ICE is restricted to 127.0.0.1 either way.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.bot.participant (the scripted aiortc sender)


def make_sessions(ctx, rooms: int) -> list[str]:  # noqa: ANN001
    from proctorbot.storage.models import ExamSession, Organization, Person, SessionMember

    now = dt.datetime.now(dt.UTC)
    ids = []
    with ctx.db() as db:
        org = Organization(name="benchmark")
        db.add(org)
        db.flush()
        for room in range(rooms):
            session = ExamSession(
                organization_id=org.id,
                title=f"room {room}",
                profile="university-admission",
                starts_at=now,
                ends_at=now + dt.timedelta(hours=1),
            )
            db.add(session)
            db.flush()
            for role in ("student", "examiner"):
                person = Person(organization_id=org.id, role=role, full_name=f"{role} {room}")
                db.add(person)
                db.flush()
                db.add(SessionMember(session_id=session.id, person_id=person.id, role=role))
            ids.append(session.id)
        db.commit()
    return ids


async def bot_worker(session_ids: list[str], url: str) -> None:
    """The bot process: one BotManager, one task per session, until SIGTERM."""
    from proctorbot.bot.manager import BotManager
    from proctorbot.config.settings import load_settings

    from proctorbot.context import AppContext

    ctx = AppContext.build(load_settings(), migrate=False)
    manager = BotManager(ctx, base_url=url)
    for session_id in session_ids:
        await manager.join(session_id)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await manager.leave_all()


async def wait_bots(app, session_ids: list[str], timeout: float = 30.0) -> None:  # noqa: ANN001
    from proctorbot.conference.keys import ROOMS

    async with asyncio.timeout(timeout):
        while not all(
            (room := app[ROOMS].get(sid)) is not None and room.with_role("bot")
            for sid in session_ids
        ):
            await asyncio.sleep(0.2)


async def run(rooms: int, seconds: float) -> dict:
    import psutil
    from aiohttp import web
    from proctorbot.conference.links import session_links
    from proctorbot.config.settings import load_settings
    from proctorbot.recording.manifest import read_manifest

    from proctorbot.app import Areas, build_app
    from proctorbot.context import AppContext
    from tests.bot.participant import ScriptedParticipant

    workdir = Path(tempfile.mkdtemp(prefix="proctorbot-bench-"))
    os.environ.pop("PROCTORBOT_CONFIG", None)
    env = {
        **os.environ,
        "PROCTORBOT_DATA_DIR": str(workdir / "var"),
        "PROCTORBOT_CONFERENCE__ALLOW_LOOPBACK": "true",
        "PROCTORBOT_RECORDING__MAKE_COMPOSITE": "false",
    }
    os.environ.update(env)
    os.chdir(workdir)
    ctx = AppContext.build(load_settings())
    session_ids = make_sessions(ctx, rooms)
    app = await build_app(ctx, areas=Areas())
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    url = f"http://{host}:{port}"
    ctx.settings.server.public_url = url

    bot = subprocess.Popen(
        [sys.executable, __file__, "--bot-worker", ",".join(session_ids), "--url", url],
        env=env,
        cwd=workdir,
    )
    bot_process = psutil.Process(bot.pid)
    participants: list[ScriptedParticipant] = []
    try:
        await wait_bots(app, session_ids)
        for session_id in session_ids:
            for link in session_links(ctx, session_id):
                participants.append(ScriptedParticipant(f"ws://{host}:{port}/ws?t={link.token}"))
        for participant in participants:
            await participant.join()
        await asyncio.wait_for(asyncio.gather(*(p.connected.wait() for p in participants)), 30)

        rss = 0.0
        cpu_start, wall_start = bot_process.cpu_times(), time.monotonic()
        deadline = wall_start + seconds
        while time.monotonic() < deadline:
            rss = max(rss, bot_process.memory_info().rss / 2**20)
            await asyncio.sleep(0.5)
        cpu_end, wall_end = bot_process.cpu_times(), time.monotonic()
        for participant in participants:
            participant.pause_media()
        await asyncio.sleep(2.0)  # the last packets reach the bot
        frames_sent = sum(p.frames_sent for p in participants)
        for participant in participants:
            await participant.leave()
        await asyncio.sleep(1.0)
    finally:
        bot.send_signal(signal.SIGTERM)
        try:
            bot.wait(120)
        except subprocess.TimeoutExpired:
            bot.kill()
        await runner.cleanup()

    frames_recorded = 0
    for session_id in session_ids:
        manifest = read_manifest(ctx.settings.recordings_dir / session_id)
        frames_recorded += sum(f.frames for f in manifest.files if f.kind in ("audio", "video"))
    used = (cpu_end.user + cpu_end.system) - (cpu_start.user + cpu_start.system)
    return {
        "rooms": rooms,
        "streams": len(participants) * 2,
        "frames_sent": frames_sent,
        "frames_recorded": frames_recorded,
        "bot_cpu_percent": round(100 * used / (wall_end - wall_start), 1),
        "bot_rss_mb": round(rss, 1),
        "seconds": seconds,
        "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "workdir": str(workdir),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rooms", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--keep", action="store_true", help="keep the recordings for a look")
    parser.add_argument("--bot-worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--url", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bot_worker:
        asyncio.run(bot_worker(args.bot_worker.split(","), args.url))
        return
    result = asyncio.run(run(args.rooms, args.seconds))
    if not args.keep:
        shutil.rmtree(result.pop("workdir"), ignore_errors=True)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>16}: {value}")


if __name__ == "__main__":
    main()
