"""The bureau's holiday schedules: loading a year (audited) and building the WorkCalendar from storage.

A stored year overrides the chinesecalendar data for that year; `build_calendar` gives the
WorkCalendar the bot should use (library years + every stored year).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from bot.clock import iso
from bot.workcalendar import ORIGIN_LOADED, WorkCalendar, YearSchedule
from storage import calendars as repo
from storage.db import Database, audit


async def save_year(
    db: Database, schedule: YearSchedule, loaded_by: str | None, *, now: datetime | None = None
) -> bool:
    """Store (or replace) one year's schedule; returns True when a stored year was replaced.

    ``loaded_by`` is the actor, e.g. ``"cli"`` or ``"person:12"``; the change is audited.
    """
    schedule = replace(schedule, origin=ORIGIN_LOADED)
    at = iso(now or datetime.now(UTC))
    async with db.transaction() as conn:
        old = await repo.stored_schedule_json(conn, schedule.year)
        await repo.upsert_year(
            conn, year=schedule.year, schedule_json=schedule.to_json(), source=schedule.source,
            published_on=schedule.published_on.isoformat() if schedule.published_on else None, at=at,
            loaded_by=loaded_by,
        )
        await audit(
            conn,
            actor=loaded_by or "system",
            action="calendar.replace" if old else "calendar.load",
            entity="calendar_year",
            entity_id=schedule.year,
            before=_summary(YearSchedule.from_json(old)) if old else None,
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
    return [YearSchedule.from_json(y.schedule_json) for y in await repo.stored_years(db)]


async def get_year(db: Database, year: int) -> YearSchedule | None:
    text = await repo.stored_schedule_json(db, year)
    return YearSchedule.from_json(text) if text else None


async def loaded_info(db: Database, year: int) -> tuple[str, str | None] | None:
    """(loaded_at ISO, loaded_by) of a stored year, or None."""
    return await repo.loaded_info(db, year)


async def build_calendar(db: Database) -> WorkCalendar:
    """The bureau's calendar: chinesecalendar's years overridden by every stored year."""
    return WorkCalendar(await load_years(db))


async def calendar_signature(db: Database) -> str:
    """Changes whenever a year is loaded or replaced, so a running bot knows to rebuild its calendar."""
    return await repo.signature(db)
