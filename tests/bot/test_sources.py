"""Sources are (person, device): a second device of the same person (a phone beside the
laptop, ``?device=phone``) is a second source recorded apart, never a replacement of the
first; a reload of the same device still replaces it."""

from __future__ import annotations

import asyncio

import pytest
from proctorbot.bot.manager import BotManager
from proctorbot.conference.keys import ROOMS
from proctorbot.recording.manifest import read_manifest
from proctorbot.recording.session_recorder import participant_key

from tests.bot.participant import ScriptedParticipant
from tests.browser_helpers import signaling_client

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


def test_the_key_of_a_second_device_is_its_own() -> None:
    assert participant_key("student", "p1", "A", "x") == "student-p1"
    assert participant_key("student", "p1", "A", "x", "main") == "student-p1"
    assert participant_key("student", "p1", "A", "x", "phone") == "student-p1-phone"


async def test_a_phone_beside_the_laptop_is_a_second_source(running_server) -> None:
    ctx = running_server.ctx
    ctx.settings.recording.segment_seconds = 2.0
    manager = BotManager(ctx, base_url=running_server.url, end_by_itself=False)
    bot = await manager.join(running_server.session_id)
    await asyncio.wait_for(bot.joined.wait(), 10)
    url = running_server.ws_url(running_server.token("student"))
    laptop = ScriptedParticipant(url)
    phone = ScriptedParticipant(url + "&device=phone")
    try:
        await laptop.join()
        await phone.join()
        await asyncio.wait_for(laptop.connected.wait(), 15)
        await asyncio.wait_for(phone.connected.wait(), 15)
        room = running_server.app[ROOMS].get(running_server.session_id)
        students = sorted(p.device for p in room.with_role("student"))
        assert students == ["main", "phone"], "the phone did not replace the laptop"
        await asyncio.sleep(3.0)  # both recorded
        # the same device again (a reload) still replaces it: one main, one phone
        async with signaling_client(running_server, "student") as again:
            assert again.welcome["device"] == "main"
            students = sorted(p.device for p in room.with_role("student"))
            assert students == ["main", "phone"]
    finally:
        await laptop.leave()
        await phone.leave()
        await manager.leave(running_server.session_id)
    manifest = read_manifest(bot.session_dir)
    keys = {f.participant for f in manifest.files if f.kind == "video"}
    person = next(p.person_id for p in manifest.participants if p.role == "student")
    assert {f"student-{person}", f"student-{person}-phone"} <= keys, keys
