"""Holiday schedules loaded by the bureau (table calendar_years), one row per year.

Only SQL: the schedule itself is stored as bot.workcalendar's JSON and parsed by bot/schedules.py.
"""

from __future__ import annotations

import aiosqlite

from bot.domain import StoredYear
from storage.db import Conn, fetchall, fetchone


async def stored_schedule_json(conn: Conn, year: int) -> str | None:
    row = await fetchone(conn, "SELECT schedule_json FROM calendar_years WHERE year = ?", (year,))
    return str(row[0]) if row else None


async def upsert_year(
    conn: aiosqlite.Connection, *, year: int, schedule_json: str, source: str, published_on: str | None, at: str,
    loaded_by: str | None,
) -> None:
    """Store or replace one year inside the caller's transaction (which also writes the audit row)."""
    await conn.execute(
        "INSERT INTO calendar_years (year, schedule_json, source, published_on, loaded_at, loaded_by) "
        "VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(year) DO UPDATE SET schedule_json = excluded.schedule_json, "
        "source = excluded.source, published_on = excluded.published_on, "
        "loaded_at = excluded.loaded_at, loaded_by = excluded.loaded_by",
        (year, schedule_json, source, published_on, at, loaded_by),
    )


async def stored_years(conn: Conn) -> list[StoredYear]:
    """Every stored year, oldest first."""
    rows = await fetchall(conn, "SELECT year, schedule_json, loaded_at, loaded_by FROM calendar_years ORDER BY year")
    return [StoredYear(int(r[0]), str(r[1]), str(r[2]), r[3]) for r in rows]


async def loaded_info(conn: Conn, year: int) -> tuple[str, str | None] | None:
    """(loaded_at ISO, loaded_by) of a stored year, or None."""
    row = await fetchone(conn, "SELECT loaded_at, loaded_by FROM calendar_years WHERE year = ?", (year,))
    return (row[0], row[1]) if row else None


async def signature(conn: Conn) -> str:
    """Changes whenever a year is loaded or replaced, so a running bot knows to rebuild its calendar."""
    row = await fetchone(conn, "SELECT count(*), max(loaded_at), max(rowid) FROM calendar_years")
    return "|".join(str(v) for v in tuple(row)) if row else ""
