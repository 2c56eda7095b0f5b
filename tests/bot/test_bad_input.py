"""Corrupt SDP and a peer that never answers: a clear log line, the session goes on."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from proctorbot.bot.manager import BotManager
from proctorbot.conference.keys import ROOMS

from tests.bot.participant import ScriptedParticipant
from tests.browser_helpers import signaling_client

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


async def record_examiner_briefly(server) -> None:  # noqa: ANN001
    examiner = ScriptedParticipant(server.ws_url(server.token("examiner")))
    await examiner.join()
    await asyncio.wait_for(examiner.connected.wait(), 15)
    await asyncio.sleep(1.5)
    await examiner.leave()


def manifest_files(bot) -> list[dict]:  # noqa: ANN001
    return json.loads((bot.session_dir / "manifest.json").read_text())["files"]


async def test_corrupt_sdp_is_refused_and_others_are_recorded(
    running_server, caplog: pytest.LogCaptureFixture
) -> None:
    running_server.ctx.settings.recording.make_composite = False
    manager = BotManager(running_server.ctx, base_url=running_server.url)
    bot = await manager.join(running_server.session_id)
    await asyncio.wait_for(bot.joined.wait(), 10)
    with caplog.at_level(logging.ERROR):
        async with signaling_client(running_server, "student") as student:
            bot_id = bot.peer_id
            await student.send({"type": "offer", "to": bot_id, "sdp": "v=0\r\nm=video garbage\r\n"})
            await student.send({"type": "offer", "to": bot_id, "sdp": "not an sdp at all"})
            await student.send(
                {"type": "ice", "to": bot_id, "candidate": {"candidate": "candidate:x"}}
            )
            await asyncio.sleep(1.0)
            assert bot.peers, "the bot is still in the call"
            await record_examiner_briefly(running_server)
    await manager.leave(running_server.session_id)
    assert "offer from student-" in caplog.text and "rejected" in caplog.text
    assert "is not an SDP" in caplog.text
    roles = {f["role"] for f in manifest_files(bot) if f["kind"] == "video" and f["frames"]}
    assert roles == {"examiner"}


async def test_a_peer_that_never_answers_times_out(
    running_server, caplog: pytest.LogCaptureFixture
) -> None:
    settings = running_server.ctx.settings
    settings.recording.make_composite = False
    settings.bot.answer_timeout_seconds = 1.5
    async with signaling_client(running_server, "student"):  # present first, never answers
        manager = BotManager(running_server.ctx, base_url=running_server.url)
        with caplog.at_level(logging.ERROR):
            bot = await manager.join(running_server.session_id)
            await asyncio.wait_for(bot.joined.wait(), 10)
            await asyncio.sleep(2.5)
        assert "never answered the bot's offer within 2 s" in caplog.text
        assert not bot._links, "the dead link is closed"
        room = running_server.app[ROOMS].get(running_server.session_id)
        assert room is not None and room.with_role("bot"), "the bot stays in the room"
        await record_examiner_briefly(running_server)
        await manager.leave(running_server.session_id)
    assert any(f["role"] == "examiner" and f["frames"] for f in manifest_files(bot))
