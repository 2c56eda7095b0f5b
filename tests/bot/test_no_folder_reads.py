"""While a session runs, nothing of its folder is read back: what one part of the session
learns from another comes by the session bus. Every file opened for reading inside the
session folder is recorded (``sys.addaudithook``) from the bot's start to its leave, over
a real bot with the checklist and the live watch: a student connects, consents, is
admitted, the live watch starts, the student leaves."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import pytest
from proctorbot.bot.live_watch_plugin import LiveWatchPlugin
from proctorbot.bot.manager import BotManager
from proctorbot.bot.session_bus import ExamDecided
from proctorbot.checklist.checks import CheckThresholds
from proctorbot.checklist.detectors import ChecklistDetectors
from proctorbot.checklist.service import ChecklistPlugin
from proctorbot.config.profiles import PROFILES_DIR
from proctorbot.storage.models import ExamSession

from proctorbot.process_models import ProcessModels
from tests.browser_helpers import signaling_client

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

READS: list[str] = []
WATCHED: list[Path] = []


def _audit(event: str, args: tuple) -> None:
    if event != "open" or not WATCHED:
        return
    path, mode = args[0], args[1]
    if not isinstance(path, str | Path) or mode is None:
        return
    if any(flag in str(mode) for flag in "wax+"):
        return  # writing is what a session does
    resolved = Path(path)
    if resolved.is_file() and WATCHED[0] in resolved.resolve().parents:
        READS.append(str(resolved))


sys.addaudithook(_audit)


def short_profile(directory: Path) -> Path:
    """A preset with consent and the instruction only: the student can pass it by clicks."""
    text = (PROFILES_DIR / "university-admission.toml").read_text(encoding="utf-8")
    steps = '  { kind = "consent" },\n  { kind = "instruction" },\n'
    text = re.sub(r"(?ms)^steps = \[.*?^\]", f"steps = [\n{steps}]", text)
    path = directory / "short.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def test_no_file_of_the_session_folder_is_read_while_it_runs(
    running_server, tmp_path: Path
) -> None:
    ctx = running_server.ctx
    ctx.settings.recording.make_composite = False
    with ctx.db.begin() as db:
        db.get(ExamSession, running_server.session_id).profile = str(short_profile(tmp_path))
    manager = BotManager(ctx, base_url=running_server.url, end_by_itself=False)
    manager.add_session_plugin(ChecklistPlugin(ctx, ChecklistDetectors(), CheckThresholds()))
    no_models = ProcessModels(ctx.settings)
    no_models.audio_models = no_models.face_analyzer = None  # the watch runs, detectors off
    manager.add_session_plugin(LiveWatchPlugin(ctx, no_models))
    folder = ctx.settings.recordings_dir / running_server.session_id
    folder.mkdir(parents=True, exist_ok=True)
    WATCHED.append(folder.resolve())
    try:
        bot = await manager.join(running_server.session_id)
        await asyncio.wait_for(bot.joined.wait(), 10)
        async with signaling_client(running_server, "student") as student:

            async def click(action: str, step: str, **data: object) -> None:
                await student.send(
                    {
                        "type": "panel",
                        "area": "checklist",
                        "action": action,
                        "data": {"step": step, **data},
                    }
                )

            async def offered(step: str) -> None:
                """Wait until the student's panel offers `step`'s button (the bot may see
                the student a while after the socket opened, more so on a loaded machine)."""
                async with asyncio.timeout(30):
                    while True:
                        message = await student.receive("panel", timeout=30)
                        data = message.get("data") or {}
                        if message.get("action") == "state" and data.get("current") == step:
                            if data.get("buttons"):
                                return

            await offered("consent")
            await click("consent", "consent", given=True)
            await offered("instruction")
            await click("ack", "instruction")
            decided = await asyncio.wait_for(bot.bus.wait(ExamDecided), 20)
            assert decided.state == "proctored"
            await asyncio.sleep(3.0)  # the live watch starts on the verdict
        await asyncio.sleep(1.0)  # the student has left: a gap, flags, the watch goes on
        await manager.leave(running_server.session_id)
    finally:
        WATCHED.clear()
    assert READS == [], f"read back while the session ran: {sorted(set(READS))}"
