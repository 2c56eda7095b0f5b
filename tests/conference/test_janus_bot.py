"""The bot through Janus (conference.mode = "janus"): a real SessionBot, the real conference
server (build_app, the conference alone), a real Janus (tests/conference/janus_fixture.py).

A student and an examiner join the signaling and publish aiortc audio + video into the
session's VideoRoom under their peer ids (as the signaling bridge does for browsers); the
bot finds the room through the placement, subscribes to each publisher and records them
by participant, as in a mesh. The examiner leaves before the bot, the student goes on
after it: the hand-over's step releases the room and lists Janus's own recording
(.mjr → janus-pp-rec) in the manifest, the
bot's copy is the record of truth for the examiner's tracks and Janus's for the
student's (the bot missed the end)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
from pathlib import Path

import aiohttp
import pytest
from proctorbot.bot.manager import bot_signaling_url
from proctorbot.bot.session_bot import SessionBot
from proctorbot.conference.janus.client import JanusClient
from proctorbot.conference.janus.placement import JanusRooms
from proctorbot.conference.janus.recordings import add_janus_recordings, truth_of
from proctorbot.handover.session_handover import SessionHandOver
from proctorbot.recording.manifest import Gap, Manifest, RecordedFile, read_manifest, sha256_of

from tests.conference import janus_fixture
from tests.conference.janus_fixture import JANUS_ICE_ADDRESS, JanusProcess
from tests.conference.janus_peers import JanusPublisher, publish

janus_network = janus_fixture.janus_network
janus_factory = janus_fixture.janus_factory
janus = janus_fixture.janus

pytestmark = pytest.mark.timeout(120)


async def wait_for(predicate, timeout: float, what: str) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


class Person:
    """A participant: the signaling socket (its peer id) and a publication into Janus."""

    def __init__(self, ws_url: str) -> None:
        self.ws_url = ws_url
        self.peer_id = ""
        self.publisher: JanusPublisher | None = None

    async def join(self, client: JanusClient, room: int) -> None:
        self.http = aiohttp.ClientSession()
        self.ws = await self.http.ws_connect(self.ws_url)
        welcome = json.loads((await self.ws.receive(timeout=10)).data)
        assert welcome["type"] == "welcome", welcome
        self.peer_id = welcome["peer_id"]
        self.publisher = await publish(client, room, self.peer_id, fps=10, size=(160, 120))

    async def leave(self) -> None:
        if self.publisher is not None:
            self.publisher.video.running = self.publisher.audio.running = False
            await self.publisher.close()
        await self.ws.close()
        await self.http.close()


async def test_the_bot_records_publishers_through_janus(
    running_server, janus: JanusProcess, tmp_path: Path
) -> None:
    if shutil.which("janus-pp-rec") is None:
        pytest.skip("janus-pp-rec is not installed (janus-tools)")
    ctx = running_server.ctx
    settings = ctx.settings.model_copy(deep=True)
    settings.conference.mode = "janus"
    settings.janus.urls = [janus.url]
    settings.janus.bot_ice_address = JANUS_ICE_ADDRESS
    settings.janus.record_dir = str(tmp_path / "janus-rec")
    settings.recording.segment_seconds = 2.0
    sid = running_server.session_id
    rooms = JanusRooms(ctx.db, settings)
    bot = SessionBot(
        sid,
        bot_signaling_url(ctx, sid, running_server.url),
        settings,
        janus_place=rooms,
    )
    bot_task = asyncio.create_task(bot.run())
    student = Person(running_server.ws_url(running_server.token("student")))
    examiner = Person(running_server.ws_url(running_server.token("examiner")))
    try:
        assert bot.janus is not None
        await asyncio.wait_for(bot.joined.wait(), 10)
        await asyncio.wait_for(bot.janus.joined.wait(), 10)
        place = await rooms.lookup(sid)
        assert place is not None and place.url == janus.url
        async with JanusClient(janus.url) as client:
            await student.join(client, place.room)
            await examiner.join(client, place.room)
            for person in (student, examiner):
                await wait_for(
                    lambda p=person: (
                        bot.sources_recording(p.peer_id, 1.0)
                        == {"camera": True, "microphone": True}
                    ),
                    20,
                    f"the bot recording {person.peer_id} through Janus",
                )
            await asyncio.sleep(3.0)
            await examiner.leave()
            await wait_for(lambda: examiner.peer_id not in bot.peers, 10, "the examiner gone")
            await bot.stop()
            manifest = await asyncio.wait_for(bot_task, 30)
            await asyncio.sleep(3.0)  # the student goes on: only Janus records it now
            await student.leave()
    finally:
        if not bot_task.done():
            await bot.stop()
            await asyncio.wait_for(bot_task, 30)

    keys = {p.role: p.participant for p in manifest.participants}
    assert set(keys) == {"student", "examiner"}
    for role, key in keys.items():
        for kind, codec in (("video", "vp8"), ("audio", "opus")):
            files = [f for f in manifest.files if f.participant == key and f.kind == kind]
            assert files, f"the bot recorded no {kind} of the {role}"
            assert all(f.codec == codec and f.frames > 0 for f in files)
            assert sum(f.duration for f in files) > 2.0
            for record in files:
                assert (bot.session_dir / record.path).stat().st_size > 0
    owners = sorted((bot.session_dir / "janus" / "feeds").glob("*.json"))
    assert {json.loads(p.read_text())["participant"] for p in owners} == set(keys.values())

    rec_dir = Path(place.rec_dir)
    assert len(list(rec_dir.glob("*.mjr"))) == 4  # audio + video of two publishers
    # the hand-over's step: the room released (Janus closes its files), then converted
    hand_over = SessionHandOver(
        dataclasses.replace(ctx, settings=settings), audio_models=None, transcriber=None
    )
    said = await hand_over._janus_recordings(sid, bot.session_dir)
    assert said.startswith("4 Janus files"), said
    assert await rooms.lookup(sid) is None
    made = read_manifest(bot.session_dir)
    janus_files = [f for f in made.files if f.kind.startswith("janus_")]
    assert len(janus_files) == 4, made.errors
    for record in janus_files:
        path = bot.session_dir / record.path
        assert path.suffix == (".webm" if record.kind == "janus_video" else ".opus")
        assert record.participant in keys.values()
        assert record.duration > 2.0 and sha256_of(path) == record.sha256
    assert made.record_of_truth == {
        f"{keys['examiner']}:video": "bot",
        f"{keys['examiner']}:audio": "bot",
        f"{keys['student']}:video": "janus",
        f"{keys['student']}:audio": "janus",
    }
    again = await asyncio.to_thread(add_janus_recordings, bot.session_dir, rec_dir)
    assert len(again.files) == len(made.files)  # converted once


def test_record_of_truth_rules() -> None:
    def file(kind: str, duration: float, complete: bool = True) -> RecordedFile:
        return RecordedFile("x", kind, "vp8", "student-1-main", "student", 0.0, duration,
                            complete=complete)  # fmt: skip

    both = Manifest("s", 0.0, files=[file("video", 30.0), file("janus_video", 31.0)])
    assert truth_of(both, "student-1-main", "video") == "bot"
    assert truth_of(both, "student-1-main", "audio") == "bot"  # Janus has none
    shorter = Manifest("s", 0.0, files=[file("video", 20.0), file("janus_video", 31.0)])
    assert truth_of(shorter, "student-1-main", "video") == "janus"
    broken = Manifest("s", 0.0, files=[file("video", 30.0, False), file("janus_video", 30.0)])
    assert truth_of(broken, "student-1-main", "video") == "janus"
    crashed = Manifest(
        "s",
        0.0,
        files=[file("video", 30.0), file("janus_video", 30.5)],
        gaps=[Gap("student-1-main", 5.0, 5.4, "bot_down")],
    )
    assert truth_of(crashed, "student-1-main", "video") == "janus"
    only_janus = Manifest("s", 0.0, files=[file("janus_video", 30.0)])
    assert truth_of(only_janus, "student-1-main", "video") == "janus"


async def test_the_bot_of_a_janus_server_records_a_page_published_through_the_bridge(
    app_context, janus: JanusProcess, tmp_path: Path
) -> None:
    """The whole Janus mode in one process: the server's signaling bridge publishes the
    student's page into the room the placement made, the BotManager's bot (the same
    placement, from the database) subscribes to it and records it under its key; when
    the bot's Janus session is lost it subscribes again, a bot_down gap between."""
    from proctorbot.bot.manager import BotManager

    from tests.browser_helpers import serve_app
    from tests.conference.test_janus_bridge import aiortc_page

    settings = app_context.settings
    settings.conference.mode = "janus"
    settings.janus.urls = [janus.url]
    settings.janus.bot_ice_address = JANUS_ICE_ADDRESS
    settings.janus.record_dir = str(tmp_path / "janus-rec")
    async with serve_app(app_context) as server:
        manager = BotManager(server.ctx, base_url=server.url, end_by_itself=False)
        bot = await manager.join(server.session_id)
        try:
            await asyncio.wait_for(bot.joined.wait(), 10)
            assert bot.janus is not None
            await asyncio.wait_for(bot.janus.joined.wait(), 10)
            async with aiortc_page(server, "student") as student:
                await student.publish()
                peer_id = student.client.peer_id
                await wait_for(
                    lambda: (
                        bot.sources_recording(peer_id, 1.0) == {"camera": True, "microphone": True}
                    ),
                    20,
                    "the bot recording the page published through the bridge",
                )
                await asyncio.sleep(1.0)
                # the bot's Janus session is lost: it joins again and subscribes anew
                lost = bot.janus._session
                assert lost is not None
                await lost.destroy()
                await wait_for(lambda: not bot.janus.joined.is_set(), 5, "the watch noticing")
                await asyncio.wait_for(bot.janus.joined.wait(), 10)
                await wait_for(
                    lambda: (
                        bot.sources_recording(peer_id, 1.0) == {"camera": True, "microphone": True}
                    ),
                    20,
                    "the bot recording again after its Janus session was lost",
                )
                await asyncio.sleep(1.0)
        finally:
            await manager.leave(server.session_id)
    manifest = read_manifest(bot.session_dir)
    assert [p.role for p in manifest.participants] == ["student"]
    kinds = {f.kind for f in manifest.files if f.role == "student" and f.frames > 0}
    assert {"video", "audio"} <= kinds
    key = manifest.participants[0].participant
    lost_gaps = [g for g in manifest.gaps if g.participant == key]
    assert [g.reason for g in lost_gaps] == ["bot_down"], manifest.gaps
    assert lost_gaps[0].end is not None and lost_gaps[0].duration < 10
    place = await manager.janus_rooms.lookup(server.session_id)
    assert place is not None and any(Path(place.rec_dir).glob("*-video-*.mjr"))


