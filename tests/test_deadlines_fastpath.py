"""compute_deadline's table lookup against a naive day loop over the same calendar (issue 14).

`compute_deadline` answers most deadlines with two or three list indexings in the calendar's
tables and falls back to `_compute_deadline` for everything else. These seeded random pairs check
both against a loop written from the rules, one day at a time, on the calendar's own day status:
published years (holidays, 调休 make-up working days), a loaded year, years without a schedule
(provisional), month ends (31 Jan + 1 month), leap years, both readings of art. 203.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import pytest

from bot.periods import Deadline, Period, PeriodError, Unit, _compute_deadline, compute_deadline
from bot.workcalendar import WorkCalendar, YearSchedule

ONE = timedelta(days=1)
SEED = 20261202


def _loaded_2027() -> YearSchedule:
    """A made-up 2027 notice: a holiday block over a weekday and a make-up Saturday (2027-02-20)."""
    rest = {date(2027, 2, 5) + timedelta(days=k): "春节" for k in range(9)}
    return YearSchedule(2027, rest, {date(2027, 2, 20): "春节补班"}, "测试通知", None, "loaded")


CALENDARS = {"library": WorkCalendar(), "loaded-2027": WorkCalendar([_loaded_2027()])}


def naive(start: date, period: Period, cal: WorkCalendar, strict: bool) -> Deadline:
    """The rules, one day at a time, on the calendar's own answers for single days."""
    n = period.amount
    if period.unit is Unit.WORKING_DAYS:
        d, counted, guessed = start, 0, False
        while counted < n:
            d += ONE
            guessed = guessed or cal.is_guessed(d)
            counted += cal.is_working_day(d)
        years = tuple(cal.unknown_years_between(start + ONE, d)) if guessed else ()
        return Deadline(start, period, d, guessed, None, "working_days", years)
    if period.unit is Unit.MONTHS:
        y, m = divmod(start.year * 12 + start.month - 1 + n, 12)
        day = start.day
        while True:
            try:
                raw = date(y, m + 1, day)
                break
            except ValueError:  # no such day in the final month: its last day (art. 202)
                day -= 1
        name = "months"
    else:
        raw, name = start + timedelta(days=n), "days"
    moves = cal.is_statutory_holiday(raw) if strict else not cal.is_working_day(raw)
    due = raw
    if moves:
        due += ONE
        while not cal.is_working_day(due):
            due += ONE
    guessed = any(cal.is_guessed(raw + timedelta(days=k)) for k in range((due - raw).days + 1))
    years = tuple(cal.unknown_years_between(raw, due)) if guessed else ()
    rule = f"{name}+shift:{'strict' if strict else 'broad'}" if moves else name
    return Deadline(start, period, due, guessed, raw if moves else None, rule, years)


def random_pairs(rng: random.Random, n: int, first: date, last: date) -> list[tuple[date, Period]]:
    lo, hi = first.toordinal(), last.toordinal()
    out = []
    for _ in range(n):
        unit = rng.choice(list(Unit))
        amount = rng.randint(1, {Unit.MONTHS: 24, Unit.DAYS: 120, Unit.WORKING_DAYS: 90}[unit])
        out.append((date.fromordinal(rng.randint(lo, hi)), Period(amount, unit)))
    return out


def month_ends() -> list[tuple[date, Period]]:
    """31 Jan + 1 month (28 or 29 Feb), 29 Feb + 12 months, every 29th-31st with 1-13 months."""
    out = []
    for y in (2004, 2015, 2019, 2020, 2023, 2024, 2026, 2027, 2028):
        for m in range(1, 13):
            for day in (28, 29, 30, 31):
                try:
                    start = date(y, m, day)
                except ValueError:
                    continue
                out += [(start, Period(k, Unit.MONTHS)) for k in (1, 2, 3, 6, 11, 12, 13)]
    return out


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("name", sorted(CALENDARS))
def test_random_pairs_agree_with_the_day_loop_and_the_general_path(name: str, strict: bool) -> None:
    cal = CALENDARS[name]
    rng = random.Random(f"{SEED}-{name}-{strict}")
    # 2004-2026: published years; 2026-2031: the end of the library's data, then unknown years.
    pairs = [*random_pairs(rng, 3000, date(2004, 1, 1), date(2026, 12, 31)),
             *random_pairs(rng, 1500, date(2026, 6, 1), date(2031, 12, 31)), *month_ends()]
    provisional = shifted = 0
    for start, period in pairs:
        got = compute_deadline(start, period, cal, strict=strict)
        assert got == naive(start, period, cal, strict), (start, period)
        assert got == _compute_deadline(start, period, cal, strict=strict), (start, period)
        provisional += got.provisional
        shifted += got.moved_from is not None
    assert provisional > 100 and shifted > 100  # both kinds were really exercised


def test_leap_years_and_make_up_days() -> None:
    cal = CALENDARS["library"]
    assert compute_deadline(date(2024, 1, 31), Period(1, Unit.MONTHS), cal).due == date(2024, 2, 29)
    d = compute_deadline(date(2023, 1, 31), Period(1, Unit.MONTHS), cal)
    assert (d.due, d.moved_from) == (date(2023, 2, 28), None)  # a Tuesday
    # 2024-02-04 (Sunday) was a make-up working day for 春节: one working day after Saturday 2-3.
    assert compute_deadline(date(2024, 2, 3), Period(1, Unit.WORKING_DAYS), cal).due == date(2024, 2, 4)
    # A month period ending on 2024-10-01 (国庆) moves to the first working day after the holiday.
    d = compute_deadline(date(2024, 9, 1), Period(1, Unit.MONTHS), cal)
    assert (d.due, d.moved_from, d.rule) == (date(2024, 10, 8), date(2024, 10, 1), "months+shift:broad")
    loaded = CALENDARS["loaded-2027"]
    d = compute_deadline(date(2027, 2, 19), Period(1, Unit.WORKING_DAYS), loaded)
    assert (d.due, d.provisional) == (date(2027, 2, 20), False)  # the loaded make-up Saturday counts


def test_a_fresh_calendar_and_a_datetime_take_the_general_path_with_the_same_answer() -> None:
    start, period = date(2025, 12, 31), Period(3, Unit.WORKING_DAYS)
    expected = compute_deadline(start, period, WorkCalendar())  # tables not built yet: the general path
    assert compute_deadline(start, period, CALENDARS["library"]) == expected
    at = datetime(2025, 12, 31, 9, 30)
    assert compute_deadline(at, period, CALENDARS["library"]) == expected


def test_out_of_range_dates_fail_as_before() -> None:
    cal = WorkCalendar()  # its own: the tables grow to year 9999 on the way
    for start, period in [(date(9999, 6, 1), Period(12, Unit.MONTHS)), (date(9999, 12, 1), Period(90, Unit.DAYS)),
                          (date(9999, 12, 1), Period(60, Unit.WORKING_DAYS))]:
        with pytest.raises(PeriodError) as fast:
            compute_deadline(start, period, cal)
        with pytest.raises(PeriodError) as general:
            _compute_deadline(start, period, cal)
        assert str(fast.value) == str(general.value)
