"""Notifications go through the persistent outbox; this is how any feature asks for one.

A notification is stored with a stable key under a UNIQUE constraint (so a repeated sweep or
a restart cannot enqueue it twice) and rendered only at send time, in the recipient's
language, by the renderer registered for its kind.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiosqlite

from bot.clock import iso
from bot.i18n import Translator
from storage.db import Database


@dataclass(frozen=True)
class Notification:
    key: str                      # stable identity, e.g. "case:12:before_due:3:2026-03-02:p7"
    person_id: int
    kind: str                     # selects the renderer
    payload: Mapping[str, Any]
    not_before: datetime          # aware; delivery waits until then (and for the send window if the kind needs it)
    case_id: int | None = None


@dataclass(frozen=True)
class Rendered:
    text: str
    buttons: list[list[tuple[str, str]]] = field(default_factory=list)  # rows of (label, callback_data)
    document: tuple[str, bytes] | None = None                            # (file name, content)


Renderer = Callable[[Database, Translator, Mapping[str, Any]], Awaitable[Rendered]]
RENDERERS: dict[str, Renderer] = {}
# Kinds that wait for reminders.send_window on working days (reminders, overdue notices, digests).
WINDOWED_KINDS: set[str] = set()


def renderer(kind: str, *, windowed: bool = False) -> Callable[[Renderer], Renderer]:
    """Register how a kind of notification is worded; `windowed` kinds respect the send window."""

    def register(func: Renderer) -> Renderer:
        RENDERERS[kind] = func
        if windowed:
            WINDOWED_KINDS.add(kind)
        return func

    return register


async def enqueue(conn: aiosqlite.Connection, notifications: Iterable[Notification], *, now: datetime) -> int:
    """Insert into the outbox inside the caller's transaction; duplicates (same key) are ignored."""
    inserted = 0
    for n in notifications:
        cur = await conn.execute(
            "INSERT INTO outbox (key, person_id, case_id, kind, payload, not_before, created_at)"
            " VALUES (?,?,?,?,?,?,?) ON CONFLICT(key) DO NOTHING",
            (n.key, n.person_id, n.case_id, n.kind, json.dumps(dict(n.payload), ensure_ascii=False, default=str),
             iso(n.not_before), iso(now)),
        )
        inserted += cur.rowcount
    return inserted
