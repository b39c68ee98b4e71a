"""WorkCalendar: library data, loaded years, guesses for unknown years, TOML year files."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.i18n import translator_for_locale
from bot.workcalendar import (
    LUNAR_FESTIVALS,
    CalendarFileError,
    WorkCalendar,
    YearSchedule,
    library_schedules,
    parse_year_toml,
    provisional_holidays,
)
from tests.calendar_samples import SAMPLE_2027

D = date
CAL = WorkCalendar()


# ---------------------------------------------------------------- library years


def test_library_years_known():
    years = CAL.known_years()
    assert years[0] == 2004 and years[-1] >= 2026
    assert all(CAL.is_known(y) for y in range(2004, 2027))
    assert not CAL.is_known(2003) and not CAL.is_known(2027)
    s = CAL.schedule(2026)
    assert s is not None and s.origin == "library" and s.source.startswith("chinesecalendar")
    assert CAL.schedule(2027) is None


def test_library_days_2026():
    assert CAL.is_working_day(D(2026, 2, 14))  # Sat, 春节 make-up
    assert CAL.is_working_day(D(2026, 2, 28))  # Sat, 春节 make-up
    assert CAL.is_rest_day(D(2026, 2, 15)) and CAL.is_statutory_holiday(D(2026, 2, 15))
    assert CAL.holiday_name(D(2026, 2, 17)) == "春节"
    assert CAL.holiday_name(D(2026, 10, 1)) == "国庆节"
    assert CAL.is_rest_day(D(2026, 3, 7)) and not CAL.is_statutory_holiday(D(2026, 3, 7))  # plain Sat
    assert CAL.holiday_name(D(2026, 3, 7)) is None
    assert CAL.is_working_day(D(2026, 3, 9))
    assert CAL.schedule(2026).makeup_workdays[D(2026, 2, 14)] == "春节补班"


def test_new_year_in_december_belongs_to_next_year():
    # 2023-12-30/31 are 2024's New Year holidays; 2018-12-29 was a make-up day for 2019
    lib = library_schedules()
    assert lib[2024].rest_days[D(2023, 12, 30)] == "元旦"
    assert D(2023, 12, 30) not in lib[2023].rest_days
    assert D(2018, 12, 29) in lib[2019].makeup_workdays
    assert CAL.is_statutory_holiday(D(2023, 12, 31))
    assert CAL.is_working_day(D(2018, 12, 29))  # Saturday


def test_counting_helpers():
    # 2020-11-27 (Fri): next working day Mon 11-30; 7th is 12-08
    assert CAL.next_working_day(D(2020, 11, 27)) == D(2020, 11, 30)
    assert CAL.add_working_days(D(2020, 11, 27), 7) == D(2020, 12, 8)
    assert CAL.working_days_between(D(2020, 11, 27), D(2020, 12, 8)) == 7
    assert CAL.working_days_between(D(2020, 12, 8), D(2020, 11, 27)) == 0
    assert CAL.working_days_between(D(2020, 12, 8), D(2020, 12, 8)) == 0
    # n == 0: the start itself when it is a working day, else the next working day
    assert CAL.add_working_days(D(2026, 2, 14), 0) == D(2026, 2, 14)  # make-up Saturday
    assert CAL.add_working_days(D(2026, 2, 15), 0) == D(2026, 2, 24)  # 春节
    assert CAL.next_working_day(D(2026, 2, 14)) == D(2026, 2, 24)
    with pytest.raises(ValueError):
        CAL.add_working_days(D(2026, 1, 5), -1)
    # October 2026: 22 days minus 5 holiday weekdays (1,2,5,6,7)... count precisely:
    # weekdays in Oct 2026 = 22; holidays on weekdays 10-01,02,05,06,07 = 5; make-up Sat 10-10 = +1
    assert CAL.working_days_between(D(2026, 9, 30), D(2026, 10, 31)) == 18


def test_far_dates_grow_the_tables():
    cal = WorkCalendar()
    assert cal.is_working_day(D(1995, 3, 1))  # a Wednesday, guessed year
    assert cal.is_guessed(D(1995, 3, 1)) and not cal.is_guessed(D(2010, 3, 1))
    far = cal.add_working_days(D(2030, 1, 1), 10_000)
    assert far.year > 2068
    assert cal.working_days_between(D(2030, 1, 1), far) == 10_000
    assert cal.is_rest_day(D(2090, 10, 1))  # 国庆 guessed


# ---------------------------------------------------------------- guesses for unknown years


def test_provisional_holidays_2027():
    g = provisional_holidays(2027)
    # 春节 2027: 正月初一 = 02-06, so 除夕 02-05 and 初一..初三 02-06..08
    assert [d for d, n in g.items() if n == "春节"] == [
        D(2027, 2, 5),
        D(2027, 2, 6),
        D(2027, 2, 7),
        D(2027, 2, 8),
    ]
    assert g[D(2027, 1, 1)] == "元旦"
    assert g[D(2027, 4, 5)] == "清明"  # Qingming solar term 2027
    assert g[D(2027, 5, 1)] == g[D(2027, 5, 2)] == "劳动节"
    assert g[D(2027, 6, 9)] == "端午"
    assert g[D(2027, 9, 15)] == "中秋"
    assert [d for d, n in g.items() if n == "国庆节"] == [D(2027, 10, 1), D(2027, 10, 2), D(2027, 10, 3)]
    assert len(g) == 13


def test_provisional_holidays_outside_lunar_table():
    g = provisional_holidays(2050)
    assert set(g.values()) == {"元旦", "清明", "劳动节", "国庆节"}
    assert 2050 not in LUNAR_FESTIVALS


def test_lunar_table_consistent_with_library():
    # sanity: the table continues the library's pattern -- 春节 falls between 01-21 and 02-20,
    # 端午 between 05-28 and 06-25, 中秋 between 09-07 and 10-08
    for y, (cny, dragon, autumn) in LUNAR_FESTIVALS.items():
        assert D(y, 1, 21) <= cny <= D(y, 2, 20)
        assert D(y, 5, 27) <= dragon <= D(y, 6, 25)
        assert D(y, 9, 7) <= autumn <= D(y, 10, 8)


def test_unknown_year_days():
    assert CAL.is_statutory_holiday(D(2027, 2, 5))  # guessed 除夕
    assert CAL.holiday_name(D(2027, 10, 2)) == "国庆节"
    assert CAL.is_working_day(D(2027, 2, 9))
    assert CAL.is_rest_day(D(2027, 2, 20))  # a plain Saturday in the guess
    assert CAL.is_guessed(D(2027, 2, 9))


# ---------------------------------------------------------------- loaded years


def test_good_file_loads():
    s = parse_year_toml(SAMPLE_2027)
    assert s.year == 2027 and s.origin == "loaded"
    assert s.source == "国办发明电〔2026〕7号" and s.published_on == D(2026, 11, 10)
    assert list(s.rest_days)[:3] == [D(2027, 1, 1), D(2027, 1, 2), D(2027, 1, 3)]
    assert len(s.rest_days) == 3 + 9
    assert s.makeup_workdays == {D(2027, 2, 20): "春节补班"}
    assert s.holiday_blocks() == [
        ("元旦", D(2027, 1, 1), D(2027, 1, 3)),
        ("春节", D(2027, 2, 6), D(2027, 2, 14)),
    ]


def test_loaded_year_in_calendar():
    cal = CAL.with_year(parse_year_toml(SAMPLE_2027))
    assert cal.is_known(2027) and not CAL.is_known(2027)  # with_year leaves the original alone
    assert cal.schedule(2027).origin == "loaded"
    assert cal.is_working_day(D(2027, 2, 20))  # make-up Saturday
    assert cal.is_working_day(D(2027, 2, 5))  # not in the notice's 春节 block
    assert cal.holiday_name(D(2027, 2, 10)) == "春节"
    assert not cal.is_statutory_holiday(D(2027, 10, 1))  # the sample notice omits 国庆
    assert not cal.is_guessed(D(2027, 10, 1))
    assert 2027 in cal.known_years()


def test_loaded_year_overrides_library():
    text = """
