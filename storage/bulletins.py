"""Stored bulletins (migration 0008): the ranking as it was issued, one row per ISO week."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aiosqlite

from storage.db import Conn, fetchone


async def get(conn: Conn, week: str) -> Mapping[str, Any] | None:
    row = await fetchone(conn, "SELECT payload FROM bulletins WHERE week = ?", (week,))
    return json.loads(row[0]) if row else None


async def previous(conn: Conn, week: str) -> Mapping[str, Any] | None:
    """The latest bulletin issued before `week` (ISO week strings sort in time order)."""
    row = await fetchone(conn, "SELECT payload FROM bulletins WHERE week < ? ORDER BY week DESC LIMIT 1", (week,))
    return json.loads(row[0]) if row else None


async def insert(conn: aiosqlite.Connection, week: str, period_start: str, period_end: str,
                 payload: Mapping[str, Any], created_at: str) -> bool:
    """Store a bulletin; False when that week's was stored already (the first one stays)."""
    cur = await conn.execute(
        "INSERT INTO bulletins (week, period_start, period_end, payload, created_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT(week) DO NOTHING",
        (week, period_start, period_end, json.dumps(payload, ensure_ascii=False), created_at))
    return cur.rowcount == 1
