"""Every session ends by itself: the rules of ``bot/session_end.py`` on a fake clock, then
a real bot over aiortc that leaves an emptied room and hands the session over."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from proctorbot.bot.manager import BotManager
from proctorbot.bot.session_end import EndRules, EndWatch
from proctorbot.storage.models import ExamSession

from tests.bot.participant import ScriptedParticipant

pytestmark = [pytest.mark.timeout(90)]


class Room:
    """What the watch reads of a SessionBot: who is in the call, and a change signal."""

    def __init__(self) -> None:
        self.people = 0
        self.presence_changed = asyncio.Event()

    def people_present(self) -> bool:
        return self.people > 0

    def set(self, people: int) -> None:
        self.people = people
        self.presence_changed.set()


def rules(slot_end: float | None = 1000.0, empty: float = 120.0, overrun: float = 3600.0):
    return EndRules(empty_for_s=empty, slot_end=slot_end, max_overrun_s=overrun)


def test_an_emptied_room_ends_the_session_after_the_wait() -> None:
    room = Room()
    watch = EndWatch(room, rules())
    room.people = 2
    assert watch.check(100.0) == (None, 1000.0 + 3600.0)
    room.people = 0  # everyone left at 200 s
    assert watch.check(200.0) == (None, 320.0), "a reload or a short drop is not the end"
    room.people = 1  # someone came back
    assert watch.check(300.0)[0] is None
    room.people = 0
    assert watch.check(400.0) == (None, 520.0), "the wait starts again"
    assert watch.check(520.0) == ("room_empty", None)


def test_nobody_came_the_bot_leaves_at_the_end_of_the_slot() -> None:
    room = Room()
    watch = EndWatch(room, rules(slot_end=1000.0))
    assert watch.check(10.0) == (None, 1000.0), "an empty room before anyone came: wait"
    assert watch.check(999.0)[0] is None
    assert watch.check(1000.0) == ("slot_over", None)


def test_an_exam_that_runs_over_keeps_recording_up_to_the_limit() -> None:
    room = Room()
    watch = EndWatch(room, rules(slot_end=1000.0, overrun=600.0))
    room.people = 2
    assert watch.check(1200.0)[0] is None, "people in the call after the slot: stay"
    assert watch.check(1600.0) == ("overrun_limit", None)
    room.people = 0
    fresh = EndWatch(room, rules(slot_end=1000.0, overrun=600.0), people_seen=True)
    assert fresh.check(1300.0) == ("slot_over", None), "over and empty: leave at once"


def test_a_restarted_bot_knows_people_had_been_there() -> None:
    room = Room()
    watch = EndWatch(room, rules(slot_end=None, empty=60.0), people_seen=True)
    assert watch.check(0.0) == (None, 60.0)
    assert watch.check(60.0) == ("room_empty", None)
    assert EndWatch(room, rules(slot_end=None)).check(1e9) == (None, None), "no slot, nobody"


async def test_the_watch_wakes_on_a_change_and_on_the_deadline() -> None:
    room = Room()
    clock = {"now": 0.0}
    watch = EndWatch(room, rules(slot_end=None, empty=0.3), clock=lambda: clock["now"])
    task = asyncio.create_task(watch.wait())
    await asyncio.sleep(0.05)
    room.set(1)
    await asyncio.sleep(0.05)
    clock["now"] = 10.0
    room.set(0)  # everyone gone at 10 s: leave 0.3 s later
    await asyncio.sleep(0.05)
    assert not task.done()
    clock["now"] = 10.3
    assert await asyncio.wait_for(task, 2) == "room_empty"


@pytest.mark.slow
async def test_the_bot_leaves_an_emptied_room_and_hands_the_session_over(running_server) -> None:
    ctx = running_server.ctx
    ctx.settings.bot.leave_when_empty_seconds = 1.5
    handed: list[str] = []

    async def after_session(session_id: str) -> None:
        handed.append(session_id)

    manager = BotManager(ctx, base_url=running_server.url, after_session=after_session)
    bot = await manager.join(running_server.session_id)
    await asyncio.wait_for(bot.joined.wait(), 10)
    student = ScriptedParticipant(running_server.ws_url(running_server.token("student")))
    await student.join()
    await asyncio.wait_for(student.connected.wait(), 15)
    with ctx.db() as db:
        assert db.get(ExamSession, running_server.session_id).status == "open", "the bot is in"
    await asyncio.sleep(1.0)
    await student.leave()
    left_at = asyncio.get_running_loop().time()
    async with asyncio.timeout(20):
        while not handed:
            await asyncio.sleep(0.1)
    waited = asyncio.get_running_loop().time() - left_at
    assert 1.5 <= waited < 8.0, f"left {waited:.1f} s after the room emptied"
    assert handed == [running_server.session_id]
    assert manager.ended == {running_server.session_id: "room_empty"}
    with ctx.db() as db:
        assert db.get(ExamSession, running_server.session_id).status == "open"
    assert not manager.is_joined(running_server.session_id)
    assert bot.manifest is not None and bot.manifest.ended_at is not None, "files closed"


@pytest.mark.slow
async def test_a_server_stop_closes_the_recording_without_a_hand_over(running_server) -> None:
    ctx = running_server.ctx
    handed: list[str] = []

    async def after_session(session_id: str) -> None:
        handed.append(session_id)

    with ctx.db.begin() as db:  # the slot is over: with nobody in the call it ends at once
        db.get(ExamSession, running_server.session_id).ends_at = dt.datetime.now(
            dt.UTC
        ) + dt.timedelta(minutes=30)
    manager = BotManager(ctx, base_url=running_server.url, after_session=after_session)
    bot = await manager.join(running_server.session_id)
    await asyncio.wait_for(bot.joined.wait(), 10)
    await manager.leave_all()
    assert handed == [], "the hand-over runs at the next start, not during a shutdown"
    assert bot.manifest is not None


@pytest.mark.slow
async def test_people_still_in_the_call_at_the_overrun_limit_are_told(running_server) -> None:
    from tests.browser_helpers import signaling_client

    ctx = running_server.ctx
    ctx.settings.bot.max_overrun_minutes = 0.0
    with ctx.db.begin() as db:  # the slot ends in 2 s; the student stays on
        db.get(ExamSession, running_server.session_id).ends_at = dt.datetime.now(
            dt.UTC
        ) + dt.timedelta(seconds=2)
    manager = BotManager(ctx, base_url=running_server.url)
    bot = await manager.join(running_server.session_id)
    await asyncio.wait_for(bot.joined.wait(), 10)
    async with signaling_client(running_server, "student") as student:
        async with asyncio.timeout(20):
            while True:
                message = await student.receive("panel", timeout=20)
                if message.get("area") == "session":
                    break
        assert message["action"] == "ended" and message["data"]["reason"] == "overrun_limit"
    assert manager.ended == {running_server.session_id: "overrun_limit"}
