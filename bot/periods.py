"""Periods and deadlines under the Civil Code (民法典) arts. 200-204.

* art. 201: the start day is not counted; counting begins the next day.
* art. 202: a month period ends on the corresponding day of the final month, or on that month's
  last day when it has none (2026-01-31 + 1 month -> 2026-02-28).  Years count as 12 months.
* art. 203: when the last day of a calendar-day or month period is a rest day, the period ends
  on the next working day.  "broad" (default): any non-working day of the official calendar
  (ordinary weekend or holiday) moves it; "strict": only a statutory holiday (a day of a holiday
  block named in the schedule) moves it.  A make-up working weekend day (调休补班) never does.
  Either way the new last day is the first official working day after the original one.
* working-day periods: due = the N-th official working day after the start day (make-up days
  count; holidays and ordinary weekends do not); art. 203 never applies.
* the last day ends at 24:00 local time (``due_end``).

``Deadline.rule`` is one of ``RULES``:

==========================  ====================================================
``months``                  month period, last day not moved
``months+shift:broad``      month period, last day was a rest day (broad reading)
``months+shift:strict``     month period, last day was a statutory holiday
``days``                    calendar-day period, last day not moved
``days+shift:broad``        calendar-day period, moved off a rest day
``days+shift:strict``       calendar-day period, moved off a statutory holiday
``working_days``            working-day period
==========================  ====================================================
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.errors import DomainError
from bot.i18n import N_, Translator
from bot.workcalendar import HOLIDAY, UNKNOWN, WORK, WorkCalendar

RULES = (
    "months",
    "months+shift:broad",
    "months+shift:strict",
    "days",
    "days+shift:broad",
    "days+shift:strict",
    "working_days",
)

RULE_DESCRIPTIONS = {
    "months": N_("calendar months; the period ends on the corresponding day of the final month (Civil Code art. 202)"),
    "months+shift:broad": N_(
        "calendar months; the last day fell on a rest day, so the period ends on the next working day (art. 203)"
    ),
    "months+shift:strict": N_(
        "calendar months; the last day fell on a statutory holiday, so the period "
        "ends on the next working day (art. 203, strict reading)"
    ),
    "days": N_("calendar days, not counting the start day (Civil Code art. 201)"),
    "days+shift:broad": N_(
        "calendar days; the last day fell on a rest day, so the period ends on the next working day (art. 203)"
    ),
    "days+shift:strict": N_(
        "calendar days; the last day fell on a statutory holiday, so the period ends "
        "on the next working day (art. 203, strict reading)"
    ),
    "working_days": N_("working days per the official holiday schedule, make-up working days included"),
}


class PeriodError(DomainError, ValueError):
    """A period could not be read or is out of range (English msgid + params; ``render(t)``)."""


class DateInputError(DomainError, ValueError):
    """A date could not be read (English msgid + params; ``render(t)``)."""


class Unit(StrEnum):
    MONTHS = "m"
    DAYS = "d"
    WORKING_DAYS = "wd"


#: largest amount accepted per unit (about a century; real periods are far shorter)
MAX_AMOUNT = {Unit.MONTHS: 1200, Unit.DAYS: 36600, Unit.WORKING_DAYS: 25000}

_TOO_LONG = {
    Unit.MONTHS: N_("The period is too long: at most {limit} months."),
    Unit.DAYS: N_("The period is too long: at most {limit} days."),
    Unit.WORKING_DAYS: N_("The period is too long: at most {limit} working days."),
}

_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "俩": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}

# suffix -> (unit, multiplier); longest suffixes are tried first
_SUFFIXES: Mapping[str, tuple[Unit, int]] = {
    "m": (Unit.MONTHS, 1),
    "mo": (Unit.MONTHS, 1),
    "mon": (Unit.MONTHS, 1),
    "month": (Unit.MONTHS, 1),
    "months": (Unit.MONTHS, 1),
    "y": (Unit.MONTHS, 12),
    "yr": (Unit.MONTHS, 12),
    "year": (Unit.MONTHS, 12),
    "years": (Unit.MONTHS, 12),
    "d": (Unit.DAYS, 1),
    "day": (Unit.DAYS, 1),
    "days": (Unit.DAYS, 1),
    "calendardays": (Unit.DAYS, 1),
    "cd": (Unit.DAYS, 1),
    "wd": (Unit.WORKING_DAYS, 1),
    "workday": (Unit.WORKING_DAYS, 1),
    "workdays": (Unit.WORKING_DAYS, 1),
    "workingday": (Unit.WORKING_DAYS, 1),
    "workingdays": (Unit.WORKING_DAYS, 1),
    "bd": (Unit.WORKING_DAYS, 1),
    "businessdays": (Unit.WORKING_DAYS, 1),
    "个月": (Unit.MONTHS, 1),
    "月": (Unit.MONTHS, 1),
    "个自然月": (Unit.MONTHS, 1),
    "自然月": (Unit.MONTHS, 1),
    "年": (Unit.MONTHS, 12),
    "个年头": (Unit.MONTHS, 12),
    "周年": (Unit.MONTHS, 12),
    "日": (Unit.DAYS, 1),
    "天": (Unit.DAYS, 1),
    "个自然日": (Unit.DAYS, 1),
    "自然日": (Unit.DAYS, 1),
    "日历日": (Unit.DAYS, 1),
    "个日历日": (Unit.DAYS, 1),
    "工作日": (Unit.WORKING_DAYS, 1),
    "个工作日": (Unit.WORKING_DAYS, 1),
    "w": (Unit.DAYS, 7),
    "wk": (Unit.DAYS, 7),
    "week": (Unit.DAYS, 7),
    "weeks": (Unit.DAYS, 7),
    "周": (Unit.DAYS, 7),
    "个周": (Unit.DAYS, 7),
    "星期": (Unit.DAYS, 7),
    "个星期": (Unit.DAYS, 7),
    "个礼拜": (Unit.DAYS, 7),
    "礼拜": (Unit.DAYS, 7),
}
_SUFFIX_RE = "|".join(sorted((re.escape(s) for s in _SUFFIXES), key=len, reverse=True))
_PERIOD_RE = re.compile(
    rf"^(?P<num>[0-9]+|[零〇一二两俩三四五六七八九十百千]+)(?P<suffix>{_SUFFIX_RE})(?:以内|之内|内)?$"
)


def _chinese_number(text: str) -> int | None:
    """Parse 一, 十五, 二十, 一百二十, 两 ... (up to 9999); None if malformed."""
    if not text:
        return None
    if all(ch in _CN_DIGITS for ch in text):  # digit by digit: 一二〇 -> 120
        return int("".join(str(_CN_DIGITS[ch]) for ch in text))
    total, digit, last_unit = 0, None, 10_000
    for ch in text:
        if ch in "零〇" and digit is None:  # 一百零五: a place-holding zero
            continue
        if ch in _CN_DIGITS:
            if digit is not None:
                return None
            digit = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            u = _CN_UNITS[ch]
            if u >= last_unit:
                return None
            total += (1 if digit is None else digit) * u
            digit, last_unit = None, u
        else:
            return None
    return total + (digit or 0)


def _normalize(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


@dataclass(frozen=True, slots=True)
class Period:
    amount: int
    unit: Unit

    def __post_init__(self) -> None:
        if not isinstance(self.unit, Unit):
            object.__setattr__(self, "unit", Unit(self.unit))
        if isinstance(self.amount, bool) or not isinstance(self.amount, int) or self.amount < 1:
            raise PeriodError(N_("The period must be a whole number of at least 1."))
        limit = MAX_AMOUNT[self.unit]
        if self.amount > limit:
            raise PeriodError(_TOO_LONG[self.unit], limit=limit)

    @classmethod
    def parse(cls, text: str) -> Period:
        """Read "2m", "10wd", "15d", "2个月", "两个月", "10个工作日", "15日", "15天", "1年", "十五日内"...

        Years are 12 months and weeks 7 days (stored as months / days); a trailing 内/以内 is ignored.
        "2月" is refused with the hint 2个月: people write it for February, so it is never a period.
        """
        return _parse_period(text if isinstance(text, str) else str(text))

    def __str__(self) -> str:
        return f"{self.amount}{self.unit.value}"

    def describe(self, t: Translator) -> str:
        """Human wording, e.g. "2 months" / "2个月"."""
        n = self.amount
        if self.unit is Unit.MONTHS:
            text = t.ngettext("{n} month", "{n} months", n)
        elif self.unit is Unit.DAYS:
            text = t.ngettext("{n} day", "{n} days", n)
        else:
            text = t.ngettext("{n} working day", "{n} working days", n)
        return text.format(n=n)


# Read once per distinct text (a ledger repeats the same few periods in 50,000 rows); a refusal
# raises every time (lru_cache keeps only results).
@functools.lru_cache(maxsize=1024)
def _parse_period(raw: str) -> Period:
    m = _PERIOD_RE.match(_normalize(raw))
    if not m:
        raise PeriodError(
            N_('Cannot read the period "{text}". Write it like 2m, 15d or 10wd (or 2个月, 15日, 10个工作日).'),
            text=raw.strip(),
        )
    num = m["num"]
    amount = int(num) if num.isdigit() else _chinese_number(num)
    if amount is None:
        raise PeriodError(
            N_('Cannot read the period "{text}". Write it like 2m, 15d or 10wd (or 2个月, 15日, 10个工作日).'),
            text=raw.strip(),
        )
    if m["suffix"] == "月":
        # 2月 is February in a date field; as a period it is ambiguous, so it is refused with a hint.
        raise PeriodError(N_('"{text}" reads as a month of the year, not a period. Did you mean {n}个月?'),
                          text=raw.strip(), n=amount)
    unit, mult = _SUFFIXES[m["suffix"]]
    return Period(amount * mult, unit)


@dataclass(frozen=True)
class Deadline:
    start: date
    period: Period
    due: date  # the last day of the period (it ends at 24:00 of that day, see due_end)
    provisional: bool  # some day inspected lies in a year with no published schedule
    moved_from: date | None  # the original last day when art. 203 moved it
    rule: str  # one of RULES
    unknown_years: tuple[int, ...] = field(default=())  # why it is provisional

    def due_end(self, tz: ZoneInfo) -> datetime:
        return due_end(self.due, tz)


_DIM = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _add_months(start: date, n: int) -> date:
    """Art. 202: the corresponding day of the final month, else that month's last day."""
    y, m0 = divmod(start.month - 1 + n, 12)
    y += start.year
    dim = _DIM[m0]
    if m0 == 1 and y % 4 == 0 and (y % 100 != 0 or y % 400 == 0):
        dim = 29
    d = start.day
    return date(y, m0 + 1, d if d <= dim else dim)


