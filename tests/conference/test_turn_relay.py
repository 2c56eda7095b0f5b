"""Relay-only ICE through a real coturn: a sender and the bot's own receive-only link,
and two Chromium call pages, connect with nothing but TURN candidates, using the
credentials a welcome hands out.

coturn runs in its REST API mode (``--use-auth-secret``) on 127.0.0.1, started by the
test itself; ``--allow-loopback-peers`` lets it relay between two allocations on
loopback (aioice gathers no 127.0.0.1 host candidate, but a relay policy gathers no host
candidate at all, so no veth pair is needed, in `make test`'s namespace or outside it).
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack
from proctorbot.bot.peer_link import PeerLink, ice_configuration
from proctorbot.bot.peers import PeerInfo
from proctorbot.conference.turn import ice_servers_for
from proctorbot.config.settings import ConferenceSettings
from pydantic import SecretStr

from tests.browser_helpers import launch_chromium, open_call, wait_remote_video

TURNSERVER = shutil.which("turnserver")
pytestmark = pytest.mark.skipif(
    TURNSERVER is None, reason="coturn's turnserver is not installed (apt-get install coturn)"
)
SECRET = "relay-test-static-secret"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def coturn(tmp_path: Path) -> Iterator[int]:
    """turnserver on 127.0.0.1:<port>, REST API credentials only; yields the port."""
    port = free_udp_port()
    relay_low = 40000 + port % 20000  # a range of its own, away from the listening port
    log = tmp_path / "turnserver.log"
    command = [
        str(TURNSERVER),
        "-n",  # no configuration file: everything is on this line
        "--listening-ip=127.0.0.1",
        f"--listening-port={port}",
        "--relay-ip=127.0.0.1",
        f"--min-port={relay_low}",
        f"--max-port={relay_low + 200}",
        "--use-auth-secret",
        f"--static-auth-secret={SECRET}",
        "--realm=proctorbot.test",
        "--allow-loopback-peers",
        "--no-tls",
        "--no-dtls",
        "--no-tcp-relay",
        "--no-cli",
        "--fingerprint",
        f"--userdb={tmp_path / 'turndb'}",
        f"--pidfile={tmp_path / 'turnserver.pid'}",
        "--log-file=stdout",
        "--simple-log",
    ]
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while "Relay ports initialization done" not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"turnserver did not start:\n{log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def welcome_for(port: int, peer_id: str) -> dict[str, Any]:
    """What join_room puts in a welcome, with this coturn as the TURN server."""
    conf = ConferenceSettings(
        turn_urls=[f"turn:127.0.0.1:{port}?transport=udp"],
        turn_secret=SecretStr(SECRET),
        ice_transport_policy="relay",
    )
    return {
        "ice_servers": ice_servers_for(conf, b"unused", peer_id),
        "ice_transport_policy": conf.ice_transport_policy,
    }


def candidate_types(sdp: str) -> set[str]:
    return {line.split(" typ ", 1)[1].split()[0] for line in sdp.splitlines() if " typ " in line}


async def packets_received(pc: RTCPeerConnection) -> int:
    stats = await pc.getStats()
    return sum(getattr(s, "packetsReceived", 0) for s in stats.values() if s.type == "inbound-rtp")


async def test_relay_only_media_reaches_the_bot_through_coturn(coturn: int) -> None:
    student = RTCPeerConnection(ice_configuration(welcome_for(coturn, "student-1")))
    student.addTrack(AudioStreamTrack())
    answers: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def send(message: dict[str, Any]) -> None:
        await answers.put(message)

    bot_link = PeerLink(
        PeerInfo(peer_id="student-1", role="student", name="S", person_id="p1"),
        send=send,
        on_track=lambda *_: None,
        ice=ice_configuration(welcome_for(coturn, "bot-1")),
    )
    try:
        async with asyncio.timeout(25):
            await student.setLocalDescription(await student.createOffer())
            assert candidate_types(student.localDescription.sdp) == {"relay"}
            await bot_link.accept_offer(student.localDescription.sdp)
            answer = await answers.get()
            assert answer["type"] == "answer"
            assert candidate_types(answer["sdp"]) == {"relay"}
            await student.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
            while bot_link.state != "connected" or await packets_received(bot_link.pc) < 5:
                assert bot_link.state not in ("failed", "closed")
                await asyncio.sleep(0.1)
    finally:
        await student.close()
        await bot_link.pc.close()


async def test_a_credential_of_another_secret_is_refused(coturn: int) -> None:
    welcome = welcome_for(coturn, "intruder")
    welcome["ice_servers"][0]["credential"] = "bm90IHRoZSByaWdodCBvbmU="
    pc = RTCPeerConnection(ice_configuration(welcome))
    pc.addTransceiver("audio", direction="recvonly")
    try:
        async with asyncio.timeout(15):
            await pc.setLocalDescription(await pc.createOffer())
        assert candidate_types(pc.localDescription.sdp) == set()  # no allocation: 401
    finally:
        await pc.close()


@pytest.mark.browser
@pytest.mark.timeout(90)
async def test_relay_only_call_between_two_chromium_pages(
    coturn: int, running_server, fake_media, playwright_async
) -> None:
    conf = running_server.ctx.settings.conference
    conf.turn_urls = [f"turn:127.0.0.1:{coturn}?transport=udp"]
    conf.turn_secret = SecretStr(SECRET)
    conf.ice_transport_policy = "relay"
    browser = await launch_chromium(playwright_async, fake_media)
    try:
        student = await open_call(browser, running_server.link("student"))
        examiner = await open_call(browser, running_server.link("examiner"))
        await wait_remote_video(student, "examiner")
        await wait_remote_video(examiner, "student")
        for page, other in ((student, examiner), (examiner, student)):
            other_id = await other.evaluate("window.proctorbot.peerId")
            got = await page.evaluate("(id) => window.proctorbot.stats(id)", other_id)
            assert got["route"] == "relay", got
            assert got["video"]["framesDecoded"] > 0
    finally:
        await browser.close()
