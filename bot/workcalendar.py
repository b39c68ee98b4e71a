"""Official working-day calendar of the People's Republic of China (State Council schedules).

Sources, in order of precedence:

1. years loaded by the bureau from a TOML file (``parse_year_toml``), origin ``"loaded"``;
2. the ``chinesecalendar`` package (``import chinese_calendar``), origin ``"library"``;
3. for any other year ("unknown"): a best guess -- ordinary weekends plus the statutory
   holidays' own dates (元旦, 除夕+初一..初三, 清明, 五一 1-2, 端午, 中秋, 国庆 1-3), with no
   make-up working days.  Anything computed over such a day is *provisional*.

A schedule for year Y may also name days in the last week of Y-1 (New Year's holidays and
make-up days sometimes fall in late December); those entries override year Y-1's own rules.

Everything the deadline engine needs is precomputed over a contiguous range of years into flat
lists indexed by ``date.toordinal() - base``: a status byte per day, the prefix count of working
days, the sorted ordinals of working days and the prefix count of days in unknown years.  Every
query is then O(1) list indexing; the range grows on demand.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from itertools import accumulate
from types import MappingProxyType
from typing import Any

from bot.errors import DomainError, Msg
from bot.i18n import N_, WEEKDAYS, Translator

# Status bits of a day.
WORK = 1  # an official working day (weekday that is not a holiday, or a make-up weekend day)
HOLIDAY = 2  # a statutory holiday: a rest day named in the schedule (or a guessed holiday date)
UNKNOWN = 4  # the day's year has no published schedule: its status is a guess

ORIGIN_LIBRARY = "library"
ORIGIN_LOADED = "loaded"

MIN_SANE_YEAR = 2000
MAX_SANE_YEAR = 2100
#: a year file may name rest/make-up days this many days before 1 January of its year
PREVIOUS_YEAR_GRACE_DAYS = 7

# Gregorian dates of 春节 (正月初一), 端午 (五月初五) and 中秋 (八月十五) for years the library
# does not cover.  Generated once with the PyPI packages lunardate 0.3.0 (LunarDate(y, m, d)
# .toSolarDate()) and lunar-python 1.4.8 (Lunar.fromYmd(y, m, d).getSolar()), which agree on
# every entry; neither is a dependency of this project.  Outside this table the guess uses
# only the fixed-date holidays (and 清明 from the solar-term formula, 1900-2100).
LUNAR_FESTIVALS: Mapping[int, tuple[date, date, date]] = {
    2027: (date(2027, 2, 6), date(2027, 6, 9), date(2027, 9, 15)),
    2028: (date(2028, 1, 26), date(2028, 5, 28), date(2028, 10, 3)),
    2029: (date(2029, 2, 13), date(2029, 6, 16), date(2029, 9, 22)),
    2030: (date(2030, 2, 3), date(2030, 6, 5), date(2030, 9, 12)),
    2031: (date(2031, 1, 23), date(2031, 6, 24), date(2031, 10, 1)),
    2032: (date(2032, 2, 11), date(2032, 6, 12), date(2032, 9, 19)),
    2033: (date(2033, 1, 31), date(2033, 6, 1), date(2033, 9, 8)),
    2034: (date(2034, 2, 19), date(2034, 6, 20), date(2034, 9, 27)),
    2035: (date(2035, 2, 8), date(2035, 6, 10), date(2035, 9, 16)),
    2036: (date(2036, 1, 28), date(2036, 5, 30), date(2036, 10, 4)),
    2037: (date(2037, 2, 15), date(2037, 6, 18), date(2037, 9, 24)),
    2038: (date(2038, 2, 4), date(2038, 6, 7), date(2038, 9, 13)),
    2039: (date(2039, 1, 24), date(2039, 5, 27), date(2039, 10, 2)),
    2040: (date(2040, 2, 12), date(2040, 6, 14), date(2040, 9, 20)),
}

# Chinese holiday names as used by the State Council notices (and by chinesecalendar).
NEW_YEAR = "元旦"
SPRING_FESTIVAL = "春节"
QINGMING = "清明"
LABOUR_DAY = "劳动节"
DRAGON_BOAT = "端午"
MID_AUTUMN = "中秋"
NATIONAL_DAY = "国庆节"


# --------------------------------------------------------------------------- errors


class CalendarFileError(DomainError, ValueError):
    """A year file was refused as a whole; ``reasons`` lists every problem found.

    Each reason is a ``Msg`` (English msgid + parameters); ``render_reasons(t)`` gives them in
    the reader's language, ``reasons_text`` in English.
    """

    def __init__(self, reasons: Iterable[Msg | str]) -> None:
        self.reasons: list[Msg] = [r if isinstance(r, Msg) else Msg(r) for r in reasons]
        super().__init__(N_("The calendar file was refused ({count} problems)."), count=len(self.reasons))

    @property
    def reasons_text(self) -> list[str]:
        return [str(r) for r in self.reasons]

    def render_reasons(self, t: Translator) -> list[str]:
        return [r.render(t) for r in self.reasons]

    def __str__(self) -> str:
        return "; ".join(self.reasons_text)


# --------------------------------------------------------------------------- schedules


def _freeze(m: Mapping[date, str]) -> Mapping[date, str]:
    return MappingProxyType(dict(sorted(m.items())))


@dataclass(frozen=True, eq=True)
class YearSchedule:
    """One year's official arrangement of holidays and make-up working days."""

    year: int
    rest_days: Mapping[date, str]  # date -> holiday name (days of the statutory holiday blocks)
    makeup_workdays: Mapping[date, str]  # weekend days that are working days (调休补班)
    source: str  # "chinesecalendar 1.11.0" or the notice number
    published_on: date | None
    origin: str  # "library" | "loaded"

    def __post_init__(self) -> None:
        object.__setattr__(self, "rest_days", _freeze(self.rest_days))
        object.__setattr__(self, "makeup_workdays", _freeze(self.makeup_workdays))

    def __hash__(self) -> int:
        return hash(
            (
                self.year,
                tuple(self.rest_days.items()),
                tuple(self.makeup_workdays.items()),
                self.source,
                self.published_on,
                self.origin,
            )
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "year": self.year,
                "rest_days": {d.isoformat(): n for d, n in self.rest_days.items()},
                "makeup_workdays": {d.isoformat(): n for d, n in self.makeup_workdays.items()},
                "source": self.source,
                "published_on": self.published_on.isoformat() if self.published_on else None,
                "origin": self.origin,
            },
            ensure_ascii=False,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, s: str) -> YearSchedule:
        data = json.loads(s)
        pub = data.get("published_on")
        return cls(
            year=int(data["year"]),
            rest_days={date.fromisoformat(k): v for k, v in data["rest_days"].items()},
            makeup_workdays={date.fromisoformat(k): v for k, v in data["makeup_workdays"].items()},
            source=data["source"],
            published_on=date.fromisoformat(pub) if pub else None,
            origin=data.get("origin", ORIGIN_LOADED),
        )

    def holiday_blocks(self) -> list[tuple[str, date, date]]:
        """Rest days grouped into consecutive runs with the same name: (name, first, last)."""
        blocks: list[tuple[str, date, date]] = []
        for d, name in self.rest_days.items():
            if blocks and blocks[-1][0] == name and blocks[-1][2] + timedelta(days=1) == d:
                blocks[-1] = (name, blocks[-1][1], d)
            else:
                blocks.append((name, d, d))
        return blocks


