"""End to end: two real headless Chromiums join by their links, the bot records them."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from proctorbot.bot.manager import BotManager
from proctorbot.recording.manifest import read_manifest, sha256_of

from tests.bot.media_checks import (
    decode_errors,
    ffprobe,
    median_window_correlation,
    packet_span,
    read_wav_mono,
)
from tests.browser_helpers import launch_chromium, make_fake_media, open_call, wait_remote_video

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]

CALL_SECONDS = 12.0


async def test_bot_records_each_browser_as_received(
    running_server, fake_media, playwright_async, tmp_path: Path
) -> None:
    ctx = running_server.ctx
    ctx.settings.recording.segment_seconds = 5.0
    examiner_media = make_fake_media(
        tmp_path / "examiner",
        text="Добрый день. Расскажите о себе.",
        name="examiner",
        size="320x240",
    )
    manager = BotManager(ctx, base_url=running_server.url)
    bot = await manager.join(running_server.session_id)
    await asyncio.wait_for(bot.joined.wait(), 10)

    student_browser = await launch_chromium(playwright_async, fake_media)
    examiner_browser = await launch_chromium(playwright_async, examiner_media)
    try:
        student = await open_call(student_browser, running_server.link("student"))
        examiner = await open_call(examiner_browser, running_server.link("examiner"))
        joined_at = time.time()
        await wait_remote_video(examiner, "student")
        await asyncio.sleep(CALL_SECONDS)
        await student.click("#leave")
        await examiner.click("#leave")
        left_at = time.time()
        await asyncio.sleep(1.0)
    finally:
        await student_browser.close()
        await examiner_browser.close()
    await manager.leave(running_server.session_id)

    manifest = read_manifest(bot.session_dir)
    assert {p.role for p in manifest.participants} == {"student", "examiner"}
    for role in ("student", "examiner"):
        media = [f for f in manifest.files if f.role == role and f.kind in ("audio", "video")]
        for kind, codec in (("video", "vp8"), ("audio", "opus")):
            files = [f for f in media if f.kind == kind]
            assert files, f"no {kind} of the {role}"
            assert files[0].started_at - joined_at < 5.0, "recording began late"
            total = sum(f.duration for f in files)
            expected = left_at - files[0].started_at
            assert abs(total - expected) <= 1.0, (
                f"{role} {kind}: {total:.2f} s recorded, {expected:.2f} s expected"
            )
            for record in files:
                path = bot.session_dir / record.path
                assert sha256_of(path) == record.sha256, record.path
                probe = ffprobe(path)
                stream = probe["streams"][0]
                assert stream["codec_name"] == codec
                if kind == "video":
                    assert (stream["width"], stream["height"]) == (320, 240)
                assert abs(float(probe["format"]["duration"]) - record.duration) <= 1.0
                assert abs(packet_span(path) - record.duration) <= 1.0
                assert decode_errors(path) == "", record.path

    wav = next(f for f in manifest.files if f.kind == "analysis" and f.role == "student")
    recorded = read_wav_mono(bot.session_dir / wav.path)
    source = read_wav_mono(fake_media.audio)
    assert median_window_correlation(recorded, source) >= 0.6
    assert sha256_of(bot.session_dir / wav.path) == wav.sha256
    from proctorbot.recording.composite import add_composite  # the hand-over's step

    manifest = add_composite(bot.session_dir, manifest)
    composite = next(f for f in manifest.files if f.kind == "composite")
    assert ffprobe(bot.session_dir / composite.path)["format"]["nb_streams"] == 2
