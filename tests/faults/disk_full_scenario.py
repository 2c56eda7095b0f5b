"""A full disk, for real: run as ``unshare --mount python -m tests.faults.disk_full_scenario
CONFIG.json`` (root), so that a 4 MB tmpfs can be mounted on the recordings folder of
this run only. ``proctorbot serve`` and ``proctorbot bot join`` start inside that mount
namespace, a student sends media, the disk is filled to the last byte and freed again,
then ``proctorbot recording finalize`` runs on a full disk and on a free one. What was
seen is written to the JSON file named in the config (outside the tmpfs), for the test.
"""

from __future__ import annotations

import asyncio
import errno
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.faults.processes import bot_process, command, server_process
from tests.faults.steady_participant import SteadyParticipant

TMPFS_SIZE = "4m"


def fill(path: Path) -> int:
    """Write until the file system says ENOSPC; returns the bytes taken."""
    taken = 0
    block = b"\0" * 65536
    with open(path, "wb", buffering=0) as out:
        while True:
            try:
                written = out.write(block)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                block = block[: len(block) // 2]
                if len(block) < 512:
                    return taken
                continue
            taken += written or 0


def folder_listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def finalize(env: dict[str, str], workdir: Path, session_id: str) -> dict[str, Any]:
    done = subprocess.run(
        command("recording", "finalize", session_id, "--no-composite"),
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return {"code": done.returncode, "stdout": done.stdout, "stderr": done.stderr}


async def wait_peers(url: str, count: int, timeout: float = 30.0) -> None:
    import aiohttp

    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(f"{url}/healthz") as answer:
                    if (await answer.json())["peers"] >= count:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{count} peers not in the room")


async def scenario(config: dict[str, Any]) -> dict[str, Any]:
    workdir = Path(config["workdir"])
    env = config["env"]
    data_dir = Path(config["data_dir"])
    recordings = data_dir / "recordings"
    recordings.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(recordings)],
        check=True,
    )
    session_dir = recordings / config["session_id"]
    filler = recordings / "filler.bin"
    result: dict[str, Any] = {}
    server = server_process(workdir, env, config["port"])
    server.start()
    await server.ready()
    bot = bot_process(workdir, env, config["session_id"], server.url)
    bot.start()
    student = SteadyParticipant(config["student_ws"])
    try:
        await wait_peers(server.url, 1)
        await student.start()
        await asyncio.wait_for(student.connected.wait(), 20)
        result["media_from"] = time.time()
        await asyncio.sleep(4.0)
        result["full_at"] = time.time()
        result["filler_bytes"] = fill(filler)
        await asyncio.sleep(6.0)
        result["listing_while_full"] = folder_listing(session_dir)
        filler.unlink()
        result["freed_at"] = time.time()
        await asyncio.sleep(6.0)
        result["media_to"] = time.time()
    finally:
        await student.leave()
        await asyncio.sleep(0.5)
        result["bot_exit"] = bot.stop()
    result["manifest"] = json.loads((session_dir / "manifest.json").read_text())
    result["events"] = (session_dir / "events.jsonl").read_text().splitlines()
    result["listing_after"] = folder_listing(session_dir)

    fill(filler)  # finalize on a full disk: one clear line, nothing left behind
    result["finalize_full"] = finalize(env, workdir, config["session_id"])
    result["listing_after_finalize_full"] = folder_listing(session_dir)
    filler.unlink()
    result["finalize_free"] = finalize(env, workdir, config["session_id"])
    result["manifest_final"] = json.loads((session_dir / "manifest.json").read_text())
    result["listing_final"] = folder_listing(session_dir)
    server.stop()
    with sqlite3.connect(config["database"]) as db:
        result["disk_low_messages"] = db.execute(
            "SELECT count(*) FROM notifications_outbox WHERE kind = 'disk_low'"
        ).fetchone()[0]
    result["bot_log"] = bot.log()[-4000:]
    return result


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text())
    result = asyncio.run(scenario(config))
    Path(config["out"]).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
