"""The three-colour escalation ladder of a case (issue 11): a pure policy, and the recorder of its history.

蓝 (blue): the report deadline is within `ladder.blue_working_days` working days (default 5);
黄 (yellow): overdue, escalation level 1 (also an overdue case whose first overdue working day has
not come yet, e.g. over a weekend — it is past its deadline all the same);
红 (red): overdue by `escalation.levels[1]` working days or more, escalation level 2.
A case that is not being rectified (awaiting feedback, reported, closed, non-compliant) or whose
deadline is further away has no colour. The colour is computed from the deadline and the calendar
wherever it is shown (so it is never stale); `refresh` records every change of colour with its
time in `ladder_changes`, which /case lists, so the case's history says when it turned 黄 or 红.
(Not in audit_log: nobody acted, the calendar moved; the people's actions stay the audit log.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from enum import StrEnum

from bot.cases import OPEN_STATUSES
from bot.clock import Clock
from bot.dates import format_date
from bot.domain import Case, LadderChange
from bot.i18n import N_, Translator
from bot.reminders import Light, local_today, traffic_light
from bot.settings import Settings
from bot.workcalendar import WorkCalendar
from storage import ladder as repo
from storage.db import Database

EARLIEST = date(2000, 1, 1)  # no deadline is looked at before this (the holiday data starts in 2004)


class Colour(StrEnum):
    NONE = "none"
    BLUE = "blue"
    YELLOW = "yellow"
    RED = "red"

    @property
    def rank(self) -> int:
        """Worse is higher: sorting by it puts red first."""
        return ("none", "blue", "yellow", "red").index(self.value)

    @property
    def emoji(self) -> str:
        return {"none": "⚪", "blue": "🔵", "yellow": "🟡", "red": "🔴"}[self.value]


COLOUR_NAMES: Mapping[Colour, str] = {
    Colour.NONE: N_("no colour"), Colour.BLUE: N_("blue"), Colour.YELLOW: N_("yellow"), Colour.RED: N_("red"),
}
# Cell fills of the export's ladder column (ARGB), the colours the bureau's paper ledgers use.
FILLS: Mapping[Colour, str] = {Colour.BLUE: "FF9BC2E6", Colour.YELLOW: "FFFFE699", Colour.RED: "FFFF7C80"}


def colour_of(due: date | None, today: date, calendar: WorkCalendar, *, blue_working_days: int,
              levels: Sequence[int]) -> Colour:
    """The colour of a deadline on `today` (pure). Monotone: an earlier deadline is never a better colour."""
    if due is None:
        return Colour.NONE
    light, left, overdue = traffic_light(due, today, calendar)
    if light is Light.RED:
        return Colour.RED if overdue >= levels[1] else Colour.YELLOW
    return Colour.BLUE if left <= blue_working_days else Colour.NONE


def colour_for(status: str, due: date | None, today: date, calendar: WorkCalendar, settings: Settings) -> Colour:
    """A case's colour from its status and report deadline: only cases being rectified have one."""
    if status not in OPEN_STATUSES:
        return Colour.NONE
    return colour_of(due, today, calendar, blue_working_days=settings.ladder.blue_working_days,
                     levels=settings.escalation.levels)


def case_colour(case: Case, today: date, calendar: WorkCalendar, settings: Settings) -> Colour:
    return colour_for(case.status, case.due_on, today, calendar, settings)