@lru_cache(maxsize=1)
def library_schedules() -> dict[int, YearSchedule]:
    """The years covered by chinesecalendar, as schedules (holiday names in Chinese)."""
    import chinese_calendar
    from chinese_calendar.constants import Holiday, holidays, workdays

    zh = {h.value: h.chinese for h in Holiday}
    first = min(holidays).year
    last = max(holidays).year
    rest: dict[int, dict[date, str]] = {y: {} for y in range(first, last + 1)}
    work: dict[int, dict[date, str]] = {y: {} for y in range(first, last + 1)}

    def owner(d: date, name: str) -> int:
        # New Year's days in late December belong to the next year's notice.
        if d.month == 12 and name == Holiday.new_years_day.value and d.year + 1 <= last:
            return d.year + 1
        return d.year

    for d, name in holidays.items():
        y = owner(d, name)
        if y in rest:
            rest[y][d] = zh.get(name, name)
    for d, name in workdays.items():
        y = owner(d, name)
        if y in work:
            work[y][d] = zh.get(name, name) + "补班"
    source = f"chinesecalendar {getattr(chinese_calendar, '__version__', '?')}"
    return {y: YearSchedule(y, rest[y], work[y], source, None, ORIGIN_LIBRARY) for y in range(first, last + 1)}


