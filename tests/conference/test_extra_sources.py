"""The student's other sources on the server side: the phone's short-lived QR link (one
token path, bound to the device "phone"), the phone's page, the sources the profile asks
for, and their texts in both languages."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import aiohttp
import cv2
import numpy as np
from proctorbot.conference.extra_sources import page_sources, qr_png
from proctorbot.conference.links import token_device, verify_call_token
from proctorbot.conference.rooms import DEVICES, MAIN_DEVICE, device_of
from proctorbot.config.catalogue import Catalogue

from tests.browser_helpers import signaling_client

STATIC = Path(__file__).resolve().parents[2] / "conference" / "static"
TEMPLATES = Path(__file__).resolve().parents[2] / "conference" / "templates"


async def get_json(url: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.json()


async def get_text(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.text()


def page_config(html: str) -> dict:
    return json.loads(html.split('type="application/json">')[1].split("</script>")[0])


async def test_phone_camera_link_is_short_lived_and_bound_to_the_phone(running_server) -> None:
    server = running_server
    status, answer = await get_json(f"{server.url}/call/phone-link?t={server.token('student')}")
    assert status == 200
    assert answer["url"].startswith(f"{server.url}/call?t=")
    assert answer["qr"].startswith("data:image/svg+xml")
    token = answer["url"].split("t=", 1)[1]
    claims = verify_call_token(server.ctx.signer, token, ("student",))
    assert token_device(claims) == "phone"
    assert (
        claims.person_id
        == verify_call_token(server.ctx.signer, server.token("student"), ("student",)).person_id
    )
    minutes = server.ctx.settings.conference.phone_link_ttl_minutes
    assert claims.expires_at - time.time() <= minutes * 60 + 5
    # the phone's link opens the phone's page, not the call page
    status, html = await get_text(answer["url"])
    assert status == 200 and 'data-device="phone"' in html and "/static/phone.js" in html
    assert page_config(html)["device"] == "phone"
    # ... and connects only as the phone, whatever the query says
    async with signaling_client(server, token=token) as phone:
        assert phone.welcome["device"] == "phone"
    # a phone's link makes no further links; an examiner's link none at all
    status, _ = await get_json(f"{server.url}/call/phone-link?t={token}")
    assert status == 403
    status, _ = await get_json(f"{server.url}/call/phone-link?t={server.token('examiner')}")
    assert status == 403
    status, _ = await get_json(f"{server.url}/call/phone-link?t=garbage")
    assert status == 400


def test_phone_camera_qr_decodes_to_the_link() -> None:
    url = "http://127.0.0.1:8080/call?t=" + "A" * 260
    image = cv2.imdecode(np.frombuffer(qr_png(url), np.uint8), cv2.IMREAD_COLOR)
    assert cv2.QRCodeDetector().detectAndDecode(image)[0] == url


def test_sources_follow_the_profile() -> None:
    examus = page_sources("examus-like", "school-interview")
    assert (examus.phone, examus.screen) == (True, True)
    school = page_sources("school-interview", "school-interview")
    assert (school.phone, school.screen) == (False, False)
    assert page_sources("no-such-profile", "university-admission").screen is True


async def test_screen_share_sources_reach_the_student_page_only(running_server) -> None:
    server = running_server
    _, html = await get_text(server.link("student"))
    assert set(page_config(html)["sources"]) == {"phone", "screen"}
    _, html = await get_text(server.link("examiner"))
    assert page_config(html)["sources"] == {}


def test_devices_are_a_closed_set() -> None:
    assert device_of("phone") == "phone" and device_of("screen") == "screen"
    assert device_of("tablet-7") == MAIN_DEVICE and device_of(None) == MAIN_DEVICE


def test_texts_of_the_sources_exist_in_both_languages() -> None:
    used: set[str] = set()
    for name in ("areas/sources.js", "phone.js"):
        used |= set(re.findall(r'"((?:sources|phone)\.[a-z_]+)"', (STATIC / name).read_text()))
    used |= set(re.findall(r'data-t="([\w.]+)"', (TEMPLATES / "phone.html").read_text()))
    used |= {f"page.device_{device}" for device in DEVICES - {MAIN_DEVICE}}
    assert len(used) > 25
    for language in ("ru", "en"):
        texts = Catalogue.load(language).section("conference")
        assert not sorted(key for key in used if key not in texts), language