def thresholds(today: date, calendar: WorkCalendar, settings: Settings) -> repo.Thresholds:
    """The last deadline that is 红, 黄 and 蓝 today. `colour_of` is monotone in the deadline (an
    earlier one is never a better colour), so each is found by bisection over the days around today."""
    def colour(day: date) -> Colour:
        return colour_of(day, today, calendar, blue_working_days=settings.ladder.blue_working_days,
                         levels=settings.escalation.levels)

    def last(at_least: Colour) -> date | None:
        lo, hi = today - timedelta(days=2 * 366), today + timedelta(days=366)
        while colour(lo).rank < at_least.rank and lo > EARLIEST:  # e.g. a very high escalation level
            lo = max(EARLIEST, lo - timedelta(days=2 * 366))
        if colour(lo).rank < at_least.rank:
            return None
        while hi - lo > timedelta(days=1):  # invariant: colour(lo) is at least it, colour(hi) is not
            mid = lo + timedelta(days=(hi - lo).days // 2)
            lo, hi = (mid, hi) if colour(mid).rank >= at_least.rank else (lo, mid)
        return lo

    return repo.Thresholds(red=last(Colour.RED), yellow=last(Colour.YELLOW), blue=last(Colour.BLUE))


async def refresh(db: Database, calendar: WorkCalendar, settings: Settings, clock: Clock) -> int:
    """Record every case whose colour changed since it was last recorded; returns how many.

    Runs as a job every `ladder.refresh_seconds` and at start: a rerun records nothing twice, since
    a change is a difference from the colour on record (`cases.ladder_colour`). Its cost follows the
    cases near or past their deadline, not all cases: the colours are three dates (`thresholds`), and
    the comparison is one indexed query, read inside the transaction that records the changes.
    """
    now = clock.now()
    today = local_today(settings, now)
    limits = thresholds(today, calendar, settings)
    async with db.transaction() as conn:  # the history table is the record: a derived colour, not an action
        found = await repo.colour_changes(conn, [str(s) for s in OPEN_STATUSES], limits)
        changes = [dataclasses.replace(c, changed_on=today, changed_at=now) for c in found]
        if changes:
            await repo.insert_changes(conn, changes)
    return len(changes)


async def since(db: Database, case: Case, colour: Colour) -> date | None:
    """The day the case took its current colour, when the history has recorded it already."""
    latest = (await repo.latest_changes(db, [case.id])).get(case.id)
    return latest.changed_on if latest is not None and latest.colour == colour else None


async def changes(db: Database, case_id: int) -> list[LadderChange]:
    return await repo.changes_of(db, case_id)


def colour_text(t: Translator, colour: Colour) -> str:
    """"🔴 红" — the emoji and the word, so it reads on any phone and for the colour-blind."""
    return f"{colour.emoji} {t._(COLOUR_NAMES[colour])}"


def ladder_line(t: Translator, colour: Colour, since_day: date | None) -> str:
    """/case's line: the colour now and since when."""
    if colour is Colour.NONE:
        return t._("Escalation ladder: {colour} (not near its deadline)").format(colour=colour_text(t, colour))
    if since_day is None:
        return t._("Escalation ladder: {colour}").format(colour=colour_text(t, colour))
    return t._("Escalation ladder: {colour} since {date}").format(colour=colour_text(t, colour),
                                                           date=format_date(since_day, t))


# How each recorded change reads in /case.
HISTORY_LABELS: Mapping[str, str] = {
    "case.ladder.blue": N_("Escalation ladder turned 🔵 blue: the deadline is near"),
    "case.ladder.yellow": N_("Escalation ladder turned 🟡 yellow: overdue (escalation level 1)"),
    "case.ladder.red": N_("Escalation ladder turned 🔴 red: escalation level 2"),
    "case.ladder.none": N_("left the escalation ladder (no longer near or past its deadline)"),
}


async def case_ladder_line(db: Database, calendar: WorkCalendar, settings: Settings, t: Translator, case: Case,
                           today: date) -> str:
    """/case's ladder lines for a case the caller was allowed to see: the colour now, then each change."""
    colour = case_colour(case, today, calendar, settings)
    lines = [ladder_line(t, colour, await since(db, case, colour) if colour is not Colour.NONE else None)]
    history = await changes(db, case.id)
    if history:
        lines.append(t._("Escalation ladder history:"))
        lines += [t._("· {when} {what}").format(when=c.changed_on.isoformat(), what=t._(HISTORY_LABELS[
            f"case.ladder.{c.colour}"])) for c in history if f"case.ladder.{c.colour}" in HISTORY_LABELS]
    return "\n".join(lines)
