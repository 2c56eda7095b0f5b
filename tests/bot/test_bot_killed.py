"""`kill -9` of the bot process mid-session: what it wrote before survives and plays,
and a new bot resumes in the same folder without overwriting anything."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from proctorbot.bot.manager import bot_signaling_url
from proctorbot.bot.session_bot import SessionBot
from proctorbot.conference.keys import ROOMS
from proctorbot.recording.manifest import read_manifest, sha256_of

from tests.bot.media_checks import decode_errors, packet_span, wav_header_samples
from tests.bot.participant import ScriptedParticipant

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


async def bot_in_room(server, present: bool = True, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while True:
            room = server.app[ROOMS].get(server.session_id)
            has_bot = bool(room and room.with_role("bot"))
            if has_bot == present:
                return
            await asyncio.sleep(0.1)


async def test_kill_9_keeps_what_was_written(running_server, tmp_path: Path) -> None:
    ctx = running_server.ctx
    env = {
        **os.environ,
        "PROCTORBOT_DATA_DIR": str(ctx.settings.data_dir),
        "PROCTORBOT_CONFERENCE__ALLOW_LOOPBACK": "true",
        "PROCTORBOT_RECORDING__SEGMENT_SECONDS": "3",
    }
    command = [
        sys.executable,
        "-m",
        "proctorbot",
        "bot",
        "join",
        running_server.session_id,
        "--url",
        running_server.url,
    ]
    process = subprocess.Popen(command, env=env, cwd=tmp_path, stderr=subprocess.PIPE)
    student = ScriptedParticipant(running_server.ws_url(running_server.token("student")))
    try:
        await bot_in_room(running_server)
        await student.join()
        await asyncio.wait_for(student.connected.wait(), 15)
        media_from = time.time()
        await asyncio.sleep(8.0)
        process.send_signal(signal.SIGKILL)
        killed_at = time.time()
        process.wait(10)
        assert process.returncode == -signal.SIGKILL

        session_dir = ctx.settings.recordings_dir / running_server.session_id
        folder = next(session_dir.glob("student-*"))
        videos = sorted(folder.glob("video-01-*.ivf"))
        audios = sorted(folder.glob("audio-01-*.ogg"))
        assert len(videos) >= 2 and len(audios) >= 2, "3 s segments over 8 s"
        for path in videos + audios:
            assert decode_errors(path) == "", path.name
        # nothing but the last instant is lost: every segment together covers the call
        for files in (videos, audios):
            covered = sum(packet_span(p) for p in files)
            assert covered >= (killed_at - media_from) - 1.5, (files[0].name, covered)
        # the manifest written before the kill lists each closed segment with its hash
        manifest = read_manifest(session_dir)
        listed = {f.path: f for f in manifest.files}
        for path in videos[:-1] + audios[:-1]:
            record = listed[str(path.relative_to(session_dir))]
            assert record.sha256 == sha256_of(path) and record.complete
        wav = folder / "analysis-16k.wav"
        header = wav_header_samples(wav)
        on_disk = (wav.stat().st_size - 44) // 2
        assert header > 0 and on_disk - header <= 16000 * 1.5

        # `proctorbot recording finalize` lists what the killed bot left open, with hashes
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "proctorbot",
                "recording",
                "finalize",
                running_server.session_id,
            ],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        finalized = {f.path: f for f in read_manifest(session_dir).files}
        for path in videos + audios + [wav]:
            record = finalized[str(path.relative_to(session_dir))]
            assert record.sha256 == sha256_of(path)
        assert finalized[str(videos[-1].relative_to(session_dir))].complete is False
        assert "composite.mp4" in finalized and decode_errors(session_dir / "composite.mp4") == ""

        # a new bot resumes in the same folder: old files kept, new ones numbered on
        await bot_in_room(running_server, present=False)
        ctx.settings.recording.segment_seconds = 3.0
        ctx.settings.recording.make_composite = False
        bot = SessionBot(
            running_server.session_id,
            bot_signaling_url(ctx, running_server.session_id, running_server.url),
            ctx.settings,
        )
        run = asyncio.create_task(bot.run())
        await asyncio.sleep(6.0)
        await bot.stop()
        resumed = await run
        paths = {f.path: f for f in resumed.files}
        for path in videos + audios:
            record = paths[str(path.relative_to(session_dir))]
            assert record.sha256 == sha256_of(path)
        assert list(folder.glob("video-02-0000.ivf")), "the new connection is a new run"
        assert (folder / "analysis-16k-2.wav").exists()
        assert paths[str(videos[-1].relative_to(session_dir))].complete is False
        assert any("restarted" in error for error in resumed.errors)
    finally:
        if process.poll() is None:
            process.kill()
        await student.leave()