@lru_cache(maxsize=256)
def provisional_holidays(year: int) -> Mapping[date, str]:
    """Best guess of a year's statutory holidays when no schedule is published (no 调休)."""
    out: dict[date, str] = {date(year, 1, 1): NEW_YEAR}
    lunar = LUNAR_FESTIVALS.get(year)
    if lunar:
        cny = lunar[0]
        for k in range(-1, 3):  # 除夕 + 正月初一..初三
            out[cny + timedelta(days=k)] = SPRING_FESTIVAL
    if 1900 <= year <= 2100:
        from chinese_calendar import get_solar_terms

        for d, term in get_solar_terms(date(year, 4, 1), date(year, 4, 10)):
            if term == "清明":
                out[d] = QINGMING
    out[date(year, 5, 1)] = LABOUR_DAY
    out[date(year, 5, 2)] = LABOUR_DAY
    if lunar:
        out[lunar[1]] = DRAGON_BOAT
        out[lunar[2]] = MID_AUTUMN
    for day in (1, 2, 3):
        out.setdefault(date(year, 10, day), NATIONAL_DAY)
    return MappingProxyType(dict(sorted(out.items())))


# --------------------------------------------------------------------------- TOML files

_TOP_KEYS = {"year", "source", "published_on", "rest", "workdays"}