async def test_a_bot_killed_in_janus_mode_loses_nothing(
    running_server, janus: JanusProcess, tmp_path: Path
) -> None:
    """`kill -9` of the bot (`proctorbot bot join`, janus mode) mid-session: Janus goes on
    recording; a new bot resumes in the folder with a bot_down gap; after the hand-over
    step Janus's copy of the student is the record of truth and covers the whole call."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from proctorbot.conference.keys import ROOMS

    if shutil.which("janus-pp-rec") is None:
        pytest.skip("janus-pp-rec is not installed (janus-tools)")
    ctx = running_server.ctx
    sid = running_server.session_id
    settings = ctx.settings.model_copy(deep=True)
    settings.conference.mode = "janus"
    settings.janus.urls = [janus.url]
    settings.janus.bot_ice_address = JANUS_ICE_ADDRESS
    settings.janus.record_dir = str(tmp_path / "janus-rec")
    settings.recording.segment_seconds = 2.0
    settings.recording.make_composite = False
    env = {
        **os.environ,
        "PROCTORBOT_DATA_DIR": str(ctx.settings.data_dir),
        "PROCTORBOT_CONFERENCE__ALLOW_LOOPBACK": "true",
        "PROCTORBOT_CONFERENCE__MODE": "janus",
        "PROCTORBOT_JANUS__URLS": json.dumps([janus.url]),
        "PROCTORBOT_JANUS__BOT_ICE_ADDRESS": JANUS_ICE_ADDRESS,
        "PROCTORBOT_JANUS__RECORD_DIR": settings.janus.record_dir,
        "PROCTORBOT_RECORDING__SEGMENT_SECONDS": "2",
        "PROCTORBOT_RECORDING__MAKE_COMPOSITE": "false",
    }

    def bot_present() -> bool:
        room = running_server.app[ROOMS].get(sid)
        return bool(room and room.with_role("bot"))

    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "proctorbot", "bot", "join", sid, "--url", running_server.url],
        env=env,
        cwd=tmp_path,
        stderr=subprocess.DEVNULL,
    )
    rooms = JanusRooms(ctx.db, settings)
    student = Person(running_server.ws_url(running_server.token("student")))
    try:
        await wait_for(bot_present, 30, "the bot process in the call")
        place = None
        async with asyncio.timeout(15):
            while place is None:
                place = await rooms.lookup(sid)
                await asyncio.sleep(0.2)
        session_dir = ctx.settings.recordings_dir / sid
        async with JanusClient(janus.url) as client:
            await student.join(client, place.room)
            began = time.time()
            await wait_for(
                lambda: len(list(session_dir.glob("student-*/video-*.ivf"))) >= 2,
                20,
                "the bot process recording the student",
            )
            process.send_signal(signal.SIGKILL)
            process.wait(10)
            await wait_for(lambda: not bot_present(), 15, "the killed bot gone from the call")
            await asyncio.sleep(1.0)
            bot = SessionBot(
                sid, bot_signaling_url(ctx, sid, running_server.url), settings, janus_place=rooms
            )
            run = asyncio.create_task(bot.run())
            try:
                await wait_for(
                    lambda: bot.sources_recording(student.peer_id, 1.0)["camera"],
                    20,
                    "the new bot recording the student through Janus",
                )
                await asyncio.sleep(2.0)
            finally:
                await bot.stop()
                await asyncio.wait_for(run, 30)
            await student.leave()
            ended = time.time()
    finally:
        if process.poll() is None:
            process.kill()
    hand_over = SessionHandOver(
        dataclasses.replace(ctx, settings=settings), audio_models=None, transcriber=None
    )
    said = await hand_over._janus_recordings(sid, session_dir)
    manifest = read_manifest(session_dir)
    key = next(p.participant for p in manifest.participants if p.role == "student")
    assert any(g.participant == key and g.reason == "bot_down" for g in manifest.gaps)
    assert manifest.record_of_truth[f"{key}:video"] == "janus", said
    assert manifest.record_of_truth[f"{key}:audio"] == "janus", said
    janus_video = [f for f in manifest.files if f.participant == key and f.kind == "janus_video"]
    assert len(janus_video) == 1  # one publication, one file: nothing lost at the kill
    assert janus_video[0].duration >= (ended - began) - 2.5, (janus_video[0], ended - began)
