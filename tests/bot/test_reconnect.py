"""A participant who drops and comes back: one folder, a new run, and the gap logged."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from proctorbot.bot.manager import BotManager
from proctorbot.recording.manifest import read_manifest

from tests.bot.media_checks import decode_errors, read_wav_mono
from tests.bot.participant import ScriptedParticipant

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


async def start_bot(server):
    ctx = server.ctx
    ctx.settings.recording.segment_seconds = 3.0
    ctx.settings.recording.make_composite = False
    ctx.settings.bot.media_timeout_seconds = 1.5
    manager = BotManager(ctx, base_url=server.url)
    bot = await manager.join(server.session_id)
    await asyncio.wait_for(bot.joined.wait(), 10)
    return manager, bot


async def test_leave_and_rejoin_records_a_gap(running_server) -> None:
    manager, bot = await start_bot(running_server)
    url = running_server.ws_url(running_server.token("student"))
    first = ScriptedParticipant(url)
    await first.join()
    await asyncio.wait_for(first.connected.wait(), 15)
    await asyncio.sleep(4.0)
    left_at = time.time()
    await first.leave()
    await asyncio.sleep(3.0)
    second = ScriptedParticipant(url)
    await second.join()
    await asyncio.wait_for(second.connected.wait(), 15)
    back_at = time.time()
    await asyncio.sleep(4.0)
    await second.leave()
    gone_at = time.time()
    await asyncio.sleep(0.5)
    await manager.leave(running_server.session_id)

    manifest = read_manifest(bot.session_dir)
    assert len(manifest.participants) == 1
    [gap] = manifest.gaps
    assert gap.reason == "left"
    assert abs(gap.start - left_at) < 1.0
    assert gap.end is not None and abs(gap.end - back_at) < 1.5
    folder = bot.session_dir / manifest.participants[0].participant
    for kind, suffix in (("video", "ivf"), ("audio", "ogg")):
        assert list(folder.glob(f"{kind}-01-*.{suffix}")) and list(
            folder.glob(f"{kind}-02-*.{suffix}")
        )
    for record in manifest.files:
        assert decode_errors(bot.session_dir / record.path) == "", record.path
    # the analysis WAV keeps wall-clock time: the gap is ~3 s of silence inside it
    wav = next(f for f in manifest.files if f.kind == "analysis")
    samples = read_wav_mono(bot.session_dir / wav.path)
    offset = int((gap.start - wav.started_at + 0.5) * 16000)
    assert abs(samples[offset : offset + 16000]).max() == 0
    assert abs(wav.started_at + wav.duration - gone_at) < 1.5, "the WAV ends when the student left"
    events = [
        json.loads(line) for line in (bot.session_dir / "events.jsonl").read_text().splitlines()
    ]
    assert [e["kind"] for e in events] == ["participant_left"]
    assert events[0]["end"] - events[0]["start"] == pytest.approx(gap.end - gap.start, abs=0.01)


async def test_media_stall_without_leaving_is_a_gap(running_server) -> None:
    manager, bot = await start_bot(running_server)
    student = ScriptedParticipant(running_server.ws_url(running_server.token("student")))
    await student.join()
    await asyncio.wait_for(student.connected.wait(), 15)
    await asyncio.sleep(3.0)
    student.pause_media()
    paused_at = time.time()
    await asyncio.sleep(4.0)
    student.resume_media()
    await asyncio.sleep(3.0)
    await student.leave()
    await manager.leave(running_server.session_id)

    manifest = read_manifest(bot.session_dir)
    [gap] = manifest.gaps
    assert gap.reason == "media_timeout"
    assert abs(gap.start - paused_at) < 1.0
    assert gap.end is not None and 3.0 < gap.end - gap.start < 5.5
    # the stall stays a hole on the wall-clock timeline: nothing after it is shifted
    audio = sorted((f for f in manifest.files if f.kind == "audio"), key=lambda f: f.started_at)
    span = audio[-1].started_at + audio[-1].duration - audio[0].started_at
    assert span == pytest.approx(10.0, abs=1.5)
    assert sum(f.duration for f in audio) == pytest.approx(span - (gap.end - gap.start), abs=1.0)
    wav = next(f for f in manifest.files if f.kind == "analysis")
    assert wav.duration == pytest.approx(span, abs=1.0)
