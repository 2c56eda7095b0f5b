"""TURN credentials (coturn's REST API scheme) and the welcome that hands them out
(the bot's side: tests/bot/test_peer_link_ice.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest
from proctorbot.conference.turn import (
    derived_turn_secret,
    ice_servers_for,
    turn_credentials,
    turn_secret,
)
from proctorbot.config.settings import ConferenceSettings
from pydantic import SecretStr, ValidationError

from tests.browser_helpers import signaling_client

TURN_URL = "turn:turn.example.org:3478?transport=udp"


def coturn_password(secret: str, username: str) -> str:
    """What coturn computes under --use-auth-secret, written out independently."""
    mac = hmac.new(secret.encode("utf-8"), username.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def test_credentials_follow_coturn_rest_api_scheme() -> None:
    username, credential = turn_credentials(
        "north-secret", "student-abc", 3600, now=1_700_000_000.7
    )
    assert username == "1700003600:student-abc"  # "<expiry unix seconds>:<user>"
    assert credential == coturn_password("north-secret", "1700003600:student-abc")
    # a known vector, computed once by hand with the standard library
    assert (
        credential
        == base64.b64encode(
            hmac.new(b"north-secret", b"1700003600:student-abc", "sha1").digest()
        ).decode()
    )
    assert len(base64.b64decode(credential)) == 20  # SHA-1


def test_expiry_is_now_plus_ttl_and_another_user_gets_another_password() -> None:
    a_name, a_pass = turn_credentials("s", "bot-1", 60, now=100.0)
    b_name, b_pass = turn_credentials("s", "bot-2", 60, now=100.0)
    assert int(a_name.split(":", 1)[0]) == 160
    assert a_pass != b_pass and b_name == "160:bot-2"


def test_secret_is_the_setting_or_derived_from_the_server_key() -> None:
    key = b"server-key-of-this-deployment-0123456789"
    derived = hmac.new(key, b"proctorbot turn static-auth-secret v1", hashlib.sha256).hexdigest()
    assert derived_turn_secret(key) == derived
    assert turn_secret(ConferenceSettings(turn_urls=[TURN_URL]), key) == derived
    assert turn_secret(ConferenceSettings(turn_secret=SecretStr("")), key) == derived
    own = ConferenceSettings(turn_urls=[TURN_URL], turn_secret=SecretStr("coturn-own"))
    assert turn_secret(own, key) == "coturn-own"
    assert derived_turn_secret(b"another key") != derived


def test_no_turn_urls_means_todays_ice_servers() -> None:
    conf = ConferenceSettings(ice_servers=["stun:stun.example.org:3478"])
    assert ice_servers_for(conf, b"k", "student-1") == [{"urls": "stun:stun.example.org:3478"}]
    assert ConferenceSettings().ice_transport_policy == "all"


def test_ice_servers_carry_turn_with_credentials() -> None:
    conf = ConferenceSettings(
        ice_servers=["stun:stun.example.org"], turn_urls=[TURN_URL], turn_ttl_seconds=600
    )
    stun, turn = ice_servers_for(conf, b"key", "examiner-9", now=1000.0)
    assert stun == {"urls": "stun:stun.example.org"}
    assert turn["urls"] == [TURN_URL]
    assert turn["username"] == "1600:examiner-9"
    assert turn["credential"] == coturn_password(derived_turn_secret(b"key"), "1600:examiner-9")


def test_relay_without_turn_is_refused() -> None:
    with pytest.raises(ValidationError, match="turn_urls"):
        ConferenceSettings(ice_transport_policy="relay")
    with pytest.raises(ValidationError):
        ConferenceSettings(turn_urls=[TURN_URL], ice_transport_policy="tcp")


async def test_welcome_hands_out_fresh_turn_credentials(running_server) -> None:
    conf = running_server.ctx.settings.conference
    conf.turn_urls = [TURN_URL]
    conf.turn_secret = SecretStr("coturn-static-secret")
    conf.turn_ttl_seconds = 3600
    conf.ice_transport_policy = "relay"
    before = int(time.time())
    async with signaling_client(running_server, "student") as first:
        pass
    async with signaling_client(running_server, "student") as again:  # a reconnect
        pass
    after = int(time.time())
    for client in (first, again):
        assert client.welcome["ice_transport_policy"] == "relay"
        [turn] = client.welcome["ice_servers"]
        assert turn["urls"] == [TURN_URL]
        expiry, user = turn["username"].split(":", 1)
        assert before + 3600 <= int(expiry) <= after + 3600
        assert user == client.peer_id  # per connection, so coturn's log names it
        assert turn["credential"] == coturn_password("coturn-static-secret", turn["username"])
    assert first.welcome["ice_servers"] != again.welcome["ice_servers"]  # new peer id


async def test_welcome_without_turn_is_unchanged(running_server) -> None:
    async with signaling_client(running_server, "student") as student:
        assert student.welcome["ice_servers"] == []
        assert student.welcome["ice_transport_policy"] == "all"
