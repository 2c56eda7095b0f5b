"""No secret in any log line, at any level: a filter on the handlers the CLI installs.

Libraries log what they see: httpx writes every request URL at INFO, and a Telegram
Bot API URL carries the bot token (``/bot<token>/getUpdates``, about two a second while
the bot polls); python-telegram-bot writes the same URLs at DEBUG. The filter rewrites
each record before any handler formats it: the values it was told about (the bot token,
the server's secret key, the SMTP and database passwords) and anything shaped like a bot
token or one of our signed links become ``***``: in the message, its arguments, the
traceback and the stack.

The CLI (proctorbot/cli.py) builds one ``SecretRedactor``, puts it on the root logger's
handlers and hands it to the command's settings (``protect_settings``); the per-request
INFO lines of httpx are quiet below ``-vv`` (``quiet_request_logs``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from proctorbot.config.settings import Settings

MASK = "***"
# A Telegram bot token, in a Bot API URL or anywhere: "<bot id>:<35 characters>".
TOKEN_IN_URL = re.compile(r"(/(?:file/)?bot)[0-9]+:[A-Za-z0-9_-]+")
TOKEN_SHAPE = re.compile(r"\b[0-9]{5,}:[A-Za-z0-9_-]{30,}")
# Our own signed links are keys too: a call link's ``?t=`` and a download link's ``/d/<token>``
# (e.g. in an aiohttp error that quotes the URL it could not open).
LINK_TOKEN = re.compile(r"([?&]t=|/d/)[A-Za-z0-9_%-]{16,}(?:\.|%2E)[A-Za-z0-9_%-]{16,}")
MIN_SECRET_CHARS = 6  # shorter values would mask ordinary words
# Libraries that log one INFO line per HTTP request.
REQUEST_LOGGERS = ("httpx", "httpcore")


class SecretRedactor(logging.Filter):
    """A handler filter that masks secrets in every record it lets through (all of them)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self.protect(*secrets)

    def protect(self, *values: str | None) -> None:
        """Mask these values from now on (empty and very short ones are ignored)."""
        for value in values:
            if value and len(value.strip()) >= MIN_SECRET_CHARS:
                self._secrets.add(value.strip())

    def protect_settings(self, settings: Settings) -> None:
        """Every secret the settings hold: bot token, secret key, SMTP and database passwords."""
        token = settings.telegram.token
        password = settings.smtp.password
        self.protect(
            token.get_secret_value() if token else None,
            settings.server.secret_key.get_secret_value(),
            password.get_secret_value() if password else None,
            _database_password(settings.database_url),
        )

    def redact(self, text: str) -> str:
        # Longest first, so a secret that contains another is masked whole.
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        text = TOKEN_IN_URL.sub(rf"\1{MASK}", text)
        text = LINK_TOKEN.sub(rf"\1{MASK}", text)
        return TOKEN_SHAPE.sub(MASK, text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: logging reports it itself
            return True
        # Formatted once here; the handlers then format the clean text without arguments.
        record.msg, record.args = self.redact(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def install(redactor: SecretRedactor, logger: logging.Logger | None = None) -> None:
    """Put ``redactor`` on every handler of ``logger`` (the root by default), in place of
    one installed before (a second CLI run in one process does not stack them)."""
    for handler in (logger or logging.getLogger()).handlers:
        for old in [f for f in handler.filters if isinstance(f, SecretRedactor)]:
            handler.removeFilter(old)
        handler.addFilter(redactor)


def quiet_request_logs(verbosity: int) -> None:
    """One line per HTTP request only at ``-vv``; warnings and errors always."""
    level = logging.INFO if verbosity >= 2 else logging.WARNING
    for name in REQUEST_LOGGERS:
        logging.getLogger(name).setLevel(level)


def _database_password(url: str) -> str | None:
    if not url:
        return None
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).password
    except Exception:  # not a URL SQLAlchemy reads: nothing to mask
        return None
