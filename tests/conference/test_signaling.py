"""Signaling over a real server: relays, bad input, capacity, leaving, prompts, panel."""

from __future__ import annotations

import asyncio
import contextlib
import json

import aiohttp
import pytest

from tests.browser_helpers import offer_answer_ice_relayed, signaling_client


async def test_welcome_lists_peers_and_newcomer_is_announced(running_server) -> None:
    async with signaling_client(running_server, "student") as student:
        assert student.welcome["role"] == "student"
        assert student.welcome["session_id"] == running_server.session_id
        assert student.welcome["peers"] == []
        assert student.welcome["language"] == "ru"
        async with signaling_client(running_server, "examiner") as examiner:
            assert [p["peer_id"] for p in examiner.welcome["peers"]] == [student.peer_id]
            joined = await student.receive("peer-joined")
            assert joined["peer"]["peer_id"] == examiner.peer_id
            assert joined["peer"]["name"] == "Ольга Николаевна Соколова"


async def test_offer_answer_ice_are_relayed_with_from(running_server) -> None:
    async with (
        signaling_client(running_server, "student") as student,
        signaling_client(running_server, "examiner") as examiner,
    ):
        await offer_answer_ice_relayed(examiner, student)
        await student.send({"type": "ice", "to": examiner.peer_id, "candidate": None})
        assert (await examiner.receive("ice"))["candidate"] is None


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", "bad_json"),
        ("[1, 2]", "not_object"),
        ('{"no": "type"}', "not_object"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"type": "offer", "to": "nobody", "sdp": "v=0"}', "unknown_peer"),
        ('{"type": "offer", "to": "nobody"}', "bad_field"),
        ('{"type": "ice", "to": "x", "candidate": 5}', "bad_field"),
        ('{"type": "media-state", "mic": "yes", "cam": true}', "bad_field"),
        ('{"type": "prompt", "text": "I am the bot now"}', "forbidden"),
        ('{"type": "panel", "area": "checklist", "action": "next"}', "bot_absent"),
    ],
)
async def test_bad_input_gets_an_error_and_the_connection_stays(running_server, raw, code) -> None:
    async with (
        signaling_client(running_server, "student") as student,
        signaling_client(running_server, "examiner") as examiner,
    ):
        await student.ws.send_str(raw)
        error = await student.receive("error")
        assert error["code"] == code and error["message"]
        # Still in the room: a relay works right after.
        await student.send({"type": "offer", "to": examiner.peer_id, "sdp": "v=0"})
        assert (await examiner.receive("offer"))["from"] == student.peer_id


async def test_oversized_and_binary_messages_are_refused_politely(running_server) -> None:
    limit = running_server.ctx.settings.server.max_message_bytes
    async with (
        signaling_client(running_server, "student") as student,
        signaling_client(running_server, "examiner") as examiner,
    ):
        await student.send({"type": "offer", "to": examiner.peer_id, "sdp": "x" * (limit + 1)})
        assert (await student.receive("error"))["code"] == "too_large"
        await student.ws.send_bytes(b"\x00\x01")
        assert (await student.receive("error"))["code"] == "binary"
        await student.send({"type": "offer", "to": examiner.peer_id, "sdp": "v=0"})
        assert (await examiner.receive("offer"))["sdp"] == "v=0"


async def test_peer_left_on_disconnect(running_server) -> None:
    async with signaling_client(running_server, "examiner") as examiner:
        async with signaling_client(running_server, "student") as student:
            student_id = student.peer_id
            await examiner.receive("peer-joined")
        left = await examiner.receive("peer-left")
        assert left["peer_id"] == student_id
        assert left["reason"] == "left"


async def test_same_person_reconnecting_replaces_the_old_connection(running_server) -> None:
    async with signaling_client(running_server, "examiner") as examiner:
        async with signaling_client(running_server, "student") as first:
            await examiner.receive("peer-joined")
            async with signaling_client(running_server, "student") as second:
                left = await examiner.receive("peer-left")
                assert (left["peer_id"], left["reason"]) == (first.peer_id, "replaced")
                assert (await examiner.receive("peer-joined"))["peer"]["peer_id"] == second.peer_id
                assert second.welcome["peers"] == [_described(examiner)]
                closed = await first.ws.receive(timeout=5)
                assert closed.type == aiohttp.WSMsgType.CLOSE and closed.data == 4001


def _described(client) -> dict:
    return {
        "peer_id": client.peer_id,
        "role": "examiner",
        "name": client.welcome["name"],
        "person_id": client.welcome["person_id"],
        "device": "main",  # which of the person's devices: a source is (person, device)
        "mic": True,
        "cam": True,
    }


