"""Headers every response carries, whoever made it (a page, a file, an error, a refusal).

- ``Content-Security-Policy``: scripts only from this server's own files (no inline
  script, no ``eval``), nothing may frame a page, forms post only here. Inline
  ``style`` stays allowed: the report and the dashboard carry their CSS in the page (a
  style cannot run code, and every value in them is escaped).
- ``X-Frame-Options: DENY`` for browsers without ``frame-ancestors``.
- ``Referrer-Policy: no-referrer``: a call or download token in the address bar never
  leaves in a ``Referer``.
- ``X-Content-Type-Options: nosniff``: an uploaded or recorded file is never run as a script.
- ``Server: proctorbot``: no version banner for an attacker to look up.

Mounted with ``app.on_response_prepare`` (conference/server.py), which also runs for
aiohttp's own 404/405 answers and static files, unlike a middleware.
"""

from __future__ import annotations

from aiohttp import web

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Server": "proctorbot",
}


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare`` hook: set the headers (a handler's own value is replaced)."""
    response.headers.update(SECURITY_HEADERS)
