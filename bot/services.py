"""What every handler and job needs, built once at start-up and passed around explicitly."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date, datetime

from bot.clock import Clock
from bot.i18n import Translator, translator_for_locale
from bot.settings import Settings
from bot.workcalendar import WorkCalendar
from storage.db import Database
from storage.people import Person


@dataclass
class Services:
    settings: Settings
    db: Database
    clock: Clock
    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    extras: dict[str, object] = field(default_factory=dict)
    delivery_wakeup: asyncio.Event = field(default_factory=asyncio.Event)

    def wake_delivery(self) -> None:
        """Call after enqueueing notifications so the delivery loop sends them now, not at the next sweep."""
        self.delivery_wakeup.set()

    def now(self) -> datetime:
        return self.clock.now()

    def today(self) -> date:
        """The bureau's calendar day (deadlines are counted in its timezone)."""
        return self.clock.now().astimezone(self.settings.bureau.tz).date()

    def translator(self, person: Person | None) -> Translator:
        return translator_for_locale(person.locale if person else None)


async def refresh_calendar(svc: Services) -> bool:
    """Pick up holiday years loaded with `rectbot calendar load` while the bot runs; True when rebuilt."""
    from storage.calendars import build_calendar, calendar_signature  # local: imports are being reorganised

    signature = await calendar_signature(svc.db)
    if svc.extras.get("calendar_signature") == signature:
        return False
    svc.calendar = await build_calendar(svc.db)
    svc.extras["calendar_signature"] = signature
    return True