async def test_room_capacity_counts_people_not_the_bot(running_server) -> None:
    running_server.ctx.settings.conference.max_participants_per_room = 2
    async with (
        signaling_client(running_server, "student"),
        signaling_client(running_server, "examiner"),
        signaling_client(running_server, "bot") as bot,
    ):
        assert bot.welcome["role"] == "bot"
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(running_server.ws_url(running_server.token("expert")))
            error = json.loads((await ws.receive(timeout=5)).data)
            assert error["type"] == "error" and error["code"] == "room_full"
            closed = await ws.receive(timeout=5)
            assert closed.type == aiohttp.WSMsgType.CLOSE and closed.data == 4409
            await ws.close()


async def test_expert_joins_with_camera_and_microphone_off(running_server) -> None:
    async with (
        signaling_client(running_server, "student") as student,
        signaling_client(running_server, "expert"),
    ):
        peer = (await student.receive("peer-joined"))["peer"]
        assert (peer["role"], peer["mic"], peer["cam"]) == ("expert", False, False)


async def test_media_state_is_broadcast(running_server) -> None:
    async with (
        signaling_client(running_server, "student") as student,
        signaling_client(running_server, "examiner") as examiner,
    ):
        await student.send({"type": "media-state", "mic": False, "cam": True})
        state = await examiner.receive("media-state")
        assert (state["from"], state["mic"], state["cam"]) == (student.peer_id, False, True)


async def test_bot_prompt_to_one_peer_and_to_everyone(running_server) -> None:
    async with (
        signaling_client(running_server, "student") as student,
        signaling_client(running_server, "examiner") as examiner,
        signaling_client(running_server, "bot") as bot,
    ):
        await bot.send(
            {"type": "prompt", "to": student.peer_id, "key": "show_id", "text": "Покажите паспорт"}
        )
        prompt = await student.receive("prompt")
        assert (prompt["text"], prompt["key"], prompt["level"], prompt["from"]) == (
            "Покажите паспорт",
            "show_id",
            "info",
            bot.peer_id,
        )
        await bot.send({"type": "prompt", "to": None, "text": "Запись идёт", "level": "warning"})
        assert (await student.receive("prompt"))["text"] == "Запись идёт"
        assert (await examiner.receive("prompt"))["level"] == "warning"
        await bot.send({"type": "prompt", "to": "student-gone", "text": "?"})
        assert (await bot.receive("error"))["code"] == "unknown_peer"


async def test_panel_messages_go_to_bot_and_examiners_and_back(running_server) -> None:
    async with (
        signaling_client(running_server, "student") as student,
        signaling_client(running_server, "examiner") as examiner,
        signaling_client(running_server, "bot") as bot,
    ):
        await examiner.send(
            {"type": "panel", "area": "checklist", "action": "next", "data": {"step": 2}}
        )
        got = await bot.receive("panel")
        assert (got["from"], got["data"]) == (examiner.peer_id, {"step": 2})
        await student.send({"type": "panel", "area": "checklist", "action": "consent", "data": {}})
        assert (await bot.receive("panel"))["action"] == "consent"
        assert (await examiner.receive("panel"))["from"] == student.peer_id
        await bot.send(
            {
                "type": "panel",
                "to": examiner.peer_id,
                "area": "checklist",
                "action": "state",
                "data": {},
            }
        )
        assert (await examiner.receive("panel"))["action"] == "state"
        with pytest.raises(TimeoutError):
            await student.receive("panel", timeout=0.3)


async def test_bad_tokens_are_refused_on_the_socket(running_server) -> None:
    async with aiohttp.ClientSession() as http:
        body, _mac = running_server.token("examiner").split(".")
        ws = await http.ws_connect(running_server.ws_url(body + "." + "A" * 43))
        error = json.loads((await ws.receive(timeout=5)).data)
        assert error["code"] == "token_forged"
        assert (await ws.receive(timeout=5)).data == 4403
        await ws.close()


async def test_room_is_forgotten_when_empty(running_server) -> None:
    from proctorbot.conference.keys import ROOMS

    async with signaling_client(running_server, "student"):
        assert running_server.session_id in running_server.app[ROOMS].rooms
    await asyncio.sleep(0.1)
    assert running_server.app[ROOMS].rooms == {}


async def test_people_joining_at_once_always_find_each_other(running_server) -> None:
    for _round in range(5):
        async with contextlib.AsyncExitStack() as stack:
            student, examiner = await asyncio.gather(
                stack.enter_async_context(signaling_client(running_server, "student")),
                stack.enter_async_context(signaling_client(running_server, "examiner")),
            )
            listed = [
                examiner.peer_id in [p["peer_id"] for p in student.welcome["peers"]],
                student.peer_id in [p["peer_id"] for p in examiner.welcome["peers"]],
            ]
            assert listed.count(True) == 1, "exactly one of them is the later joiner and offers"
            earlier = student if listed[1] else examiner
            later = examiner if earlier is student else student
            assert (await earlier.receive("peer-joined"))["peer"]["peer_id"] == later.peer_id
        await asyncio.sleep(0.05)
