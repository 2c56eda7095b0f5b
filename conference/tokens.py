"""Signed, expiring tokens for call links and download links.

A token is ``base64url(json payload) + "." + base64url(HMAC-SHA256)``. The payload
binds a purpose ("call" or "download"), a session, a role, a person and an expiry,
so a student's link can never open the examiner's panel or another session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import secrets
import time
from dataclasses import dataclass
from urllib.parse import quote


class TokenError(Exception):
    """A token that must be refused; ``reason`` is a stable code for pages and logs."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = (
            reason  # malformed | forged | expired | wrong_purpose | wrong_session | wrong_role
        )


@dataclass(frozen=True)
class TokenClaims:
    purpose: str
    session_id: str
    role: str
    person_id: str
    expires_at: float
    nonce: str
    extra: str = ""  # e.g. the file a download link opens


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class TokenSigner:
    secret: bytes

    def sign(
        self,
        *,
        purpose: str,
        session_id: str,
        role: str,
        person_id: str,
        ttl_seconds: float,
        extra: str = "",
        now: float | None = None,
    ) -> str:
        issued = time.time() if now is None else now
        payload = {
            "p": purpose,
            "s": session_id,
            "r": role,
            "u": person_id,
            "e": round(issued + ttl_seconds, 3),
            "n": secrets.token_hex(6),
        }
        if extra:
            payload["x"] = extra
        body = _b64(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode())
        return body + "." + _b64(self._mac(body))

    def verify(
        self,
        token: str,
        *,
        purpose: str,
        session_id: str | None = None,
        roles: tuple[str, ...] | None = None,
        now: float | None = None,
    ) -> TokenClaims:
        if not token or token.count(".") != 1 or len(token) > 4096:
            raise TokenError("malformed", "the link is incomplete or damaged")
        body, mac = token.split(".")
        try:
            given = _unb64(mac)
        except (ValueError, TypeError):
            raise TokenError("malformed", "the link is incomplete or damaged") from None
        if not hmac.compare_digest(given, self._mac(body)):
            raise TokenError("forged", "the link's signature does not match")
        try:
            payload = json.loads(_unb64(body))
            claims = TokenClaims(
                purpose=str(payload["p"]),
                session_id=str(payload["s"]),
                role=str(payload["r"]),
                person_id=str(payload["u"]),
                expires_at=finite_expiry(payload["e"]),
                nonce=str(payload["n"]),
                extra=str(payload.get("x", "")),
            )
        except (ValueError, KeyError, TypeError):
            raise TokenError("malformed", "the link is incomplete or damaged") from None
        if claims.purpose != purpose:
            raise TokenError("wrong_purpose", f"this link is not a {purpose} link")
        current = time.time() if now is None else now
        if current >= claims.expires_at:
            raise TokenError("expired", "the link has expired")
        if session_id is not None and claims.session_id != session_id:
            raise TokenError("wrong_session", "the link belongs to another session")
        if roles is not None and claims.role not in roles:
            raise TokenError(
                "wrong_role", f"the link is for a {claims.role}, not {'/'.join(roles)}"
            )
        return claims

    def _mac(self, body: str) -> bytes:
        return hmac.new(self.secret, body.encode(), hashlib.sha256).digest()


def finite_expiry(value: object) -> float:
    """A token's expiry: a finite JSON number. ``"inf"``, NaN, ``true`` or a string would
    make a link that never expires (``float("inf")``) or never compares; ValueError."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expiry must be a number, not {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"expiry must be finite, not {value}")
    return float(value)


def call_link(public_url: str, token: str) -> str:
    """The URL a participant opens; the session and role are inside the token."""
    return f"{public_url.rstrip('/')}/call?t={quote(token)}"