def _as_date(value: Any) -> date | None:
    if isinstance(value, date) and not hasattr(value, "hour"):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def parse_year_toml(text: str) -> YearSchedule:
    """Parse and validate a year file; refuse it whole with every reason (``CalendarFileError``)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CalendarFileError([Msg(N_("The file is not valid TOML: {error}"), error=str(exc))]) from exc

    reasons: list[Msg] = []
    for key in sorted(set(data) - _TOP_KEYS):
        reasons.append(
            Msg(
                N_('Unknown entry "{key}" (expected year, source, published_on, [[rest]], [[workdays]]).'),
                key=key,
            )
        )

    year: int | None = None
    raw_year = data.get("year")
    if raw_year is None:
        reasons.append(Msg(N_("The year is missing (year = 2027).")))
    elif not isinstance(raw_year, int) or isinstance(raw_year, bool):
        reasons.append(Msg(N_('The year must be a whole number such as 2027, not "{value}".'), value=raw_year))
    elif not MIN_SANE_YEAR <= raw_year <= MAX_SANE_YEAR:
        reasons.append(
            Msg(
                N_("The year {year} is out of range ({low}-{high})."),
                year=raw_year,
                low=MIN_SANE_YEAR,
                high=MAX_SANE_YEAR,
            )
        )
    else:
        year = raw_year

    source = data.get("source")
    if not isinstance(source, str) or not source.strip():
        reasons.append(Msg(N_("The source (the notice number, e.g. 国办发明电〔2026〕7号) is missing or empty.")))
        source = ""

    published_on: date | None = None
    if "published_on" in data:
        published_on = _as_date(data["published_on"])
        if published_on is None:
            reasons.append(
                Msg(
                    N_('published_on must be a date such as 2026-11-10, not "{value}".'),
                    value=data["published_on"],
                )
            )

    def in_range(d: date) -> bool:
        if year is None:
            return True  # already refused for the year; don't pile up consequential reasons
        first = date(year, 1, 1) - timedelta(days=PREVIOUS_YEAR_GRACE_DAYS)
        return first <= d <= date(year, 12, 31)

    def out_of_year(d: date, where: str) -> Msg:
        return Msg(
            N_("{where}: {date} is outside {year} (only the last {grace} days of the year before are allowed)."),
            where=where,
            date=d.isoformat(),
            year=year,
            grace=PREVIOUS_YEAR_GRACE_DAYS,
        )

    rest: dict[date, str] = {}
    rest_entries = data.get("rest", [])
    if not isinstance(rest_entries, list):
        reasons.append(Msg(N_("Rest days must be written as [[rest]] tables.")))
        rest_entries = []
    for i, entry in enumerate(rest_entries, start=1):
        where = Msg(N_("Rest period {n}"), n=i)
        if not isinstance(entry, dict):
            reasons.append(Msg(N_("{where} is not a table."), where=where))
            continue
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            reasons.append(Msg(N_("{where}: the holiday name is missing or empty."), where=where))
            name = ""
        name = name.strip()
        start, end = _as_date(entry.get("from")), _as_date(entry.get("to"))
        if start is None:
            reasons.append(Msg(N_('{where}: "from" must be a date such as 2027-01-01.'), where=where))
        if end is None:
            reasons.append(Msg(N_('{where}: "to" must be a date such as 2027-01-03.'), where=where))
        if start is None or end is None:
            continue
        if start > end:
            reasons.append(
                Msg(
                    N_("{where}: the start {start} is after the end {end}."),
                    where=where,
                    start=start.isoformat(),
                    end=end.isoformat(),
                )
            )
            continue
        bad = False
        for d in (start, end):
            if not in_range(d):
                reasons.append(out_of_year(d, where))  # type: ignore[arg-type]
                bad = True
        if bad:
            continue
        d = start
        while d <= end:
            if d in rest:
                reasons.append(
                    Msg(
                        N_("{where}: {date} is already listed in another rest period."),
                        where=where,
                        date=d.isoformat(),
                    )
                )
            rest[d] = name
            d += timedelta(days=1)

    makeup: dict[date, str] = {}
    work_entries = data.get("workdays", [])
    if not isinstance(work_entries, list):
        reasons.append(Msg(N_("Make-up working days must be written as [[workdays]] tables.")))
        work_entries = []
    for i, entry in enumerate(work_entries, start=1):
        where = Msg(N_("Make-up working day {n}"), n=i)
        if not isinstance(entry, dict):
            reasons.append(Msg(N_("{where} is not a table."), where=where))
            continue
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            reasons.append(Msg(N_("{where}: the name is missing or empty."), where=where))
            name = ""
        name = name.strip()
        d0 = _as_date(entry.get("date"))
        if d0 is None:
            reasons.append(Msg(N_('{where}: "date" must be a date such as 2027-02-20.'), where=where))
            continue
        if not in_range(d0):
            reasons.append(out_of_year(d0, where))  # type: ignore[arg-type]
            continue
        if d0.weekday() < 5:
            reasons.append(
                Msg(
                    N_("{where}: {date} is a {weekday}; a make-up working day must be a Saturday or Sunday."),
                    where=where,
                    date=d0.isoformat(),
                    weekday=Msg(WEEKDAYS[d0.weekday()]),
                )
            )
        if d0 in makeup:
            reasons.append(Msg(N_("{where}: {date} is listed twice."), where=where, date=d0.isoformat()))
        if d0 in rest:
            reasons.append(
                Msg(
                    N_("{date} is listed both as a rest day and as a make-up working day."),
                    date=d0.isoformat(),
                )
            )
        makeup[d0] = name

    if reasons:
        raise CalendarFileError(reasons)
    assert year is not None and isinstance(source, str)
    return YearSchedule(year, rest, makeup, source.strip(), published_on, ORIGIN_LOADED)


# --------------------------------------------------------------------------- the calendar


class WorkCalendar:
    """Working days per the official schedules; immutable once built (use ``with_year``)."""

    def __init__(self, loaded: Iterable[YearSchedule] = ()) -> None:
        self._loaded: dict[int, YearSchedule] = {}
        for s in loaded:
            self._loaded[s.year] = s
        self._schedules: dict[int, YearSchedule] = {**library_schedules(), **self._loaded}
        self._known = sorted(self._schedules)
        # Precomputed tables, built lazily over [self._lo_year, self._hi_year).
        self._lo_year = 0
        self._hi_year = 0
        self._base = 0  # ordinal of 1 January of _lo_year
        self._end = 0  # ordinal of 1 January of _hi_year
        self._status: bytearray = bytearray()
        self._cum: list[int] = [0]  # _cum[i] = working days among the first i days of the range
        self._work: list[int] = []  # ordinals of the working days, ascending
        self._ucum: list[int] = [0]  # _ucum[i] = days of unknown years among the first i days
        self._names: dict[int, str] = {}

    # -- construction helpers
    def with_year(self, schedule: YearSchedule) -> WorkCalendar:
        """A new calendar with that year's schedule replaced (the library stays underneath)."""
        return WorkCalendar([*(s for y, s in self._loaded.items() if y != schedule.year), schedule])

    @property
    def loaded(self) -> list[YearSchedule]:
        return [self._loaded[y] for y in sorted(self._loaded)]

    def is_known(self, year: int) -> bool:
        return year in self._schedules

    def schedule(self, year: int) -> YearSchedule | None:
        return self._schedules.get(year)

    def known_years(self) -> list[int]:
        return list(self._known)

    # -- table building
    def _build(self, lo_year: int, hi_year: int) -> None:
        lo_year = max(lo_year, 1)
        hi_year = min(hi_year, 10000)
        base = date(lo_year, 1, 1).toordinal()
        end = date(hi_year, 1, 1).toordinal() if hi_year <= 9999 else date.max.toordinal() + 1
        n = end - base
        # ordinary weekday rule; ordinal 1 (0001-01-01) is a Monday, so weekday = (o - 1) % 7
        first_wd = (base - 1) % 7
        week = bytes(WORK if k < 5 else 0 for k in range(7))
        status = bytearray((week[first_wd:] + week[:first_wd]) * (n // 7 + 1))[:n]
        names: dict[int, str] = {}
        schedules = self._schedules
        for y in range(lo_year, hi_year + 1):
            sched = schedules.get(y)
            if y < hi_year and sched is None:
                y0 = date(y, 1, 1).toordinal() - base
                y1 = (date(y + 1, 1, 1).toordinal() if y < 9999 else end) - base
                for i in range(y0, y1):
                    status[i] |= UNKNOWN
                for d, name in provisional_holidays(y).items():
                    i = d.toordinal() - base
                    status[i] = HOLIDAY | UNKNOWN
                    names[i + base] = name
            elif sched is not None:
                for d, name in sched.rest_days.items():
                    i = d.toordinal() - base
                    if 0 <= i < n:
                        status[i] = HOLIDAY | (status[i] & UNKNOWN)
                        names[i + base] = name
                for d in sched.makeup_workdays:
                    i = d.toordinal() - base
                    if 0 <= i < n:
                        status[i] = WORK | (status[i] & UNKNOWN)
                        names.pop(i + base, None)
        work_bits = [s & WORK for s in status]
        self._cum = [0, *accumulate(work_bits)]
        self._work = [base + i for i, w in enumerate(work_bits) if w]
        self._ucum = [0, *accumulate((s & UNKNOWN) >> 2 for s in status)]
        self._status = status
        self._names = names
        self._lo_year, self._hi_year, self._base, self._end = lo_year, hi_year, base, end

    def _ensure(self, lo_ord: int, hi_ord: int) -> None:
        """Make the tables cover ordinals lo_ord..hi_ord inclusive (plus a working day after hi_ord)."""
        if self._base <= lo_ord and hi_ord < self._end and self._cum[hi_ord - self._base + 1] < len(self._work):
            return
        lo_year = date.fromordinal(max(lo_ord, 1)).year
        hi_year = date.fromordinal(min(hi_ord, date.max.toordinal())).year
        if self._hi_year:  # grow, never shrink
            lo_year = min(lo_year, self._lo_year)
            hi_year = max(hi_year, self._hi_year)
        else:
            lo_year = min(lo_year, self._known[0] - 2 if self._known else lo_year)
            hi_year = max(hi_year, (self._known[-1] if self._known else hi_year) + 15)
        self._build(lo_year - 1, hi_year + 2)
        if not (self._base <= lo_ord and hi_ord < self._end):
            raise OverflowError("date out of the supported range")

    def _ensure_working_index(self, idx: int) -> None:
        """Grow the range until the idx-th working day (0-based) of the range exists."""
        while idx >= len(self._work):
            if self._hi_year >= 10000:
                raise OverflowError("date out of the supported range")
            span = max(self._hi_year - self._lo_year, 10)
            self._build(self._lo_year, min(self._hi_year + span, 10000))

    def _idx(self, d: date) -> int:
        o = d.toordinal()
        if not self._base <= o < self._end:
            self._ensure(o, o)
        return o - self._base

    # -- single days
    def is_working_day(self, d: date) -> bool:
        i = self._idx(d)
        return bool(self._status[i] & WORK)

    def is_rest_day(self, d: date) -> bool:
        i = self._idx(d)
        return not self._status[i] & WORK

    def is_statutory_holiday(self, d: date) -> bool:
        i = self._idx(d)
        return bool(self._status[i] & HOLIDAY)

    def holiday_name(self, d: date) -> str | None:
        i = self._idx(d)
        if self._status[i] & HOLIDAY:
            return self._names.get(i + self._base)
        return None

    def is_guessed(self, d: date) -> bool:
        """True when the day's year has no published schedule (its status is a best guess)."""
        i = self._idx(d)
        return bool(self._status[i] & UNKNOWN)

    # -- counting
    def next_working_day(self, d: date) -> date:
        """First working day strictly after d."""
        i = self._idx(d)
        k = self._cum[i + 1]
        self._ensure_working_index(k)
        return date.fromordinal(self._work[k])

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after start; for n == 0, start itself if working else the next one."""
        if n < 0:
            raise ValueError("n must be >= 0")
        i = self._idx(start)
        k = self._cum[i] + n if n == 0 else self._cum[i + 1] + n - 1
        self._ensure_working_index(k)
        return date.fromordinal(self._work[k])

    def working_days_between(self, start: date, end: date) -> int:
        """Number of working days d with start < d <= end (0 if end <= start)."""
        if end <= start:
            return 0
        self._idx(start)
        self._idx(end)  # may grow the range: read the base only afterwards
        base = self._base
        return self._cum[end.toordinal() - base + 1] - self._cum[start.toordinal() - base + 1]

    def unknown_years_between(self, first: date, last: date) -> list[int]:
        """Years without a published schedule touched by the days first..last (inclusive)."""
        return [y for y in range(first.year, last.year + 1) if y not in self._schedules]

    # -- the engine's hot path (used by bot.periods.compute_deadline)
    def _shift(self, o: int, strict: bool) -> tuple[int, bool]:
        """Art. 203 on the last day (ordinal o): (final ordinal, provisional)."""
        i = o - self._base
        if i < 0 or o >= self._end:
            self._ensure(o, o)
            i = o - self._base
        s = self._status[i]
        if (s & HOLIDAY) if strict else not (s & WORK):
            k = self._cum[i + 1]
            if k >= len(self._work):
                self._ensure_working_index(k)
            o2 = self._work[k]
            return o2, self._ucum[o2 - self._base + 1] != self._ucum[i]
        return o, bool(s & UNKNOWN)

    def _working_after(self, o: int, n: int) -> tuple[int, bool]:
        """The n-th (n >= 1) working day after ordinal o: (ordinal, provisional)."""
        i = o - self._base
        if i < 0 or o >= self._end:
            self._ensure(o, o)
            i = o - self._base
        k = self._cum[i + 1] + n - 1
        if k >= len(self._work):
            self._ensure_working_index(k)
        o2 = self._work[k]
        return o2, self._ucum[o2 - self._base + 1] != self._ucum[i + 1]
