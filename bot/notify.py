"""What goes out: the channel-neutral message and the table of renderers, one per notification kind.

Features enqueue a `bot.domain.Notification` (storage.outbox.enqueue) inside the transaction
that makes the change; delivery renders it only at send time, in the recipient's language, with
the renderer the composition root (bot/bootstrap.py) registered for its kind. The registry is a
plain table handed to delivery, never filled by decorators at import time, so which renderers
exist does not depend on which modules happen to have been imported.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
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
# Several rows of one kind for one person in one message (issue 14): their payloads and the page to show.
GroupRenderer = Callable[[Database, Translator, Sequence[Mapping[str, Any]], int], Awaitable[Rendered]]


@dataclass(frozen=True)
class RendererRegistry:
    """How each kind is worded, and which kinds wait for the send window (reminders, digests)."""

    renderers: Mapping[Kind, Renderer]
    windowed: frozenset[Kind] = frozenset()
    # Kinds whose rows of one person and one sweep go out as one message listing them all; a single
    # row still goes through its kind's own renderer, so it reads exactly as before.
    grouped: Mapping[Kind, GroupRenderer] = field(default_factory=dict)

    def get(self, kind: str) -> Renderer | None:
        """The renderer of a stored row's kind; None for a kind this version does not know."""
        try:
            return self.renderers.get(Kind(kind))
        except ValueError:
            return None

    def group(self, kind: str) -> GroupRenderer | None:
        """The list renderer of a kind sent one message per person and sweep; None for the others."""
        try:
            return self.grouped.get(Kind(kind))
        except ValueError:
            return None

    @property
    def windowed_kinds(self) -> frozenset[str]:
        return frozenset(str(k) for k in self.windowed)

