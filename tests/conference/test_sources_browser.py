"""The student's other sources in real Chromium: the phone as a second camera joining by
the QR code of the student's page, and the screen share, each recorded as a source of its
own (``<role>-<id>-<device>``) with gaps of its own."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from proctorbot.bot.manager import BotManager
from proctorbot.recording.manifest import Manifest, read_manifest

from tests.browser_helpers import (
    PHONE_VIEWPORT,
    launch_chromium,
    open_call,
    serve_app,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(120)]

SCREENS = Path(__file__).resolve().parents[2] / "var" / "screens"


def decode_qr(png: bytes) -> str:
    """The link in a QR code, read back from a screenshot of it (OpenCV's decoder)."""
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(image)
    return text


async def wait_until(page, script: str, timeout_s: float = 20.0, arg=None) -> None:  # noqa: ANN001
    await page.wait_for_function(script, arg=arg, timeout=timeout_s * 1000)


async def recorded_frames(manifest_dir: Path, key: str) -> int:
    manifest = read_manifest(manifest_dir)
    return sum(f.frames for f in manifest.files if f.participant == key and f.kind == "video")


def video_of(manifest: Manifest, key: str) -> list:
    return [f for f in manifest.files if f.participant == key and f.kind == "video"]


async def start_bot(server) -> tuple[BotManager, object]:  # noqa: ANN001
    ctx = server.ctx
    manager = BotManager(ctx, base_url=server.url, end_by_itself=False)
    bot = await manager.join(server.session_id)
    await asyncio.wait_for(bot.joined.wait(), 10)
    return manager, bot


def prepare(app_context) -> None:  # noqa: ANN001
    settings = app_context.settings
    settings.default_profile = "examus-like"  # asks for the phone and the screen
    settings.recording.segment_seconds = 2.0
    settings.bot.media_timeout_seconds = 3.0


async def test_phone_camera_joins_by_the_qr_link_and_leaves_a_gap_of_its_own(
    app_context, fake_media, playwright_async
) -> None:
    prepare(app_context)
    started = time.monotonic()
    async with serve_app(app_context) as server:
        manager, bot = await start_bot(server)
        browser = await launch_chromium(playwright_async, fake_media)
        try:
            laptop = await open_call(browser, server.link("student"))
            examiner = await open_call(browser, server.link("examiner"))
            await wait_until(laptop, "document.querySelector('#phone-qr') !== null")
            box = laptop.locator("#phone-box")
            link = await box.get_attribute("data-phone-link")
            assert link and link.startswith(server.url + "/call?t="), link
            assert decode_qr(await laptop.locator("#phone-qr").screenshot()) == link
            SCREENS.mkdir(parents=True, exist_ok=True)
            await laptop.screenshot(path=str(SCREENS / "student-phone-qr.png"))

            # the phone: a second context (a phone-sized one), joining by the QR's link
            phone_context = await browser.new_context(viewport=PHONE_VIEWPORT, bypass_csp=True)
            phone = await phone_context.new_page()
            phone.on("console", lambda m: print(f"[phone console.{m.type}] {m.text}"))
            await phone.goto(link)
            await phone.wait_for_selector("body[data-ready='1']")
            assert await phone.locator("body").get_attribute("data-device") == "phone"
            await phone.click("[data-facing='user']")
            await phone.click("#phone-start")
            await wait_until(phone, "document.body.dataset.state === 'sending'")
            # the student's page sees its phone; the examiner gets a tile of it
            await wait_until(
                laptop, "document.querySelector('#phone-box').dataset.connected === 'true'"
            )
            tile = examiner.locator(".tile.remote[data-device='phone']")
            await wait_until(
                examiner,
                "(() => { const v = document.querySelector(\".tile[data-device='phone'] video\");"
                " return v && v.videoWidth > 0; })()",
            )
            await tile.click()  # the examiner enlarges it
            assert "enlarged" in (await tile.get_attribute("class") or "")
            await asyncio.sleep(1.0)
            await examiner.screenshot(path=str(SCREENS / "examiner-phone-tile.png"))
            await phone.screenshot(path=str(SCREENS / "phone-page.png"))
            person = next(p.person_id for p in bot.peers.values() if p.role == "student")
            laptop_key, phone_key = f"student-{person}", f"student-{person}-phone"
            async with asyncio.timeout(20):
                while await recorded_frames(bot.session_dir, phone_key) < 10:
                    await asyncio.sleep(0.5)

            # the phone goes away for a few seconds, then comes back by the same link
            await phone.click("#phone-stop")
            await wait_until(
                laptop, "document.querySelector('#phone-box').dataset.connected === 'false'"
            )
            await asyncio.sleep(3.0)
            await phone.click("#phone-start")
            await wait_until(phone, "document.body.dataset.state === 'sending'")
            async with asyncio.timeout(20):
                while not any(
                    g.participant == phone_key and g.end is not None
                    for g in read_manifest(bot.session_dir).gaps
                ):
                    await asyncio.sleep(0.5)
            assert await laptop.evaluate("window.proctorbot.peerId") is not None  # still in
            await asyncio.sleep(2.0)
        finally:
            await browser.close()
        await manager.leave(server.session_id)

    manifest = read_manifest(bot.session_dir)
    for key in (laptop_key, phone_key):
        files = video_of(manifest, key)
        assert files and sum(f.frames for f in files) > 20, (key, files)
        assert all(f.codec == "vp8" for f in files)
    assert not [f for f in manifest.files if f.participant == phone_key and f.kind == "audio"]
    phone_gaps = [g for g in manifest.gaps if g.participant == phone_key]
    assert len(phone_gaps) == 1 and phone_gaps[0].reason == "left", manifest.gaps
    assert 2.0 <= (phone_gaps[0].duration or 0) <= 15.0, phone_gaps
    assert not [g for g in manifest.gaps if g.participant == laptop_key], manifest.gaps
    print(f"phone camera test: {time.monotonic() - started:.1f} s")


# The first getDisplayMedia of the page answers with a window (Chromium's fake capture
# always gives the entire screen): the page must refuse it and ask again.
FIRST_PICK_IS_A_WINDOW = """
(() => {
  const real = MediaDevices.prototype.getDisplayMedia;
  let calls = 0;
  MediaDevices.prototype.getDisplayMedia = async function (...args) {
    const stream = await real.apply(this, args);
    calls += 1;
    if (calls === 1) {
      const track = stream.getVideoTracks()[0];
      const settings = track.getSettings.bind(track);
      track.getSettings = () => ({ ...settings(), displaySurface: "window" });
    }
    return stream;
  };
})();
"""


async def test_screen_share_is_recorded_as_its_own_track_with_a_gap_when_it_stops(
    app_context, fake_media, playwright_async
) -> None:
    prepare(app_context)
    started = time.monotonic()
    async with serve_app(app_context) as server:
        manager, bot = await start_bot(server)
        browser = await launch_chromium(playwright_async, fake_media)
        try:
            context = await browser.new_context(
                viewport={"width": 1280, "height": 800}, bypass_csp=True
            )
            await context.add_init_script(FIRST_PICK_IS_A_WINDOW)
            laptop = await context.new_page()
            laptop.on("console", lambda m: print(f"[student console.{m.type}] {m.text}"))
            await laptop.goto(server.link("student"))
            await laptop.wait_for_selector("body[data-ready='1']")
            await laptop.click("#join")
            await wait_until(laptop, "window.proctorbot.peerId !== null")
            examiner = await open_call(browser, server.link("examiner"))
            # a window is refused with a clear message, and the button asks again
            await laptop.click("#screen-share")
            await wait_until(
                laptop, "document.querySelector('#screen-box').dataset.refused === 'window'"
            )
            message = await laptop.locator("#screen-message").inner_text()
            assert "весь экран" in message, message
            await laptop.click("#screen-share")
            await wait_until(
                laptop, "document.querySelector('#screen-box').dataset.sharing === 'true'"
            )
            await wait_until(
                examiner,
                "(() => { const v = document.querySelector(\".tile[data-device='screen'] video\");"
                " return v && v.videoWidth > 0; })()",
            )
            SCREENS.mkdir(parents=True, exist_ok=True)
            await laptop.screenshot(path=str(SCREENS / "student-screen-share.png"))
            person = next(p.person_id for p in bot.peers.values() if p.role == "student")
            laptop_key, screen_key = f"student-{person}", f"student-{person}-screen"
            async with asyncio.timeout(20):
                while await recorded_frames(bot.session_dir, screen_key) < 10:
                    await asyncio.sleep(0.5)
            # sharing stops, then the student shares again
            await laptop.click("#screen-stop")
            await wait_until(
                laptop, "document.querySelector('#screen-box').dataset.sharing === 'false'"
            )
            await asyncio.sleep(3.0)
            await laptop.click("#screen-share")
            await wait_until(
                laptop, "document.querySelector('#screen-box').dataset.sharing === 'true'"
            )
            async with asyncio.timeout(20):
                while not any(
                    g.participant == screen_key and g.end is not None
                    for g in read_manifest(bot.session_dir).gaps
                ):
                    await asyncio.sleep(0.5)
            await asyncio.sleep(1.0)
        finally:
            await browser.close()
        await manager.leave(server.session_id)

    manifest = read_manifest(bot.session_dir)
    screen_files = video_of(manifest, screen_key)
    assert screen_files and sum(f.frames for f in screen_files) > 20, screen_files
    assert {f.codec for f in screen_files} == {"vp8"}
    assert max(f.width for f in screen_files) >= 640  # the screen, not the 320x240 camera
    assert video_of(manifest, laptop_key), "the camera is recorded beside the screen"
    screen_gaps = [g for g in manifest.gaps if g.participant == screen_key]
    assert len(screen_gaps) == 1 and screen_gaps[0].reason == "left", manifest.gaps
    assert not [g for g in manifest.gaps if g.participant == laptop_key], manifest.gaps
    print(f"screen share test: {time.monotonic() - started:.1f} s")