_SHIFT_RULE = {
    (Unit.MONTHS, False): "months+shift:broad",
    (Unit.MONTHS, True): "months+shift:strict",
    (Unit.DAYS, False): "days+shift:broad",
    (Unit.DAYS, True): "days+shift:strict",
}
_PLAIN_RULE = {Unit.MONTHS: "months", Unit.DAYS: "days"}


_new = object.__new__


def _make_deadline(
    start: date,
    period: Period,
    due: date,
    provisional: bool,
    moved_from: date | None,
    rule: str,
    unknown_years: tuple[int, ...] = (),
) -> Deadline:
    """Deadline(...) without the frozen dataclass's seven object.__setattr__ calls (hot path)."""
    d = _new(Deadline)
    attrs = d.__dict__
    attrs["start"] = start
    attrs["period"] = period
    attrs["due"] = due
    attrs["provisional"] = provisional
    attrs["moved_from"] = moved_from
    attrs["rule"] = rule
    attrs["unknown_years"] = unknown_years
    return d


_WD = Unit.WORKING_DAYS  # module constants: an enum member looked up on its class costs ~60 ns a time
_MONTHS = Unit.MONTHS
_fromordinal = date.fromordinal
# The shifted rule by (plain rule, strict): keyed by str, not by Unit, whose hash is a Python call.
_SHIFTED = {(plain, strict): f"{plain}+shift:{'strict' if strict else 'broad'}"
            for plain in ("months", "days") for strict in (False, True)}


