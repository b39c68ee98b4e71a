"""Worked deadline cases, each reasoned from the State Council schedule (not from the engine).

Schedules used (rest blocks / make-up working days, from the official notices):
2015 劳动节 05-01 (Fri) only.
2020 no holiday between 11-27 and 12-08.
2021 中秋 09-19..21, make-up Sat 09-18.
2023 清明 04-05 (Wed); 端午 06-22..24, make-up Sun 06-25.
2024 春节 02-10..17, make-up Sun 02-04 and Sun 02-18; 清明 04-04..06, make-up Sun 04-07;
     端午 06-10 (Mon); 中秋 09-15..17, make-up Sat 09-14.
2025 春节 01-28..02-04, make-up Sun 01-26 / Sat 02-08; 劳动节 05-01..05, make-up Sun 04-27;
     国庆+中秋 10-01..08, make-up Sun 09-28 / Sat 10-11.
2026 元旦 01-01..03, make-up Sun 01-04; 春节 02-15..23, make-up Sat 02-14 / Sat 02-28;
     清明 04-04..06; 劳动节 05-01..05, make-up Sat 05-09; 端午 06-19..21; 中秋 09-25..27,
     make-up Sun 09-20; 国庆 10-01..07, make-up Sat 10-10.
2027 not in the library: unknown, guessed (元旦 01-01, 春节 除夕 02-05 + 02-06..08, ...).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.i18n import translator_for_locale
from bot.periods import (
    RULES,
    DateInputError,
    Deadline,
    Period,
    PeriodError,
    Unit,
    compute_deadline,
    due_end,
    parse_date,
)
from bot.workcalendar import WorkCalendar, YearSchedule, parse_year_toml
from tests.calendar_samples import SAMPLE_2027

D = date
CAL = WorkCalendar()



def dl(start: date, period: str, *, strict: bool = False, cal: WorkCalendar = CAL) -> Deadline:
    return compute_deadline(start, Period.parse(period), cal, strict=strict)


# (start, period, strict, expected due, expected moved_from, reasoning)
CASES = [
    # ---- the three worked examples of the spec
    (
        D(2025, 12, 31),
        "2m",
        False,
        D(2026, 2, 28),
        None,
        "corresponding day 02-31 missing -> 02-28, a Saturday but a 春节 make-up day: no shift",
    ),
    (
        D(2020, 11, 27),
        "7wd",
        False,
        D(2020, 12, 8),
        None,
        "11-30,12-01,02,03,04 (5), skip weekend 05/06, 12-07 (6), 12-08 (7)",
    ),
    (
        D(2026, 2, 12),
        "7d",
        False,
        D(2026, 2, 24),
        D(2026, 2, 19),
        "02-19 is in 春节 02-15..23 -> next working day 02-24",
    ),
    # ---- Spring Festival
    (D(2026, 1, 15), "1m", False, D(2026, 2, 24), D(2026, 2, 15), "02-15 first day of 春节 -> 02-24"),
    (
        D(2026, 1, 15),
        "1m",
        True,
        D(2026, 2, 24),
        D(2026, 2, 15),
        "02-15 is a statutory holiday: strict moves too",
    ),
    (D(2026, 2, 13), "1wd", False, D(2026, 2, 14), None, "Sat 02-14 is a make-up day and counts"),
    (D(2026, 2, 13), "2wd", False, D(2026, 2, 24), None, "02-14 (1), 02-15..23 rest, 02-24 (2)"),
    (D(2025, 1, 27), "3wd", False, D(2025, 2, 7), None, "01-28..02-04 rest; 02-05, 06, 07"),
    (D(2025, 1, 25), "1wd", False, D(2025, 1, 26), None, "Sun 01-26 is a make-up day"),
    (
        D(2024, 1, 10),
        "1m",
        False,
        D(2024, 2, 18),
        D(2024, 2, 10),
        "Sat 02-10 in 春节 02-10..17; Sun 02-18 is a make-up day, so the period ends on a Sunday",
    ),
    # ---- Qingming
    (D(2026, 3, 4), "1m", False, D(2026, 4, 7), D(2026, 4, 4), "清明 04-04..06 -> Tue 04-07"),
    (D(2023, 3, 5), "1m", False, D(2023, 4, 6), D(2023, 4, 5), "清明 single day Wed 04-05 -> Thu 04-06"),
    (
        D(2024, 4, 3),
        "2wd",
        False,
        D(2024, 4, 8),
        None,
        "04-04..06 rest; Sun 04-07 make-up (1); Mon 04-08 (2)",
    ),
    # ---- Labour Day
    (D(2026, 4, 1), "1m", False, D(2026, 5, 6), D(2026, 5, 1), "劳动节 05-01..05 -> Wed 05-06"),
    (D(2026, 4, 30), "9d", False, D(2026, 5, 9), None, "Sat 05-09 is a make-up day: no shift"),
    (
        D(2025, 4, 25),
        "2wd",
        False,
        D(2025, 4, 28),
        None,
        "Sat 04-26 rest; Sun 04-27 make-up (1); Mon 04-28 (2)",
    ),
    (D(2015, 4, 1), "1m", False, D(2015, 5, 4), D(2015, 5, 1), "Fri 05-01 holiday, then a plain weekend"),
    (
        D(2015, 4, 1),
        "1m",
        True,
        D(2015, 5, 4),
        D(2015, 5, 1),
        "strict: 05-01 is a statutory holiday, moved to the next working day (Mon 05-04)",
    ),
    # ---- Dragon Boat
    (D(2026, 6, 12), "7d", False, D(2026, 6, 22), D(2026, 6, 19), "端午 06-19..21 -> Mon 06-22"),
    (
        D(2023, 6, 21),
        "3wd",
        False,
        D(2023, 6, 27),
        None,
        "06-22..24 rest; Sun 06-25 make-up (1); 26 (2); 27 (3)",
    ),
    (D(2024, 5, 10), "1m", True, D(2024, 6, 11), D(2024, 6, 10), "端午 Mon 06-10 -> Tue 06-11"),
    # ---- Mid-Autumn
    (D(2024, 8, 15), "1m", False, D(2024, 9, 18), D(2024, 9, 15), "中秋 09-15..17 -> Wed 09-18"),
    (D(2024, 9, 13), "1wd", False, D(2024, 9, 14), None, "Sat 09-14 is a make-up day"),
    (D(2021, 9, 17), "2wd", False, D(2021, 9, 22), None, "Sat 09-18 make-up (1); 09-19..21 rest; 09-22 (2)"),
    (
        D(2026, 9, 20),
        "5d",
        True,
        D(2026, 9, 28),
        D(2026, 9, 25),
        "中秋 Fri 09-25..27 -> Mon 09-28 (strict too)",
    ),
    # ---- National Day
    (D(2026, 9, 30), "3d", False, D(2026, 10, 8), D(2026, 10, 3), "国庆 10-01..07 -> Thu 10-08"),
    (D(2026, 9, 30), "1wd", False, D(2026, 10, 8), None, "10-01..07 rest -> 10-08"),
    (D(2026, 9, 30), "3wd", False, D(2026, 10, 10), None, "10-08 (1), 10-09 (2), Sat 10-10 make-up (3)"),
    (D(2025, 9, 26), "1wd", False, D(2025, 9, 28), None, "Sat 09-27 rest; Sun 09-28 make-up"),
    (D(2025, 9, 8), "1m", False, D(2025, 10, 9), D(2025, 10, 8), "10-08 last day of 国庆+中秋 -> Thu 10-09"),
    # ---- plain weekends and make-up weekends, strict vs broad
    (D(2026, 2, 7), "1m", False, D(2026, 3, 9), D(2026, 3, 7), "Sat 03-07 plain weekend -> Mon 03-09"),
    (D(2026, 2, 7), "1m", True, D(2026, 3, 7), None, "strict: a plain Saturday is not a statutory holiday"),
    (D(2026, 2, 21), "7d", False, D(2026, 2, 28), None, "Sat 02-28 make-up day: no shift"),
    (D(2026, 9, 13), "7d", True, D(2026, 9, 20), None, "Sun 09-20 make-up day: no shift"),
    (D(2026, 3, 6), "1d", True, D(2026, 3, 7), None, "strict: Sat 03-07 stays"),
    (D(2026, 3, 6), "1d", False, D(2026, 3, 9), D(2026, 3, 7), "broad: Sat 03-07 -> Mon 03-09"),
    # ---- month ends
    (D(2026, 1, 31), "1m", False, D(2026, 2, 28), None, "no 02-31 -> 02-28, a make-up Saturday"),
    (D(2026, 3, 31), "1m", False, D(2026, 4, 30), None, "no 04-31 -> Thu 04-30"),
    (D(2025, 1, 31), "1m", False, D(2025, 2, 28), None, "no 02-31 -> Fri 02-28"),
    (D(2026, 5, 31), "1m", False, D(2026, 6, 30), None, "no 06-31 -> Tue 06-30"),
    (D(2026, 8, 31), "1m", False, D(2026, 9, 30), None, "no 09-31 -> Wed 09-30"),
    # ---- leap years
    (D(2023, 12, 29), "2m", False, D(2024, 2, 29), None, "2024 is leap: 02-29, a Thursday"),
    (D(2024, 1, 31), "1m", False, D(2024, 2, 29), None, "no 02-31 in 2024 -> Thu 02-29"),
    (D(2024, 2, 29), "1m", False, D(2024, 3, 29), None, "corresponding day exists: Fri 03-29"),
    (D(2024, 2, 29), "12m", False, D(2025, 2, 28), None, "no 2025-02-29 -> Fri 02-28"),
    (D(2024, 2, 29), "1年", False, D(2025, 2, 28), None, "a year is 12 months"),
    (D(2024, 2, 28), "1d", False, D(2024, 2, 29), None, "leap day, a Thursday"),
]


@pytest.mark.parametrize(("start", "period", "strict", "due", "moved_from", "why"), CASES)
def test_worked_cases(start, period, strict, due, moved_from, why):
    d = dl(start, period, strict=strict)
    assert (d.due, d.moved_from) == (due, moved_from), why
    assert d.provisional is False
    assert d.rule in RULES


def test_leap_day_saturday_is_shifted_broad():
    # 2019-12-31 + 2m -> 2020-02-29 (no 02-31), a Saturday that is not a make-up day -> Mon 03-02
    d = dl(D(2019, 12, 31), "2m")
    assert d.due == D(2020, 3, 2)
    assert d.moved_from == D(2020, 2, 29)
    assert d.rule == "months+shift:broad"
    assert dl(D(2019, 12, 31), "2m", strict=True).due == D(2020, 2, 29)


def test_month_end_into_weekend():
    # 2025-11-30 + 3m -> no 2026-02-30 -> 02-28, the make-up Saturday: no shift
    d = dl(D(2025, 11, 30), "3m")
    assert (d.due, d.moved_from, d.rule) == (D(2026, 2, 28), None, "months")


def test_rule_codes():
    assert dl(D(2026, 3, 31), "1m").rule == "months"
    assert dl(D(2026, 2, 7), "1m").rule == "months+shift:broad"
    assert dl(D(2026, 1, 15), "1m", strict=True).rule == "months+shift:strict"
    assert dl(D(2026, 3, 2), "2d").rule == "days"
    assert dl(D(2026, 2, 12), "7d").rule == "days+shift:broad"
    assert dl(D(2026, 2, 12), "7d", strict=True).rule == "days+shift:strict"
    assert dl(D(2020, 11, 27), "7wd").rule == "working_days"
    assert dl(D(2020, 11, 27), "7wd", strict=True).rule == "working_days"


# ---------------------------------------------------------------- 2026 -> 2027 boundary

CAL_2027 = CAL.with_year(parse_year_toml(SAMPLE_2027))


def test_into_unknown_year_is_provisional():
    # 2027-01-28 is a Thursday, not a guessed holiday; but 2027 has no published schedule
    d = dl(D(2026, 11, 28), "2m")
    assert (d.due, d.moved_from, d.provisional) == (D(2027, 1, 28), None, True)
    assert d.unknown_years == (2027,)


def test_after_loading_2027_not_provisional():
    d = dl(D(2026, 11, 28), "2m", cal=CAL_2027)
    assert (d.due, d.provisional, d.unknown_years) == (D(2027, 1, 28), False, ())


def test_guess_new_year_then_loaded():
    # 2026-12-30 + 2d = Fri 2027-01-01: guessed 元旦; Sat/Sun follow -> Mon 01-04, provisional
    d = dl(D(2026, 12, 30), "2d")
    assert (d.due, d.moved_from, d.provisional) == (D(2027, 1, 4), D(2027, 1, 1), True)
    # the notice makes 01-01..03 rest days: same day, no longer provisional
    d = dl(D(2026, 12, 30), "2d", cal=CAL_2027)
    assert (d.due, d.moved_from, d.provisional) == (D(2027, 1, 4), D(2027, 1, 1), False)


def test_working_days_across_new_year():
    # 12-25 (1), 12-28 (2), 29 (3), 30 (4), Thu 12-31 (5): all in 2026 -> not provisional
    d = dl(D(2026, 12, 24), "5wd")
    assert (d.due, d.provisional) == (D(2026, 12, 31), False)
    # the 6th lands in 2027: Fri 01-01 guessed 元旦, weekend -> Mon 01-04, provisional
    d = dl(D(2026, 12, 24), "6wd")
    assert (d.due, d.provisional) == (D(2027, 1, 4), True)
    d = dl(D(2026, 12, 24), "6wd", cal=CAL_2027)
    assert (d.due, d.provisional) == (D(2027, 1, 4), False)


def test_shift_scan_into_unknown_year_is_provisional():
    # Sat 2026-12-26 -> scan 12-27 (Sun), Mon 12-28: only 2026 days inspected -> not provisional
    d = dl(D(2026, 12, 25), "1d")
    assert (d.due, d.provisional) == (D(2026, 12, 28), False)
    # a 2026 schedule that (hypothetically) makes Thu 12-31 a rest day: the last day is in 2026,
    # but the art. 203 scan walks through 2027-01-01 (guessed 元旦), 01-02/03 (weekend) to Mon
    # 01-04, all in the unknown 2027 -> provisional
    lib = CAL.schedule(2026)
    assert lib is not None
    custom = YearSchedule(2026, {**lib.rest_days, D(2026, 12, 31): "元旦"}, lib.makeup_workdays, "test", None, "loaded")
    d = dl(D(2026, 12, 30), "1d", cal=CAL.with_year(custom))
    assert (d.due, d.moved_from, d.provisional, d.unknown_years) == (
        D(2027, 1, 4),
        D(2026, 12, 31),
        True,
        (2027,),
    )


def test_spring_festival_2027_guess_vs_notice():
    # guess: 除夕 Fri 2027-02-05 is a rest day; 02-06 Sat, 07 Sun (初一, 初二), 08 Mon (初三) -> Tue 02-09
    d = dl(D(2027, 1, 5), "1m")
    assert (d.due, d.moved_from, d.provisional) == (D(2027, 2, 9), D(2027, 2, 5), True)
    # the sample notice starts 春节 on 02-06: Fri 02-05 is a working day, no shift
    d = dl(D(2027, 1, 5), "1m", cal=CAL_2027)
    assert (d.due, d.moved_from, d.provisional) == (D(2027, 2, 5), None, False)


def test_start_in_unknown_year_not_inspected():
    # start day is not counted (art. 201): a start in 2003 (unknown) with the period inside 2004
    # inspects only 2004 days. 2003-12-31 + 2wd: 01-01 元旦 rest, 01-02 Fri (1), 01-05 Mon (2)
    d = dl(D(2003, 12, 31), "2wd")
    assert (d.due, d.provisional) == (D(2004, 1, 5), False)


# ---------------------------------------------------------------- Period parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2m", Period(2, Unit.MONTHS)),
        ("10wd", Period(10, Unit.WORKING_DAYS)),
        ("15d", Period(15, Unit.DAYS)),
        ("2个月", Period(2, Unit.MONTHS)),
        ("两个月", Period(2, Unit.MONTHS)),
        ("10个工作日", Period(10, Unit.WORKING_DAYS)),
        ("七个工作日", Period(7, Unit.WORKING_DAYS)),
        ("15日", Period(15, Unit.DAYS)),
        ("15天", Period(15, Unit.DAYS)),
        ("十五日内", Period(15, Unit.DAYS)),
        ("1个自然月", Period(1, Unit.MONTHS)),
        ("一个月", Period(1, Unit.MONTHS)),
        ("1年", Period(12, Unit.MONTHS)),
        ("2y", Period(24, Unit.MONTHS)),
        ("2周", Period(14, Unit.DAYS)),
        ("三十天", Period(30, Unit.DAYS)),
        ("二十一日", Period(21, Unit.DAYS)),
        ("一百二十天", Period(120, Unit.DAYS)),
        ("一百零五天", Period(105, Unit.DAYS)),
        ("十二个月", Period(12, Unit.MONTHS)),
        (" 10 WD ", Period(10, Unit.WORKING_DAYS)),
        ("１０个工作日", Period(10, Unit.WORKING_DAYS)),
        ("3 months", Period(3, Unit.MONTHS)),
        ("5 working days", Period(5, Unit.WORKING_DAYS)),
    ],
)
def test_period_parse(text, expected):
    assert Period.parse(text) == expected


@pytest.mark.parametrize("text", ["2月", "1月", "两月", "十二月", "2月内"])
def test_a_month_name_is_not_a_period(text):
    """2月 is February to the people who type it: refused with the hint, never read as 2 months."""
    with pytest.raises(PeriodError) as ei:
        Period.parse(text)
    assert "个月吗" in ei.value.render(translator_for_locale("zh_CN"))


def test_the_month_name_hint_names_the_number():
    with pytest.raises(PeriodError) as ei:
        Period.parse("2月")
    assert ei.value.render(translator_for_locale("zh_CN")) == "“2月”是月份，不是期限。您是指2个月吗？"


@pytest.mark.parametrize("text", ["", "abc", "2", "m2", "2x", "0d", "0个月", "十十天", "-3d", "2.5m", "99999wd"])
def test_period_parse_rejects(text):
    with pytest.raises(PeriodError) as ei:
        Period.parse(text)
    assert isinstance(ei.value, ValueError)
    zh = ei.value.render(translator_for_locale("zh_CN"))
    assert zh


def test_period_str_roundtrip():
    for text in ["2m", "10wd", "15d", "1m", "365d"]:
        assert str(Period.parse(text)) == text
        assert Period.parse(str(Period.parse(text))) == Period.parse(text)


def test_period_describe_english():
    t = translator_for_locale("en")
    assert Period(1, Unit.MONTHS).describe(t) == "1 month"
    assert Period(7, Unit.WORKING_DAYS).describe(t) == "7 working days"


# ---------------------------------------------------------------- dates


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-05",
        "2026/3/5",
        "2026年3月5日",
        "2026.3.5",
        "2026年03月05号",
        "20260305",
        " 2026-3-5 ",
        "２０２６－０３－０５",
    ],
)
def test_parse_date(text):
    assert parse_date(text) == D(2026, 3, 5)


@pytest.mark.parametrize("text", ["", "2026-02-30", "2026-13-01", "3/5/2026", "明天", "2026-03", "1800-01-01"])
def test_parse_date_rejects(text):
    with pytest.raises(DateInputError) as ei:
        parse_date(text)
    assert isinstance(ei.value, ValueError)
    assert ei.value.msgid and ei.value.render(translator_for_locale("zh_CN"))


def test_due_end_is_midnight_after():
    tz = ZoneInfo("Asia/Shanghai")
    end = due_end(D(2026, 2, 28), tz)
    assert end == datetime(2026, 3, 1, 0, 0, tzinfo=tz)
    assert end.utcoffset() == timedelta(hours=8)
    # 24:00 Beijing is 16:00 UTC on the due day itself
    assert end.astimezone(ZoneInfo("UTC")) == datetime(2026, 2, 28, 16, 0, tzinfo=ZoneInfo("UTC"))
    d = dl(D(2025, 12, 31), "2m")
    assert d.due_end(tz) == end


def test_datetime_start_is_accepted_as_date():
    d = compute_deadline(datetime(2020, 11, 27, 15, 30), Period.parse("7wd"), CAL)
    assert d.due == D(2020, 12, 8)
    assert type(d.start) is date
