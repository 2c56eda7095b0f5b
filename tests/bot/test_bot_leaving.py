"""The bot leaving: plug-ins close what is open before the files close, events are on
disk as they are emitted, and a connection stalled at the leave becomes a gap (an event
and a gap in manifest.json).

A real ``SessionBot`` and recorder with no signaling server (its connection attempts
fail and it retries) and no WebRTC: fast.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import pytest
from proctorbot.bot.peers import PeerInfo
from proctorbot.bot.session_bot import SessionBot
from proctorbot.detection.events import DetectorEvent, EventKind
from proctorbot.recording.manifest import read_manifest

pytestmark = [pytest.mark.timeout(60)]

NOWHERE = "ws://127.0.0.1:9/ws?t=x"  # connection refused: the bot keeps retrying


def _events(folder: Path) -> list[dict]:
    path = folder / "events.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


async def _started(settings, plugins=()) -> tuple[SessionBot, asyncio.Task]:
    settings.recording.make_composite = False
    settings.bot.reconnect_delay_seconds = 30.0  # one failed attempt, then waiting
    bot = SessionBot("s-leaving", NOWHERE, settings, plugins=tuple(plugins))
    task = asyncio.create_task(bot.run())
    await asyncio.sleep(0.3)  # the first attempt failed; the bot waits to retry
    await bot._welcome({"peer_id": "bot-1", "peers": []})  # what the server says on joining
    return bot, task


async def test_a_plug_in_closing_slowly_is_waited_for_before_the_files_close(settings) -> None:
    seen_stop: list[float | None] = []

    async def watch(bot: SessionBot) -> None:
        try:
            await asyncio.Event().wait()
        finally:  # like LiveWatch: close the open span at the leave time, after some work
            seen_stop.append(bot.stopped_at)
            await asyncio.sleep(0.5)
            bot.emit(DetectorEvent(EventKind.FACE_ABSENT, 1.0, bot.stopped_at or 0.0, 1.0, "s"))

    bot, task = await _started(settings, [watch])
    await asyncio.sleep(0.2)
    await bot.stop()
    manifest = await asyncio.wait_for(task, 30)
    assert seen_stop and seen_stop[0] is not None, "stopped_at is set before the cancel"
    events = _events(bot.session_dir)
    assert [(e["kind"], e["end"]) for e in events] == [("face_absent", seen_stop[0])]
    assert manifest.ended_at is not None


async def test_an_event_is_on_disk_while_the_recorder_is_behind(settings) -> None:
    bot, task = await _started(settings)
    disk_busy = threading.Event()
    bot.recorder.worker.submit(disk_busy.wait, 20)  # frames stuck behind a slow disk
    try:
        bot.emit(DetectorEvent(EventKind.THIRD_PARTY_VOICE, 3.0, 8.0, 0.9, "student-s"))
        async with asyncio.timeout(5):
            while not _events(bot.session_dir):
                await asyncio.sleep(0.05)
    finally:
        disk_busy.set()
    assert [e["kind"] for e in _events(bot.session_dir)] == ["third_party_voice"]
    await bot.stop()
    await asyncio.wait_for(task, 30)


class ConnectedLink:
    """A student's link that is up but brings no media (what the watchdog reports)."""

    def __init__(self, peer: PeerInfo) -> None:
        self.peer = peer
        self.in_recording = True
        self.tracks: list = []
        self.state = "connected"

    async def close(self) -> None:
        pass


async def test_a_connection_stalled_at_the_leave_becomes_a_gap(settings) -> None:
    bot, task = await _started(settings)
    student = PeerInfo("peer-s", "student", "Student Person", "s1")
    bot.peers[student.peer_id] = student
    bot._links[student.peer_id] = ConnectedLink(student)
    key = bot._key(student)
    bot.recorder.participant_joined(key, "student", student.name, student.person_id)
    since = time.time() - 20.0
    bot.recorder.media_stalled(key, since)  # no media for 20 s, the link still up
    await asyncio.sleep(0.1)
    (gap,) = bot.open_gaps()  # what the live watch checks against the profile meanwhile
    assert (gap.participant, gap.reason) == (key, "media_timeout")
    assert gap.start == pytest.approx(since - bot.started_at, abs=0.01)
    await bot.stop()
    manifest = await asyncio.wait_for(task, 30)

    gaps = [e for e in _events(bot.session_dir) if e["kind"] == "participant_left"]
    assert len(gaps) == 1, gaps
    assert gaps[0]["track"] == key and gaps[0]["details"]["reason"] == "media_timeout"
    assert gaps[0]["start"] == pytest.approx(since - bot.started_at, abs=0.01)
    assert gaps[0]["end"] == pytest.approx(bot.stopped_at, abs=0.01)
    # The same gap in manifest.json, where the report's timeline reads gaps from.
    for listed in (manifest, read_manifest(bot.session_dir)):
        assert [(g.participant, g.reason) for g in listed.gaps] == [(key, "media_timeout")]
        (gap,) = listed.gaps
        assert gap.start == pytest.approx(since, abs=0.01)
        assert gap.end == pytest.approx(bot.started_at + bot.stopped_at, abs=0.01)


@pytest.mark.parametrize("laptop_leaves_first", [False, True])
async def test_a_phone_gone_for_good_is_a_gap_until_the_laptop_left(
    settings, laptop_leaves_first: bool
) -> None:
    """The student's phone leaves and never comes back: its time away counts (a gap of the
    phone, ending at the leave or when the laptop left), not dropped as a departure."""
    bot, task = await _started(settings)
    laptop = PeerInfo("peer-s", "student", "Student Person", "s1")
    phone = PeerInfo("peer-p", "student", "Student Person", "s1", device="phone")
    recorder = bot.recorder
    for peer in (laptop, phone):
        bot.peers[peer.peer_id] = peer
        recorder.participant_joined(bot._key(peer), "student", peer.name, peer.person_id)
    if not laptop_leaves_first:
        bot._links[laptop.peer_id] = ConnectedLink(laptop)
    phone_left = time.time() - 30.0
    recorder.participant_left(bot._key(phone), "left", phone_left)
    laptop_left = time.time() - 10.0
    if laptop_leaves_first:
        recorder.participant_left(bot._key(laptop), "left", laptop_left)
    await asyncio.sleep(0.1)
    await bot.stop()
    manifest = await asyncio.wait_for(task, 30)

    phone_key = bot._key(phone)
    assert phone_key == f"{bot._key(laptop)}-phone"
    (gap,) = [g for g in manifest.gaps if g.participant == phone_key]
    assert gap.start == pytest.approx(phone_left, abs=0.01)
    end = laptop_left if laptop_leaves_first else bot.started_at + (bot.stopped_at or 0.0)
    assert gap.end == pytest.approx(end, abs=0.01)
    assert not [g for g in manifest.gaps if g.participant == bot._key(laptop)], "a departure"
    left = [e for e in _events(bot.session_dir) if e["kind"] == "participant_left"]
    assert [e["track"] for e in left] == [phone_key]