def compute_deadline(start: date, period: Period, calendar: WorkCalendar, *, strict: bool = False) -> Deadline:
    """The last day of ``period`` counted from ``start`` (see the module docstring for the rules).

    The common case (a ``date`` whose period ends within the calendar's tables, in published years)
    is answered here by two or three list indexings in the calendar's tables (bot.workcalendar:
    prefix count of working days, ordinals of the working days, prefix count of unknown-year days)
    and one ``date.fromordinal``, with no call in between: that is most of what a deadline costs
    (~1 µs). Everything else (a datetime, a date outside the tables, a provisional deadline, an
    error) goes through ``_compute_deadline``, which gives the same answers and the same errors.
    """
    if type(start) is date:
        unit = period.unit
        base = calendar._base
        due = moved_from = None
        try:
            if unit is _WD:
                i = start.toordinal() - base
                if i >= 0 and i + base < calendar._end:
                    work = calendar._work
                    k = calendar._cum[i + 1] + period.amount - 1
                    if k < len(work):
                        o = work[k]
                        ucum = calendar._ucum
                        if ucum[o - base + 1] == ucum[i + 1]:  # no unknown-year day inspected
                            due, rule = _fromordinal(o), "working_days"
            else:
                if unit is _MONTHS:
                    y, m0 = divmod(start.month - 1 + period.amount, 12)
                    y += start.year
                    day = start.day
                    if day > 28:  # art. 202: the month's last day when it has no corresponding day
                        dim = _DIM[m0]
                        if m0 == 1 and y % 4 == 0 and (y % 100 != 0 or y % 400 == 0):
                            dim = 29
                        if day > dim:
                            day = dim
                    month_end = date(y, m0 + 1, day)
                    raw: date | None = month_end
                    ro = month_end.toordinal()
                    rule = "months"
                else:
                    raw = None  # built only when needed
                    ro = start.toordinal() + period.amount
                    rule = "days"
                i = ro - base
                if i >= 0 and ro < calendar._end:
                    st = calendar._status[i]
                    if (st & HOLIDAY) if strict else not (st & WORK):  # art. 203: the next working day
                        work = calendar._work
                        k = calendar._cum[i + 1]
                        if k < len(work):
                            o = work[k]
                            ucum = calendar._ucum
                            if ucum[o - base + 1] == ucum[i]:
                                due, moved_from = _fromordinal(o), raw or _fromordinal(ro)
                                rule = _SHIFTED[rule, strict]
                    elif not st & UNKNOWN:
                        due = raw or _fromordinal(ro)
        except (OverflowError, ValueError):
            pass  # the general path below raises the PeriodError
        if due is not None:  # Deadline(...) without the frozen dataclass's __setattr__ (as _make_deadline)
            d = _new(Deadline)
            attrs = d.__dict__
            attrs["start"] = start
            attrs["period"] = period
            attrs["due"] = due
            attrs["provisional"] = False
            attrs["moved_from"] = moved_from
            attrs["rule"] = rule
            attrs["unknown_years"] = ()
            return d
    return _compute_deadline(start, period, calendar, strict=strict)


