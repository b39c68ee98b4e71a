"""What every handler and job needs, built once at start-up and passed around explicitly."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from bot.clock import Clock
from bot.domain import Person
from bot.i18n import Translator, translator_for_locale
from bot.notify import RendererRegistry
from bot.settings import Settings
from bot.workcalendar import WorkCalendar
from storage.db import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    clock: Clock
    renderers: RendererRegistry            # built by bot/bootstrap.py: one renderer per notification kind
    history_labels: Mapping[str, str]      # built by bot/bootstrap.py: how audited actions read in /case
    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    calendar_signature: str = ""         # of the stored years the calendar was built from (bot.jobs)
    delivery_wakeup: asyncio.Event = field(default_factory=asyncio.Event)

    def wake_delivery(self) -> None:
        """Call after enqueueing notifications so the delivery loop sends them now, not at the next sweep."""
        self.delivery_wakeup.set()

    @property
    def evidence_root(self) -> Path:
        """Where evidence files are stored (settings.storage.files)."""
        return Path(self.settings.storage.files)

    def now(self) -> datetime:
        return self.clock.now()

    def today(self) -> date:
        """The bureau's calendar day (deadlines are counted in its timezone)."""
        return self.clock.now().astimezone(self.settings.bureau.tz).date()

    def translator(self, person: Person | None) -> Translator:
        return translator_for_locale(person.locale if person else None)

