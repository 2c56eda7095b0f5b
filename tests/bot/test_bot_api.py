"""The API that areas running inside the bot (checklist, live detectors) build on."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import numpy as np
import pytest
from proctorbot.bot.manager import BotManager
from proctorbot.bot.session_bot import SessionBot
from proctorbot.detection.events import DetectorEvent, EventKind

from tests.bot.participant import ScriptedParticipant

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


async def test_plugin_gets_frames_audio_and_talks_to_the_student(running_server) -> None:
    ctx = running_server.ctx
    ctx.settings.recording.make_composite = False
    seen: dict[str, Any] = {"panel": asyncio.Queue()}

    async def plugin(bot: SessionBot) -> None:
        async def on_checklist(sender: str, action: str, data: Any) -> None:
            await seen["panel"].put((sender, action, data))

        bot.on_panel("checklist", on_checklist)
        while not any(p.role == "student" for p in bot.peers.values()):
            await asyncio.sleep(0.1)
        student = next(p for p in bot.peers.values() if p.role == "student")
        seen["student_id"] = student.peer_id
        frames = []
        async for t, image in bot.video_frames(student.peer_id, fps=2.0):
            frames.append((t, image))
            if len(frames) == 3:
                break
        seen["frames"] = frames
        chunks = []
        async for t, pcm in bot.audio_chunks(student.peer_id):
            chunks.append((t, pcm))
            if sum(len(c) for _, c in chunks) >= 16000:
                break
        seen["chunks"] = chunks
        await bot.send_prompt("show_id", "Поднесите паспорт к камере", to=student.peer_id)
        await bot.send_panel("checklist", "step", {"n": 1})
        bot.emit(DetectorEvent(EventKind.NO_AUDIO, start=1.0, end=2.0, track=student.peer_id))

    manager = BotManager(ctx, base_url=running_server.url)
    manager.add_session_plugin(plugin)
    bot = await manager.join(running_server.session_id)
    await asyncio.wait_for(bot.joined.wait(), 10)
    student = ScriptedParticipant(running_server.ws_url(running_server.token("student")))
    await student.join()
    async with asyncio.timeout(30):
        while not any(m["type"] == "prompt" for m in student.inbox):
            await asyncio.sleep(0.1)
    await student.send_panel("checklist", "done", {"step": 1})
    sender, action, data = await asyncio.wait_for(seen["panel"].get(), 10)
    await student.leave()
    await manager.leave(running_server.session_id)

    assert (sender, action, data) == (seen["student_id"], "done", {"step": 1})
    times = [t for t, _ in seen["frames"]]
    assert all(
        image.shape == (240, 320, 3) and image.dtype == np.uint8 for _, image in seen["frames"]
    )
    assert times == sorted(times) and times[-1] - times[0] >= 0.8, "about 2 frames a second"
    assert seen["frames"][0][1].std() > 10, "a real picture, not a blank"
    assert all(c.dtype == np.int16 and c.ndim == 1 for _, c in seen["chunks"])
    assert np.abs(np.concatenate([c for _, c in seen["chunks"]])).max() > 1000, "the 440 Hz tone"
    prompt = next(m for m in student.inbox if m["type"] == "prompt")
    assert (prompt["key"], prompt["text"]) == ("show_id", "Поднесите паспорт к камере")
    assert any(m["type"] == "panel" and m["data"] == {"n": 1} for m in student.inbox)
    events = [json.loads(x) for x in (bot.session_dir / "events.jsonl").read_text().splitlines()]
    assert events[0]["kind"] == "no_audio"


async def test_a_crashing_session_does_not_touch_another(
    running_server, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = running_server.ctx
    ctx.settings.recording.make_composite = False
    first_id, second_id = running_server.session_ids[:2]
    manager = BotManager(ctx, base_url=running_server.url)
    first = await manager.join(first_id)
    second = await manager.join(second_id)
    await asyncio.wait_for(asyncio.gather(first.joined.wait(), second.joined.wait()), 10)

    async def broken_close() -> None:
        raise RuntimeError("a bug while closing the first session")

    first.recorder.close = broken_close  # type: ignore[method-assign]
    await first.stop()
    async with asyncio.timeout(10):
        while manager.is_joined(first_id):
            await asyncio.sleep(0.1)
    assert f"bot of session {first_id} crashed" in caplog.text
    assert manager.is_joined(second_id)

    student = ScriptedParticipant(running_server.ws_url(running_server.token("student", second_id)))
    await student.join()
    await asyncio.wait_for(student.connected.wait(), 15)
    await asyncio.sleep(1.0)
    await student.leave()
    await manager.leave_all()
    files = json.loads((second.session_dir / "manifest.json").read_text())["files"]
    assert any(f["kind"] == "video" and f["frames"] > 0 for f in files)


async def test_the_same_session_cannot_be_recorded_twice(running_server) -> None:
    from proctorbot.recording.session_recorder import SessionLocked

    manager = BotManager(running_server.ctx, base_url=running_server.url)
    other = BotManager(running_server.ctx, base_url=running_server.url)
    await manager.join(running_server.session_id)
    with pytest.raises(SessionLocked, match="already recording"):
        await other.join(running_server.session_id)
    await manager.leave_all()