def _compute_deadline(start: date, period: Period, calendar: WorkCalendar, *, strict: bool = False) -> Deadline:
    """The general path of ``compute_deadline``: grows the tables, works out provisional deadlines."""
    if type(start) is not date:
        if not isinstance(start, date):
            raise TypeError("start must be a date")
        start = date(start.year, start.month, start.day)
    unit = period.unit
    try:
        if unit is Unit.WORKING_DAYS:
            so = start.toordinal()
            o, prov = calendar._working_after(so, period.amount)
            due = date.fromordinal(o)
            if not prov:
                return _make_deadline(start, period, due, False, None, "working_days")
            moved_from = None
            rule = "working_days"
            first_inspected = date.fromordinal(so + 1)
        else:
            if unit is Unit.MONTHS:
                raw = _add_months(start, period.amount)
                ro = raw.toordinal()
            else:
                ro = start.toordinal() + period.amount
                raw = date.fromordinal(ro)
            o, prov = calendar._shift(ro, strict)
            if o == ro:
                due, moved_from, rule = raw, None, _PLAIN_RULE[unit]
            else:
                due, moved_from, rule = date.fromordinal(o), raw, _SHIFT_RULE[unit, strict]
            if not prov:
                return _make_deadline(start, period, due, False, moved_from, rule)
            first_inspected = raw
    except (OverflowError, ValueError) as exc:
        raise PeriodError(N_("The deadline would fall outside the supported calendar.")) from exc
    unknown = tuple(calendar.unknown_years_between(first_inspected, due))
    return _make_deadline(start, period, due, True, moved_from, rule, unknown)


# --------------------------------------------------------------------------- dates

MIN_INPUT_YEAR = 1900
MAX_INPUT_YEAR = 2100

_DATE_PATTERNS = (
    re.compile(r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})$"),
    re.compile(r"^(?P<y>\d{4})/(?P<m>\d{1,2})/(?P<d>\d{1,2})$"),
    re.compile(r"^(?P<y>\d{4})\.(?P<m>\d{1,2})\.(?P<d>\d{1,2})$"),
    re.compile(r"^(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})[日号]?$"),
    re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$"),
)


def parse_date(text: str) -> date:
    """Read 2026-03-05, 2026/3/5, 2026年3月5日, 2026.3.5 (or 20260305); DateInputError otherwise."""
    raw = text if isinstance(text, str) else str(text)
    s = re.sub(r"\s+", "", unicodedata.normalize("NFKC", raw))
    for pat in _DATE_PATTERNS:
        m = pat.match(s)
        if m:
            y, mo, d = int(m["y"]), int(m["m"]), int(m["d"])
            break
    else:
        raise DateInputError(
            N_('Cannot read the date "{text}". Write it like 2026-03-05, 2026/3/5 or 2026年3月5日.'),
            text=raw.strip(),
        )
    if not MIN_INPUT_YEAR <= y <= MAX_INPUT_YEAR:
        raise DateInputError(
            N_("The year {year} is out of range ({low}-{high})."),
            year=y,
            low=MIN_INPUT_YEAR,
            high=MAX_INPUT_YEAR,
        )
    try:
        return date(y, mo, d)
    except ValueError:
        raise DateInputError(N_("There is no such date: {text}."), text=raw.strip()) from None


def due_end(due: date, tz: ZoneInfo) -> datetime:
    """The aware instant the last day ends: 24:00 local time, i.e. the next day's 00:00."""
    return datetime.combine(due + timedelta(days=1), time(0, 0), tzinfo=tz)
