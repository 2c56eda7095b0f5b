"""Sending outbox messages by SMTP (students without a Telegram chat get e-mail)."""

from __future__ import annotations

import asyncio
import mimetypes
import smtplib
from email.message import EmailMessage

from proctorbot.config.catalogue import Catalogue
from proctorbot.config.settings import SmtpSettings
from proctorbot.notifications.delivery import (
    ChannelUnavailable,
    OutgoingMessage,
    PermanentFailure,
    TemporaryFailure,
)

# Mail servers commonly refuse messages over 20–25 MB; larger files go as links.
MAX_EMAIL_ATTACHMENT_BYTES = 15 * 2**20


class EmailSender:
    channel = "email"

    def __init__(self, settings: SmtpSettings, *, timeout: float = 30.0) -> None:
        self.settings = settings
        self.timeout = timeout

    async def send(self, message: OutgoingMessage) -> None:
        if not self.settings.host:
            raise ChannelUnavailable("no SMTP host configured (smtp.host)")
        email = self.build(message)
        try:
            await asyncio.to_thread(self._deliver, email)
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentFailure(f"the mail server refused {message.address}: {exc}") from exc
        except smtplib.SMTPResponseException as exc:
            if 500 <= exc.smtp_code < 600:
                raise PermanentFailure(f"the mail server refused the message: {exc}") from exc
            raise TemporaryFailure(f"the mail server said: {exc}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TemporaryFailure(f"mail server unreachable: {exc}") from exc

    def build(self, message: OutgoingMessage) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.settings.sender
        email["To"] = message.address
        email["Subject"] = message.subject
        body = message.text
        path = message.attachment_path
        attach = False
        if path is not None:
            size = path.stat().st_size if path.is_file() else None
            if size is not None and size <= MAX_EMAIL_ATTACHMENT_BYTES:
                attach = True
            else:
                catalogue = Catalogue.load(message.language)
                body += "\n\n" + catalogue.text(
                    "notifications.file_link", link=message.link or path.name
                )
        email.set_content(body)
        if attach and path is not None:
            kind, _ = mimetypes.guess_type(path.name)
            maintype, subtype = (kind or "application/octet-stream").split("/", 1)
            email.add_attachment(
                path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name
            )
        return email

    def _deliver(self, email: EmailMessage) -> None:
        s = self.settings
        with smtplib.SMTP(s.host, s.port, timeout=self.timeout) as client:
            if s.starttls:
                client.starttls()
            if s.username and s.password:
                client.login(s.username, s.password.get_secret_value())
            client.send_message(email)
