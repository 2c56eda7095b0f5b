"""The bot against the real signaling server, with aiortc senders as participants."""

from __future__ import annotations

import asyncio
import json
import subprocess

import pytest
from proctorbot.bot.manager import BotManager
from proctorbot.recording.manifest import read_manifest, sha256_of

from tests.bot.participant import ScriptedParticipant


def ffprobe(path) -> dict:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_streams",
            "-show_format",
            "-count_frames",
            "-of",
            "json",
            str(path),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


async def wait_for(predicate, timeout: float = 20.0, step: float = 0.1) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(step)


@pytest.mark.slow
async def test_bot_records_two_participants_as_received(running_server) -> None:
    ctx = running_server.ctx
    ctx.settings.recording.segment_seconds = 2.0
    ctx.settings.recording.make_composite = True
    manager = BotManager(ctx, base_url=running_server.url)
    bot = await manager.join(running_server.session_id)
    await asyncio.wait_for(bot.joined.wait(), 10)

    student = ScriptedParticipant(running_server.ws_url(running_server.token("student")))
    examiner = ScriptedParticipant(running_server.ws_url(running_server.token("examiner")))
    await student.join()
    await examiner.join()
    await asyncio.wait_for(student.connected.wait(), 15)
    await asyncio.wait_for(examiner.connected.wait(), 15)
    await asyncio.sleep(5.0)
    for person in (student, examiner):
        person.pause_media()
    await asyncio.sleep(1.0)
    sent = {"student": student.frames_sent, "examiner": examiner.frames_sent}
    await student.leave()
    await examiner.leave()
    await manager.leave(running_server.session_id)

    manifest = read_manifest(bot.session_dir)
    assert {p.role for p in manifest.participants} == {"student", "examiner"}
    for role in ("student", "examiner"):
        files = [f for f in manifest.files if f.role == role and f.kind in ("audio", "video")]
        videos = [f for f in files if f.kind == "video"]
        audios = [f for f in files if f.kind == "audio"]
        assert len(videos) >= 2, "2 s segments over ~6 s make several video files"
        assert all(f.codec == "vp8" and (f.width, f.height) == (320, 240) for f in videos)
        assert all(f.codec == "opus" for f in audios)
        recorded = sum(f.frames for f in files)
        assert recorded == sent[role], f"{role}: {sent[role]} frames sent, {recorded} recorded"
        video_time = sum(f.duration for f in videos)
        audio_time = sum(f.duration for f in audios)
        assert abs(video_time - audio_time) < 1.0
        for record in files:
            path = bot.session_dir / record.path
            assert sha256_of(path) == record.sha256
            probe = ffprobe(path)
            stream = probe["streams"][0]
            assert stream["codec_name"] == record.codec
            assert abs(float(probe["format"]["duration"]) - record.duration) < 0.5
    wavs = [f for f in manifest.files if f.kind == "analysis"]
    assert len(wavs) == 2
    assert manifest.gaps == []
    # the composite is the hand-over's (after the report), made from the closed folder
    from proctorbot.recording.composite import add_composite

    manifest = add_composite(bot.session_dir)
    composite = [f for f in manifest.files if f.kind == "composite"]
    assert composite and (bot.session_dir / composite[0].path).stat().st_size > 0
