"""What goes out: the channel-neutral message and the table of renderers, one per notification kind.

Features enqueue a `bot.domain.Notification` (storage.outbox.enqueue) inside the transaction
that makes the change; delivery renders it only at send time, in the recipient's language, with
the renderer the composition root (bot/bootstrap.py) registered for its kind. The registry is a
plain table handed to delivery, never filled by decorators at import time, so which renderers
exist does not depend on which modules happen to have been imported.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.domain import Kind
from bot.i18n import Translator
from storage.db import Database


@dataclass(frozen=True)
class Rendered:
    """A message for any chat platform: text, buttons as rows of (label, action), an optional file."""

    text: str
    buttons: list[list[tuple[str, str]]] = field(default_factory=list)  # rows of (label, action)
    document: tuple[str, bytes] | None = None                            # (file name, content)


Renderer = Callable[[Database, Translator, Mapping[str, Any]], Awaitable[Rendered]]


@dataclass(frozen=True)
class RendererRegistry:
    """How each kind is worded, and which kinds wait for the send window (reminders, digests)."""

    renderers: Mapping[Kind, Renderer]
    windowed: frozenset[Kind] = frozenset()

    def get(self, kind: str) -> Renderer | None:
        """The renderer of a stored row's kind; None for a kind this version does not know."""
        try:
            return self.renderers.get(Kind(kind))
        except ValueError:
            return None

    @property
    def windowed_kinds(self) -> frozenset[str]:
        return frozenset(str(k) for k in self.windowed)


def split_text(text: str, limit: int) -> list[str]:
    """`text` in parts of at most `limit` characters, cut at line ends where a line allows it.

    Chat platforms refuse longer messages (Telegram: 4,096); a case summary with long findings, or an
    answer that echoes what someone typed, must arrive whole rather than not at all.
    """
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:  # one line longer than a message: cut it
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current or not parts:
        parts.append(current)
    return parts
