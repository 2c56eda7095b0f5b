"""The checks of the student's other sources before the exam: every source recorded and
confirmed running [002 §5.9].

* ``phone_camera``: the phone joined by the QR code of the student's page and its picture
  arrives; the examiner confirms where it stands (the side view of the student, the desk
  and the hands);
* ``screen_share``: the student's page shares the whole screen (``static/areas/sources.js``
  refuses a window or a tab) as the device "screen" and its picture arrives; a snapshot
  for the examiner. Never shared within the step's time: failed, ``screen_not_shared``,
  like any failed automatic check (another attempt, then the examiner decides).

Each waits for its device of the same person (``bot.peers``: role student, ``device``),
then takes ``capture_s`` of its frames.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from proctorbot.bot.peer_directory import peer_field
from proctorbot.checklist.detectors import VideoFrame
from proctorbot.checklist.records import AutoResult

if TYPE_CHECKING:
    from proctorbot.checklist.checks import CheckContext

DEVICE_WAIT_POLL_S = 0.5
FIRST_FRAME_LAG_S = 10.0  # the first keyframe of a new connection may lag
# With the step's time limit known: give up waiting this long before it, so the failure
# names what is missing rather than "the time ran out".
GIVE_UP_BEFORE_LIMIT_S = 1.0


def device_of_student(peers: Any, student_peer: str, device: str) -> str | None:
    """The peer id of the student's ``device`` ("phone", "screen": same person), or None."""

    person = peer_field(peers.get(student_peer, {}), "person_id")
    found = None
    for peer_id, info in list(peers.items()):
        if peer_field(info, "role") != "student" or peer_field(info, "device") != device:
            continue
        if not person or peer_field(info, "person_id") == person:
            found = peer_id  # the newest connection of that device
    return found


async def _wait_for_device(ctx: CheckContext, device: str, give_up_s: float | None) -> str | None:
    loop = asyncio.get_running_loop()
    until = None if give_up_s is None else loop.time() + give_up_s
    while (peer := device_of_student(ctx.bot.peers, ctx.peer_id, device)) is None:
        if until is not None and loop.time() >= until:
            return None
        await asyncio.sleep(DEVICE_WAIT_POLL_S)
    return peer


async def _frames_of(ctx: CheckContext, peer: str) -> list[VideoFrame]:
    frames: list[VideoFrame] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(ctx.capture_s, 1.0) + FIRST_FRAME_LAG_S
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout_at(deadline):
            async for frame in ctx.bot.video_frames(peer, 2.0):
                frames.append(frame)
                if frames[-1][0] - frames[0][0] >= ctx.capture_s:
                    break
    return frames


async def check_phone_camera(ctx: CheckContext) -> AutoResult:
    """Waits for the phone until the step's time runs out; a snapshot for the examiner."""
    phone = await _wait_for_device(ctx, "phone", None)
    assert phone is not None
    return await _picture_of(ctx, "phone", phone, "phone_camera_ok")


async def check_screen_share(ctx: CheckContext) -> AutoResult:
    """The whole screen shared and its picture arriving; a snapshot for the examiner."""
    give_up = None
    if ctx.time_limit_s is not None:
        give_up = max(ctx.time_limit_s - GIVE_UP_BEFORE_LIMIT_S, 0.0)
    screen = await _wait_for_device(ctx, "screen", give_up)
    if screen is None:
        ctx.on_captured()
        return AutoResult(True, False, "screen_not_shared", {"frames": 0})
    return await _picture_of(ctx, "screen", screen, "screen_share_ok")


async def _picture_of(ctx: CheckContext, device: str, peer: str, ok: str) -> AutoResult:
    """The device's frames for the capture time: its size and a snapshot for the
    examiner (``<device>.jpg``), or ``no_<device>_video`` when none came."""
    frames = await _frames_of(ctx, peer)
    ctx.on_captured()
    if not frames:
        return AutoResult(True, False, f"no_{device}_video", {"frames": 0, device: peer})
    snapshot = frames[-1][1]
    evidence = (await ctx.save_image(f"{device}.jpg", snapshot),)
    height, width = snapshot.shape[:2]
    details = {"frames": len(frames), "width": width, "height": height, device: peer}
    return AutoResult(True, True, ok, details, evidence)
