"""A student's sources beyond the laptop: the phone as a second camera and the screen.

Each is a source of its own, (person, device) like any other (``rooms.device_of``): its
own connection, recorded apart under ``<role>-<id>-<device>``, its own gap when it goes.

* **phone**: the student's page asks ``GET /call/phone-link?t=<student token>`` and shows
  the answer as a QR code (segno, SVG): a short-lived link
  (``conference.phone_link_ttl_minutes``) for the same person and session, minted by
  ``links.phone_link`` (the one token path) and bound to the device "phone". The phone
  opens it and gets the phone's page (camera only, rear or front; no microphone).
* **screen**: the student's page itself shares the screen (``getDisplayMedia``, the whole
  screen only) over a second connection as device "screen" (``static/source.js``).

Which of them a session asks for is its rule profile's (``[checklist] phone_camera``,
``record_screen``); ``page_sources`` says so to the call page.
"""

from __future__ import annotations

import asyncio
import io
import logging
from dataclasses import asdict, dataclass

import segno
from aiohttp import web
from proctorbot.conference.admission import Refusal, admit
from proctorbot.conference.links import PHONE_DEVICE, phone_link
from proctorbot.config.profiles import ProfileError, load_profile

from proctorbot.context import CONTEXT, AppContext

log = logging.getLogger(__name__)

SCREEN_DEVICE = "screen"


@dataclass(frozen=True)
class PageSources:
    """What the call page of a student asks for besides camera and microphone."""

    phone: bool = False
    screen: bool = False

    def to_json(self) -> dict[str, bool]:
        return asdict(self)


def page_sources(profile_name: str, fallback: str) -> PageSources:
    """The sources a session's profile asks of the student (blocking: reads the file)."""
    try:
        profile = load_profile(profile_name or fallback)
    except ProfileError:
        log.warning("profile %r unusable; sources of %r", profile_name, fallback)
        profile = load_profile(fallback)
    return PageSources(phone=profile.checklist.phone_camera, screen=profile.checklist.record_screen)


def qr_svg_data_uri(url: str) -> str:
    """The link as a QR code: an SVG data URI (the page's CSP allows ``img-src data:``)."""
    return segno.make(url, error="l").svg_data_uri(scale=4, border=4, dark="#111")


def qr_png(url: str) -> bytes:
    """The same QR code as PNG bytes (printed instructions, tests that decode it)."""
    out = io.BytesIO()
    segno.make(url, error="l").save(out, kind="png", scale=6, border=4)
    return out.getvalue()


def mint_phone_link(ctx: AppContext, token: str) -> dict[str, object]:
    """A fresh phone link for the student of ``token`` (blocking: a database read)."""
    admission = admit(ctx, token, roles=("student",))
    if admission.device:
        raise Refusal("wrong_role", "a device's own link cannot make another device's link")
    link = phone_link(ctx, admission.session_id, admission.person_id)
    minutes = ctx.settings.conference.phone_link_ttl_minutes
    return {
        "url": link.url,
        "device": PHONE_DEVICE,
        "valid_minutes": minutes,
        "qr": qr_svg_data_uri(link.url),
    }


async def phone_link_handler(request: web.Request) -> web.Response:
    """``GET /call/phone-link?t=<student's call token>``: JSON ``{url, qr, valid_minutes}``."""
    ctx = request.app[CONTEXT]
    try:  # a database read: in a thread, so a locked database never stalls the loop
        answer = await asyncio.to_thread(mint_phone_link, ctx, request.query.get("t", ""))
    except Refusal as refusal:
        log.warning("phone link refused (%s): %s", refusal.reason, refusal)
        return web.json_response(
            {"error": refusal.reason}, status=refusal.status, headers={"Cache-Control": "no-store"}
        )
    return web.json_response(
        answer, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    )
