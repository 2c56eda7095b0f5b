"""The bot's RTCConfiguration comes from each signaling welcome: STUN, TURN with that
welcome's credentials, and the relay-only policy (aiortc honours iceTransportPolicy)."""

from __future__ import annotations

import asyncio
import time

from aiortc import RTCConfiguration, RTCIceTransportPolicy
from proctorbot.bot.manager import bot_signaling_url
from proctorbot.bot.peer_link import PeerLink, ice_configuration
from proctorbot.bot.peers import PeerInfo
from proctorbot.bot.session_bot import SessionBot

TURN_URL = "turn:turn.example.org:3478?transport=udp"


def _config_of(link: PeerLink) -> RTCConfiguration:
    return link.pc._RTCPeerConnection__configuration  # aiortc keeps no public getter


async def test_bot_builds_its_rtc_configuration_from_the_welcome() -> None:
    welcome = {
        "ice_servers": [
            {"urls": "stun:stun.example.org"},
            {"urls": [TURN_URL], "username": "1600:bot-1", "credential": "c3VwZXI="},
            "junk",
            {"username": "no urls"},
        ],
        "ice_transport_policy": "relay",
    }
    config = ice_configuration(welcome)
    assert config.iceTransportPolicy == RTCIceTransportPolicy.RELAY
    stun, turn = config.iceServers
    assert stun.urls == "stun:stun.example.org" and stun.username is None
    assert (turn.urls, turn.username, turn.credential) == ([TURN_URL], "1600:bot-1", "c3VwZXI=")
    assert ice_configuration({}).iceTransportPolicy == RTCIceTransportPolicy.ALL

    async def send(message: dict) -> None:
        return None

    peer = PeerInfo(peer_id="student-1", role="student", name="S", person_id="p1")
    link = PeerLink(peer, send=send, on_track=lambda *_: None, ice=config)
    loopback = PeerLink(peer, send=send, on_track=lambda *_: None, ice=config, loopback_only=True)
    try:
        assert _config_of(link) is config
        assert _config_of(loopback).iceServers == []  # tests' loopback mode: host only
    finally:
        await link.pc.close()
        await loopback.pc.close()


async def test_the_bot_takes_its_ice_from_each_welcome(running_server) -> None:
    conf = running_server.ctx.settings.conference
    conf.turn_urls = [TURN_URL]
    conf.turn_ttl_seconds = 120
    session_id = running_server.session_id
    url = bot_signaling_url(running_server.ctx, session_id, running_server.url)
    bot = SessionBot(session_id, url, running_server.ctx.settings)
    run = asyncio.create_task(bot.run())
    try:
        await asyncio.wait_for(bot.joined.wait(), 10)
        ice = bot.media.ice
        assert ice is not None and ice.iceTransportPolicy == RTCIceTransportPolicy.ALL
        [turn] = ice.iceServers
        expiry, user = turn.username.split(":", 1)
        assert user == bot.peer_id  # made for the bot's own connection
        assert 0 < int(expiry) - time.time() <= 120
        assert turn.urls == [TURN_URL] and turn.credential
    finally:
        await bot.stop()
        await run
