"""Signed, expiring download links to a session's materials (the links sent in Telegram).

A link is ``<public_url>/d/<token>/<path>``. The token (conference/tokens.py, purpose
"download") binds the session, the person it was made for, an expiry and a scope:
``*`` opens every file of the session folder (so the report page's relative links to
recordings and evidence work), any other scope opens exactly that one file.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import quote

from proctorbot.conference.tokens import TokenClaims, TokenError, TokenSigner

PURPOSE = "download"
WHOLE_SESSION = "*"
REPORT_PAGE = "report/report.html"


def clean_path(path: str) -> str:
    """A relative path inside the session folder, or ValueError."""
    pure = PurePosixPath(path.lstrip("/"))
    if not path or pure.is_absolute() or ".." in pure.parts or "\\" in path or "\0" in path:
        raise ValueError(f"not a path inside the session folder: {path!r}")
    return str(pure)


def download_token(
    signer: TokenSigner,
    session_id: str,
    *,
    person_id: str = "",
    role: str = "organizer",
    ttl_seconds: float,
    scope: str = WHOLE_SESSION,
    now: float | None = None,
) -> str:
    if scope != WHOLE_SESSION:
        scope = clean_path(scope)
    return signer.sign(
        purpose=PURPOSE,
        session_id=session_id,
        role=role,
        person_id=person_id,
        ttl_seconds=ttl_seconds,
        extra=scope,
        now=now,
    )


def download_link(
    signer: TokenSigner,
    public_url: str,
    session_id: str,
    *,
    path: str = REPORT_PAGE,
    person_id: str = "",
    role: str = "organizer",
    ttl_seconds: float,
    whole_session: bool = True,
    now: float | None = None,
) -> str:
    """The URL to send; ``path`` is the file it opens (the report page by default)."""
    path = clean_path(path)
    token = download_token(
        signer,
        session_id,
        person_id=person_id,
        role=role,
        ttl_seconds=ttl_seconds,
        scope=WHOLE_SESSION if whole_session else path,
        now=now,
    )
    return f"{public_url.rstrip('/')}/d/{token}/{quote(path)}"


def check_download(
    signer: TokenSigner, token: str, path: str, *, now: float | None = None
) -> tuple[TokenClaims, str]:
    """The claims and the cleaned path, or TokenError (expired, forged, out of scope, or
    ``bad_path``: no file a link could ever open)."""
    claims = signer.verify(token, purpose=PURPOSE, now=now)
    try:
        path = clean_path(path)
    except ValueError:
        raise TokenError("bad_path", "the link points outside the session") from None
    if claims.extra not in (WHOLE_SESSION, path):
        raise TokenError("wrong_scope", "the link does not open this file")
    return claims, path