year = 2026
source = "test override"
[[rest]]
name = "测试假"
from = 2026-03-09
to = 2026-03-10
"""
    cal = WorkCalendar([parse_year_toml(text)])
    assert cal.schedule(2026).origin == "loaded"
    assert cal.holiday_name(D(2026, 3, 9)) == "测试假"
    assert cal.is_working_day(D(2026, 2, 17))  # the library's 春节 is gone for this calendar
    assert not cal.is_working_day(D(2026, 2, 14))  # and so is its make-up Saturday
    # replacing again with with_year
    cal2 = cal.with_year(library_schedules()[2026])
    assert cal2.holiday_name(D(2026, 2, 17)) == "春节"


def test_late_december_entries_override_previous_year():
    text = SAMPLE_2027.replace("from = 2027-01-01\nto = 2027-01-03", "from = 2026-12-31\nto = 2027-01-03")
    s = parse_year_toml(text)
    assert D(2026, 12, 31) in s.rest_days
    cal = CAL.with_year(s)
    assert cal.holiday_name(D(2026, 12, 31)) == "元旦"  # library 2026 said: plain Thursday
    assert CAL.is_working_day(D(2026, 12, 31))


def test_json_roundtrip():
    for s in (parse_year_toml(SAMPLE_2027), library_schedules()[2026]):
        again = YearSchedule.from_json(s.to_json())
        assert again == s
        assert hash(again) == hash(s)
    assert "春节" in parse_year_toml(SAMPLE_2027).to_json()  # stored readable, not \\u escapes


# ---------------------------------------------------------------- refused files

BAD = """
year = 2027
source = "  "
[[rest]]
name = "元旦"
from = 2027-01-03
to = 2027-01-01
[[rest]]
name = ""
from = 2027-02-06
to = 2027-02-14
[[rest]]
name = "国庆"
from = 2028-10-01
to = 2028-10-07
[[workdays]]
date = 2027-02-17
name = "春节补班"
[[workdays]]
date = 2027-02-10
name = "春节补班"
[[workdays]]
date = 2026-12-20
name = "元旦补班"
[[workdays]]
date = 2027-02-20
name = ""
"""


def test_bad_file_refused_with_every_reason():
    with pytest.raises(CalendarFileError) as ei:
        parse_year_toml(BAD)
    err = ei.value
    text = err.reasons_text
    joined = "\n".join(text)
    assert len(text) == 10, joined
    assert "source" in joined  # empty source
    assert "2027-01-03 is after the end 2027-01-01" in joined  # from > to
    assert "holiday name is missing" in joined  # empty rest name
    assert "2028-10-01 is outside 2027" in joined and "2028-10-07 is outside 2027" in joined
    assert "2027-02-17 is a Wednesday" in joined  # make-up on a weekday
    assert "2027-02-10 is a Wednesday" in joined
    assert "2027-02-10 is listed both as a rest day and as a make-up working day" in joined
    assert "2026-12-20 is outside 2027" in joined  # earlier than the last 7 days of 2026
    assert "Make-up working day 4: the name is missing" in joined
    # rendered in Chinese for the bureau (translations may be pending: never empty)
    zh = err.render_reasons(translator_for_locale("zh_CN"))
    assert len(zh) == len(text) and all(zh)
    assert err.render(translator_for_locale("en"))


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("source = 'x'", "year is missing"),
        ("year = 'abc'\nsource = 'x'", "whole number"),
        ("year = 1850\nsource = 'x'", "out of range"),
        ("year = 2027", "source"),
        ("year = 2027\nsource = 'x'\npublished_on = 'soon'", "published_on"),
        ("year = 2027\nsource = 'x'\n[[workday]]\ndate = 2027-02-20\nname = 'a'", 'Unknown entry "workday"'),
        (
            "year = 2027\nsource = 'x'\n[[rest]]\nname = 'a'\nfrom = 'x'\nto = 2027-01-02",
            '"from" must be a date',
        ),
        ("year = 2027\nsource = 'x'\n[[rest]]\nname = 'a'\nfrom = 2027-01-01", '"to" must be a date'),
        ("year = 2027\nsource = 'x'\n[[workdays]]\nname = 'a'", '"date" must be a date'),
        ("year = = 2027", "not valid TOML"),
        (
            "year = 2027\nsource = 'x'\n[[rest]]\nname='a'\nfrom=2027-01-01\nto=2027-01-02\n"
            "[[rest]]\nname='b'\nfrom=2027-01-02\nto=2027-01-03",
            "already listed",
        ),
    ],
)
def test_single_problems(text, needle):
    with pytest.raises(CalendarFileError) as ei:
        parse_year_toml(text)
    assert any(needle in r for r in ei.value.reasons_text), ei.value.reasons_text


def test_grace_days_of_previous_year():
    # Sat 2026-12-26 is 6 days before 2027-01-01: allowed
    ok = "year = 2027\nsource = 'x'\n[[workdays]]\ndate = 2026-12-26\nname = '元旦补班'\n"
    assert D(2026, 12, 26) in parse_year_toml(ok).makeup_workdays
    bad = ok.replace("2026-12-26", "2026-12-19")  # Sat, 13 days before
    with pytest.raises(CalendarFileError):
        parse_year_toml(bad)


def test_string_dates_accepted():
    text = "year = 2027\nsource = 'x'\n[[rest]]\nname = '元旦'\nfrom = '2027-01-01'\nto = '2027-01-01'\n"
    assert parse_year_toml(text).rest_days == {D(2027, 1, 1): "元旦"}


def test_calendar_error_accepts_plain_strings():
    err = CalendarFileError(["one", "two"])
    assert err.reasons_text == ["one", "two"]
    assert isinstance(err, ValueError)


def test_every_day_has_one_status():
    # sanity over the whole library range: working XOR rest, holidays are rest days
    d = D(2004, 1, 1)
    while d <= D(2026, 12, 31):
        assert CAL.is_working_day(d) != CAL.is_rest_day(d)
        if CAL.is_statutory_holiday(d):
            assert CAL.is_rest_day(d) and CAL.holiday_name(d)
        d += timedelta(days=1)
