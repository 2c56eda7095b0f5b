"""What a channel reports back to the dispatcher, and the message it is given."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class OutgoingMessage:
    id: int
    channel: str
    address: str
    kind: str
    language: str
    subject: str
    text: str
    attachment_path: Path | None = None
    attachment_kind: str | None = None
    link: str | None = None


class DeliveryError(Exception):
    """A message was not delivered this time."""


class TemporaryFailure(DeliveryError):
    """Try again later (network, 5xx, 429); ``retry_after`` seconds when the server said.

    ``unreachable``: the server could not be reached at all (an outage of the network or
    of the service), not a refusal of this message."""

    def __init__(
        self, message: str, retry_after: float | None = None, *, unreachable: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.unreachable = unreachable


class RecipientBlocked(DeliveryError):
    """The user blocked the bot (Telegram 403); retrying can never help."""


class PermanentFailure(DeliveryError):
    """The request itself is wrong (chat not found, address refused)."""


class ChannelUnavailable(DeliveryError):
    """The whole channel cannot work (invalid token, no SMTP host): keep everything queued."""


class ChannelSender(Protocol):
    channel: str

    async def send(self, message: OutgoingMessage) -> None: ...
