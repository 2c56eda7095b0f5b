"""TURN relay credentials for coturn's REST API scheme (``--use-auth-secret``).

coturn and this server share one secret (coturn's ``static-auth-secret``); nothing
travels between them. Each ``welcome`` carries credentials made for that connection:

    username   = "<expiry, unix seconds>:<peer id>"
    credential = base64(HMAC-SHA1(static-auth-secret, username))

coturn recomputes the HMAC from the username and refuses it once the expiry has passed,
so a leaked credential is worth ``turn_ttl_seconds`` at most, and a reconnect (a new
``welcome``) always gets a fresh one.

The secret is ``conference.turn_secret`` when set; otherwise it is derived from the
server's own key (the one that signs call links) as
``hex(HMAC-SHA256(key, "proctorbot turn static-auth-secret v1"))``, so one secret
serves both; ``python -m proctorbot.conference.turn`` prints it for coturn's config.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from proctorbot.config.settings import ConferenceSettings

DERIVATION_LABEL = b"proctorbot turn static-auth-secret v1"


def derived_turn_secret(server_key: bytes) -> str:
    """coturn's static-auth-secret made from the server's key (a fixed, labelled HMAC)."""
    return hmac.new(server_key, DERIVATION_LABEL, hashlib.sha256).hexdigest()


def turn_secret(conf: ConferenceSettings, server_key: bytes) -> str:
    """The secret coturn must be started with: the setting, or the derived one."""
    if conf.turn_secret is not None and conf.turn_secret.get_secret_value():
        return conf.turn_secret.get_secret_value()
    return derived_turn_secret(server_key)


def turn_credentials(secret: str, user: str, ttl_seconds: int, now: float) -> tuple[str, str]:
    """(username, credential) of coturn's REST API scheme, valid until now + ttl."""
    username = f"{int(now) + ttl_seconds}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers_for(
    conf: ConferenceSettings, server_key: bytes, user: str, now: float | None = None
) -> list[dict[str, Any]]:
    """The ``iceServers`` a welcome hands out: STUN as configured, then the TURN URLs
    with credentials for ``user`` (none when no TURN URL is set)."""
    servers: list[dict[str, Any]] = [{"urls": url} for url in conf.ice_servers]
    if conf.turn_urls:
        moment = time.time() if now is None else now
        secret = turn_secret(conf, server_key)
        username, credential = turn_credentials(secret, user, conf.turn_ttl_seconds, moment)
        servers.append(
            {"urls": list(conf.turn_urls), "username": username, "credential": credential}
        )
    return servers


if __name__ == "__main__":  # print the static-auth-secret for coturn's configuration
    from proctorbot.config.settings import load_settings

    from proctorbot.secret_key import resolve_secret_key

    settings = load_settings()
    print(turn_secret(settings.conference, resolve_secret_key(settings)))
