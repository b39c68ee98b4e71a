"""Property tests: the engine against a deliberately naive day-by-day reference.

The reference is written straight from the rules on chinese_calendar's public functions
(is_workday / is_holiday / get_holiday_detail), one day at a time, with no shared code.
Starts and dues stay inside the library's data (2004-2026).
"""

from __future__ import annotations

import calendar as pycal
from datetime import date, timedelta

import chinese_calendar as cc
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.periods import Period, Unit, compute_deadline
from bot.workcalendar import WorkCalendar

CAL = WorkCalendar()
ONE = timedelta(days=1)
FIRST = date(2004, 1, 1)
LAST_START = date(2025, 12, 31)

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

starts = st.dates(min_value=FIRST, max_value=LAST_START)


def ref_statutory_holiday(d: date) -> bool:
    """A day named as a holiday in the schedule: a rest day with a holiday name."""
    rest, name = cc.get_holiday_detail(d)
    return rest and name is not None


def ref_next_working(d: date) -> date:
    d += ONE
    while cc.is_holiday(d):
        d += ONE
    return d


def ref_months(start: date, n: int) -> date:
    month_index = start.year * 12 + (start.month - 1) + n
    y, m = divmod(month_index, 12)
    last = pycal.monthrange(y, m + 1)[1]
    return date(y, m + 1, min(start.day, last))


def ref_shift(d: date, strict: bool) -> tuple[date, date | None]:
    moves = ref_statutory_holiday(d) if strict else not cc.is_workday(d)
    if moves:
        return ref_next_working(d), d
    return d, None


def ref_working_days(start: date, n: int) -> date:
    d, counted = start, 0
    while counted < n:
        d += ONE
        if cc.is_workday(d):
            counted += 1
    return d


def _check(start: date, period: Period, expected: tuple[date, date | None], strict: bool) -> None:
    got = compute_deadline(start, period, CAL, strict=strict)
    assert (got.due, got.moved_from) == expected, (start, str(period), strict)
    assert got.provisional is False
    assert got.start == start and got.period == period


@SETTINGS
@given(start=starts, n=st.integers(1, 12), strict=st.booleans())
def test_months_match_reference(start: date, n: int, strict: bool) -> None:
    raw = ref_months(start, n)
    try:
        expected = ref_shift(raw, strict)
    except NotImplementedError:
        assume(False)
    _check(start, Period(n, Unit.MONTHS), expected, strict)


@SETTINGS
@given(start=starts, n=st.integers(1, 370), strict=st.booleans())
def test_days_match_reference(start: date, n: int, strict: bool) -> None:
    raw = start
    for _ in range(n):
        raw += ONE
    try:
        expected = ref_shift(raw, strict)
    except NotImplementedError:
        assume(False)
    _check(start, Period(n, Unit.DAYS), expected, strict)


@SETTINGS
@given(start=starts, n=st.integers(1, 250))
def test_working_days_match_reference(start: date, n: int) -> None:
    try:
        expected = ref_working_days(start, n)
    except NotImplementedError:
        assume(False)
    _check(start, Period(n, Unit.WORKING_DAYS), (expected, None), False)


@SETTINGS
@given(d=st.dates(min_value=FIRST, max_value=date(2026, 12, 31)))
def test_single_days_match_reference(d: date) -> None:
    assert CAL.is_working_day(d) == cc.is_workday(d)
    assert CAL.is_rest_day(d) == cc.is_holiday(d)
    assert CAL.is_statutory_holiday(d) == ref_statutory_holiday(d)


# ---- internal consistency, any year (including unknown ones)

any_dates = st.dates(min_value=date(1990, 1, 1), max_value=date(2060, 12, 31))


@settings(max_examples=300, deadline=None)
@given(start=any_dates, n=st.integers(0, 400))
def test_add_and_count_are_inverse(start: date, n: int) -> None:
    due = CAL.add_working_days(start, n)
    assert CAL.is_working_day(due)
    if n == 0:
        assert due >= start
        assert CAL.working_days_between(start, due) == (0 if due == start else 1)
    else:
        assert CAL.working_days_between(start, due) == n
        assert CAL.working_days_between(start, due - ONE) == n - 1


@settings(max_examples=300, deadline=None)
@given(start=any_dates, n=st.integers(1, 24), unit=st.sampled_from(list(Unit)), strict=st.booleans())
def test_deadline_invariants(start: date, n: int, unit: Unit, strict: bool) -> None:
    d = compute_deadline(start, Period(n, unit), CAL, strict=strict)
    assert d.due > start
    if d.moved_from is not None:
        assert d.moved_from < d.due and CAL.is_working_day(d.due)
        assert all(not CAL.is_working_day(d.moved_from + k * ONE) for k in range((d.due - d.moved_from).days))
    if unit is Unit.WORKING_DAYS or (d.moved_from is None and not strict and unit is not Unit.WORKING_DAYS):
        assert CAL.is_working_day(d.due)
    first = start + ONE if unit is Unit.WORKING_DAYS else (d.moved_from or d.due)
    touched = {y for y in range(first.year, d.due.year + 1)}
    assert d.provisional == any(not CAL.is_known(y) for y in touched)
    assert set(d.unknown_years) == {y for y in touched if not CAL.is_known(y)}
