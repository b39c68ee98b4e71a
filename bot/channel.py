"""The port every outgoing message leaves through: one chat platform behind one small interface.

`bot/delivery.py` (the outbox drain) knows only this module, so another chat platform (e.g.
DingTalk) is one new adapter next to `bot/telegram_channel.py` plus its inbound handlers, not a
rewrite of delivery.

What a platform's adapter must implement:
* `name`: the platform's name as people read it in logs ("Telegram").
* `send(chat_id, message)`: deliver one `bot.notify.Rendered` (text, inline buttons as rows of
  (label, action) where the action comes back when pressed, an optional document (file name,
  bytes) captioned with the text) to one chat and return the platform's message id as an int
  (stored on the outbox row; replies to a reminder are matched by it).
* Its own limits: clip or split what exceeds the platform's size limits (text, caption, button
  data) and keep to its flood limits (e.g. per chat, per bot) inside the adapter or its client.
* Failures only as the exceptions below, chosen by what delivery should do next:
  `RetryLater` (the platform asked us to slow down), `Unreachable` (never retry this person),
  `Rejected` (this message will never be accepted), `Transient` (try again later with backoff).
  Anything else escaping `send` is treated as a bug and retried with backoff.

What it gets for free from delivery: the persistent outbox (each notification sent once, a crash
costs at most one duplicate), rendering at send time in the recipient's language, the send
window, per-chat and overall pacing, retries with exponential backoff, a global pause on
`RetryLater`, and on `Unreachable` the person marked unreachable (audited), their pending rows
dropped, and supervisors told when a department loses its last reachable liaison.
"""

from __future__ import annotations

from typing import Protocol

from bot.notify import Rendered

__all__ = ["Channel", "ChannelError", "Rejected", "RetryLater", "Transient", "Unreachable"]


class Channel(Protocol):
    """A chat platform as delivery sees it: send one message to one chat, get its id back."""

    name: str

    async def send(self, chat_id: int, message: Rendered) -> int:
        """Deliver `message` to `chat_id`; the platform's message id, or one of the errors below."""
        ...


class ChannelError(Exception):
    """A send that did not go through; `reason` is the platform's own words, kept for the logs."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RetryLater(ChannelError):
    """The platform asks us to slow down: everything waits `seconds`, then this message is retried."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds} s")
        self.seconds = seconds


class Unreachable(ChannelError):
    """The person blocked the bot or the chat is gone: never retry, mark the person unreachable."""


class Rejected(ChannelError):
    """The platform refused this very message for good (a malformed request): retrying cannot help."""


class Transient(ChannelError):
    """Timeouts, server errors, network trouble: the same message may well go through later."""
