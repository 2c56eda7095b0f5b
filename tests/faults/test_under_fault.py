"""The fault suite: each fault injected into real processes, and the figures asserted.

``proctorbot serve`` and ``proctorbot bot join`` run as subprocesses on one data folder;
the student is an aiortc participant (camera and microphone) in this process whose
media goes peer to peer to the bot. Each test prints a ``FIGURES`` line (run with ``-s``
to read them; README "Failures" quotes them).
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp
import pytest
from proctorbot.conference.links import session_links
from proctorbot.recording.manifest import read_manifest

from tests.faults.processes import (
    ProductProcess,
    ServerProcess,
    bot_process,
    command,
    media_lost,
    product_env,
    seed_future_day,
    server_process,
)
from tests.faults.steady_participant import SteadyParticipant

pytestmark = [pytest.mark.slow]


def figures(name: str, **values: object) -> None:
    print(f"\nFIGURES {name}: {json.dumps(values, ensure_ascii=False)}")


class Product:
    """A server and a bot process on one data folder, and the student's call link."""

    def __init__(self, app_context, workdir: Path, **settings: str) -> None:  # noqa: ANN001
        self.ctx = app_context
        self.session_id = seed_future_day(app_context)[0]
        self.env = product_env(app_context.settings.data_dir, **settings)
        self.server: ServerProcess = server_process(workdir, self.env)
        self.bot: ProductProcess = bot_process(workdir, self.env, self.session_id, self.server.url)
        self.workdir = workdir

    @property
    def session_dir(self) -> Path:
        return self.ctx.settings.recordings_dir / self.session_id

    def ws_url(self, role: str = "student") -> str:
        link = next(lk for lk in session_links(self.ctx, self.session_id) if lk.role == role)
        return f"{self.server.url.replace('http', 'ws', 1)}/ws?t={link.token}"

    async def peers_in_room(self) -> int:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{self.server.url}/healthz") as answer:
                return int((await answer.json())["peers"])

    async def wait_peers(self, count: int, timeout: float = 30.0) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            try:
                if await self.peers_in_room() >= count:
                    return time.monotonic() - started
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        raise TimeoutError(f"{count} peers not in the room:\n{self.bot.log()[-3000:]}")

    def student_key(self) -> str:
        manifest = read_manifest(self.session_dir)
        return next(p.participant for p in manifest.participants if p.role == "student")

    def finalize(self) -> tuple[int, str]:
        import subprocess

        done = subprocess.run(
            command("recording", "finalize", self.session_id, "--no-composite"),
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return done.returncode, (done.stdout + done.stderr).strip()

    def stop(self) -> None:
        self.bot.stop()
        self.server.stop()


@pytest.fixture
def product(app_context, tmp_path: Path):  # noqa: ANN201
    running = Product(app_context, tmp_path)
    yield running
    running.stop()


@pytest.mark.timeout(180)
async def test_server_killed_under_fault_recording_goes_on(product: Product) -> None:
    """kill -9 of the server mid-call: the media is peer to peer, the bot keeps its link
    and its recording while the signaling is down and after it is back."""
    product.server.start()
    await product.server.ready()
    product.bot.start()
    await product.wait_peers(1)
    student = SteadyParticipant(product.ws_url())
    await student.start()
    try:
        await asyncio.wait_for(student.connected.wait(), 20)
        media_from = time.time()
        await asyncio.sleep(6.0)

        killed_at = product.server.kill_9()
        product.server.start()
        restart_s = await product.server.ready()
        back_s = await product.wait_peers(2)  # the bot and the student are back
        await asyncio.sleep(6.0)
        media_to = time.time()
    finally:
        await student.leave()
    await asyncio.sleep(0.5)
    assert product.bot.stop() == 0, product.bot.log()[-3000:]

    manifest = read_manifest(product.session_dir)
    key = product.student_key()
    lost = media_lost(manifest, key, media_from + 1.0, media_to - 0.5)
    runs = sorted(
        {
            Path(f.path).name.rsplit("-", 1)[0]
            for f in manifest.files
            if f.participant == key and f.kind in ("audio", "video")
        }
    )
    assert "media link(s) kept" in product.bot.log()
    assert student.offers_made == 1, "the same connection all along"
    assert runs == ["audio-01", "video-01"], "one connection, one run: nothing was cut"
    assert lost["lost_s"] <= 1.0, lost
    assert manifest.gaps == [], manifest.gaps
    code, said = product.finalize()
    assert code == 0, said
    assert all(g.end is not None for g in read_manifest(product.session_dir).gaps)
    figures(
        "server_kill",
        down_s=round(restart_s + back_s, 2),
        server_restart_s=round(restart_s, 2),
        media=lost,
        killed_at=round(killed_at - media_from, 2),
    )


@pytest.mark.timeout(180)
async def test_bot_killed_under_fault_is_a_bot_down_gap(product: Product) -> None:
    """kill -9 of the bot mid-call, a new bot started at once: the time with no bot is a
    ``bot_down`` gap (manifest, events.jsonl, the report's timeline), never the student's
    absence, and nothing else is lost."""
    from proctorbot.config.profiles import load_profile
    from proctorbot.report.rules import evaluate
    from proctorbot.report.session_files import read_session_folder

    product.server.start()
    await product.server.ready()
    product.bot.start()
    await product.wait_peers(1)
    student = SteadyParticipant(product.ws_url())
    await student.start()
    try:
        await asyncio.wait_for(student.connected.wait(), 20)
        media_from = time.time()
        await asyncio.sleep(6.0)
        killed_at = product.bot.kill_9()
        product.bot.start()  # what a supervisor (systemd, the server's manager) does
        await product.wait_peers(2)
        await asyncio.sleep(6.0)
        media_to = time.time()
    finally:
        await student.leave()
    await asyncio.sleep(0.5)
    assert product.bot.stop() == 0, product.bot.log()[-3000:]

    manifest = read_manifest(product.session_dir)
    key = product.student_key()
    [gap] = manifest.gaps
    assert (gap.participant, gap.reason) == (key, "bot_down")
    assert gap.start == pytest.approx(killed_at, abs=1.0), "from the student's last media"
    lost = media_lost(manifest, key, media_from + 1.0, media_to - 0.5)
    assert lost["lost_s"] <= 1.0, lost
    events = [
        json.loads(line) for line in (product.session_dir / "events.jsonl").read_text().splitlines()
    ]
    [left] = [e for e in events if e["kind"] == "participant_left"]
    assert left["details"]["reason"] == "bot_down" and left["track"] == key
    assert left["end"] - left["start"] == pytest.approx(gap.end - gap.start, abs=0.01)
    folder = read_session_folder(product.session_dir, probe=False)
    assert [g["reason"] for g in folder.gaps] == ["bot_down"], "on the report's timeline"
    findings = evaluate(folder.events, load_profile("examus-like"))  # any time away counts
    assert [f for f in findings if f.rule == "away"] == [], "never the student's absence"
    code, said = product.finalize()
    assert code == 0, said
    assert all(g.end is not None for g in read_manifest(product.session_dir).gaps)
    figures(
        "bot_kill",
        bot_down_s=round(gap.end - gap.start, 2),
        bot_restart_s=round(gap.end - killed_at, 2),
        media=lost,
    )
