"""How deadlines and holiday schedules are explained to people (CLI and chat share this)."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.dates import format_date as format_day
from bot.dates import zone_label
from bot.i18n import Translator
from bot.periods import RULE_DESCRIPTIONS, Deadline
from bot.workcalendar import WorkCalendar, YearSchedule


def format_date(d: date, t: Translator) -> str:
    """2026-02-24 / 2026年2月24日 (no weekday: for publication dates)."""
    return t._("{year}-{month:02d}-{day:02d}").format(year=d.year, month=d.month, day=d.day)


def _join(items: list[str], t: Translator) -> str:
    return ("、" if getattr(t, "locale", "zh_CN").startswith("zh") else ", ").join(items)


def describe_deadline(
    dl: Deadline, calendar: WorkCalendar, t: Translator, *, strict: bool = False, timezone: str | None = None
) -> list[str]:
    """The human explanation of a deadline, one line per fact."""
    lines = [
        t._("Deadline: {due}").format(due=format_day(dl.due, t)),
        t._("Start: {start}; period: {period} (the start day is not counted)").format(
            start=format_day(dl.start, t), period=dl.period.describe(t)
        ),
        t._("Rule: {rule}").format(rule=t._(RULE_DESCRIPTIONS[dl.rule])),
    ]
    if dl.moved_from is not None:
        name = calendar.holiday_name(dl.moved_from)
        what = t._("a statutory holiday ({name})").format(name=name) if name else t._("a rest day (weekend)")
        lines.append(
            t._("The last day would have been {original}, {what}; moved to the next working day.").format(
                original=format_day(dl.moved_from, t), what=what
            )
        )
    if strict:
        lines.append(t._("Strict reading: only statutory holidays move the last day, ordinary weekends do not."))
    if timezone:
        lines.append(t._("The period ends at 24:00 on the last day ({timezone}).").format(
            timezone=zone_label(timezone, t)))
    if dl.provisional:
        years = _join([str(y) for y in dl.unknown_years], t)
        lines.append(
            t._(
                "PROVISIONAL: the holiday schedule for {years} has not been published or loaded; this "
                "assumes ordinary weekends and the statutory holiday dates. Recompute after loading it "
                "(rectbot calendar load)."
            ).format(years=years)
        )
    return lines


def deadline_json(dl: Deadline) -> dict[str, Any]:
    return {
        "start": dl.start.isoformat(),
        "period": str(dl.period),
        "due": dl.due.isoformat(),
        "provisional": dl.provisional,
        "moved_from": dl.moved_from.isoformat() if dl.moved_from else None,
        "rule": dl.rule,
    }


def describe_schedule(schedule: YearSchedule, t: Translator) -> list[str]:
    lines = []
    blocks = schedule.holiday_blocks()
    if blocks:
        lines.append(t._("Rest days:"))
        for name, first, last in blocks:
            n = (last - first).days + 1
            if first == last:
                lines.append("  " + t._("{name}: {first}").format(name=name, first=format_day(first, t)))
            else:
                lines.append(
                    "  "
                    + t.ngettext("{name}: {first} to {last}, {n} day", "{name}: {first} to {last}, {n} days", n).format(
                        name=name, first=format_day(first, t), last=format_day(last, t), n=n
                    )
                )
    else:
        lines.append(t._("Rest days: none"))
    if schedule.makeup_workdays:
        lines.append(t._("Make-up working days:"))
        for d, name in schedule.makeup_workdays.items():
            lines.append("  " + t._("{date} {name}").format(date=format_day(d, t), name=name))
    else:
        lines.append(t._("Make-up working days: none"))
    return lines
