"""Holiday schedules loaded by the bureau (table calendar_years), one row per year.

A stored year overrides the chinesecalendar data for that year; ``build_calendar`` gives the
WorkCalendar the bot should use (library years + every stored year).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from bot.workcalendar import ORIGIN_LOADED, WorkCalendar, YearSchedule
from storage.db import Database, audit


def _iso(at: datetime | None) -> str:
    return (at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")


async def save_year(
    db: Database, schedule: YearSchedule, loaded_by: str | None, *, now: datetime | None = None
) -> bool:
    """Store (or replace) one year's schedule; returns True when a stored year was replaced.

    ``loaded_by`` is the actor, e.g. ``"cli"`` or ``"person:12"``; the change is audited.
    """
    schedule = replace(schedule, origin=ORIGIN_LOADED)
    at = _iso(now)
    async with db.transaction() as conn:
        async with conn.execute("SELECT schedule_json FROM calendar_years WHERE year = ?", (schedule.year,)) as cur:
            old = await cur.fetchone()
        await conn.execute(
            "INSERT INTO calendar_years (year, schedule_json, source, published_on, loaded_at, loaded_by) "
            "VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(year) DO UPDATE SET schedule_json = excluded.schedule_json, "
            "source = excluded.source, published_on = excluded.published_on, "
            "loaded_at = excluded.loaded_at, loaded_by = excluded.loaded_by",
            (
                schedule.year,
                schedule.to_json(),
                schedule.source,
                schedule.published_on.isoformat() if schedule.published_on else None,
                at,
                loaded_by,
            ),
        )
        await audit(
            conn,
            actor=loaded_by or "system",
            action="calendar.replace" if old else "calendar.load",
            entity="calendar_year",
            entity_id=schedule.year,
            before=_summary(YearSchedule.from_json(old[0])) if old else None,
            after=_summary(schedule),
            at=datetime.fromisoformat(at),
        )
    return old is not None


def _summary(s: YearSchedule) -> dict[str, object]:
    return {
        "year": s.year,
        "source": s.source,
        "published_on": s.published_on.isoformat() if s.published_on else None,
        "rest_days": len(s.rest_days),
        "makeup_workdays": len(s.makeup_workdays),
    }


async def load_years(db: Database) -> list[YearSchedule]:
    """Every stored year, oldest first."""
    rows = await db.fetchall("SELECT schedule_json FROM calendar_years ORDER BY year")
    return [YearSchedule.from_json(row[0]) for row in rows]


async def get_year(db: Database, year: int) -> YearSchedule | None:
    row = await db.fetchone("SELECT schedule_json FROM calendar_years WHERE year = ?", (year,))
    return YearSchedule.from_json(row[0]) if row else None


async def loaded_info(db: Database, year: int) -> tuple[str, str | None] | None:
    """(loaded_at ISO, loaded_by) of a stored year, or None."""
    row = await db.fetchone("SELECT loaded_at, loaded_by FROM calendar_years WHERE year = ?", (year,))
    return (row[0], row[1]) if row else None


async def build_calendar(db: Database) -> WorkCalendar:
    """The bureau's calendar: chinesecalendar's years overridden by every stored year."""
    return WorkCalendar(await load_years(db))


__all__ = ["build_calendar", "get_year", "load_years", "loaded_info", "save_year"]


async def calendar_signature(db: Database) -> str:
    """Changes whenever a year is loaded or replaced, so a running bot knows to rebuild its calendar."""
    row = await db.fetchone("SELECT count(*), max(loaded_at), max(rowid) FROM calendar_years")
    return "|".join(str(v) for v in tuple(row)) if row else ""
