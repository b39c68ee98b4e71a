"""Natural date input relative to a given today and a field's direction, and how dates are echoed."""

from __future__ import annotations

from datetime import date

import pytest

from bot.dates import (
    UNREADABLE,
    DateInputError,
    Direction,
    bare_month,
    format_date,
    format_deadline,
    parse_natural_date,
)
from bot.i18n import translator_for_locale

TODAY = date(2026, 3, 11)  # a Wednesday
DECEMBER = date(2026, 12, 20)  # a Sunday, eleven days before the year ends
ZH = translator_for_locale("zh_CN")
EN = translator_for_locale("en")
PAST, FUTURE, START = Direction.PAST, Direction.FUTURE, Direction.START


def parse(text: str, today: date = TODAY, direction: Direction = START) -> date:
    return parse_natural_date(text, today, direction=direction)


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-03-05", date(2026, 3, 5)),
    (" 2026/3/5 ", date(2026, 3, 5)),
    ("2026.3.5", date(2026, 3, 5)),
    ("20260305", date(2026, 3, 5)),
    ("2026年3月5日", date(2026, 3, 5)),
    ("２０２６年３月５日", date(2026, 3, 5)),  # full-width digits from a Chinese IME
    ("二〇二六年三月五日", date(2026, 3, 5)),
    ("3月5日", date(2026, 3, 5)),
    ("3月5号", date(2026, 3, 5)),
    ("3/5", date(2026, 3, 5)),
    ("3.5", date(2026, 3, 5)),
    ("5号", date(2026, 3, 5)),
    ("上个月28号", date(2026, 2, 28)),
    ("今天", TODAY),
    ("昨天", date(2026, 3, 10)),
    ("前天", date(2026, 3, 9)),
    ("明天", date(2026, 3, 12)),
    ("后天", date(2026, 3, 13)),
    ("上周五", date(2026, 3, 6)),
    ("上星期一", date(2026, 3, 2)),
    ("上周日", date(2026, 3, 8)),
    ("周一", date(2026, 3, 9)),
    ("本周五", date(2026, 3, 13)),
    ("这周五", date(2026, 3, 13)),
    ("下周一", date(2026, 3, 16)),
    ("3天前", date(2026, 3, 8)),
    ("十天后", date(2026, 3, 21)),
    ("yesterday", date(2026, 3, 10)),
    ("5 March 2026", date(2026, 3, 5)),
])
def test_natural_dates_as_a_start_day(text: str, expected: date) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("今天", date(2026, 3, 11)),
    ("明天", date(2026, 3, 12)),
    ("后天", date(2026, 3, 13)),
    ("月底", date(2026, 3, 31)),
    ("本月底", date(2026, 3, 31)),
    ("下月底", date(2026, 4, 30)),
    ("下个月底", date(2026, 4, 30)),
    ("下个月末", date(2026, 4, 30)),
    ("下月初", date(2026, 4, 1)),
    ("下个月5号", date(2026, 4, 5)),
    ("下周一", date(2026, 3, 16)),
    ("下周三", date(2026, 3, 18)),
    ("下周日", date(2026, 3, 22)),
    ("本周五", date(2026, 3, 13)),
    ("这周五", date(2026, 3, 13)),
    ("周五", date(2026, 3, 13)),       # the coming Friday
    ("周三", TODAY),                   # today is a Wednesday: not in the past
    ("周二", date(2026, 3, 17)),       # this week's Tuesday is over: next week's
    ("明天下午", date(2026, 3, 12)),
    ("明早", date(2026, 3, 12)),
    ("明天上午9点", date(2026, 3, 12)),
    ("后天下午3点半", date(2026, 3, 13)),
    ("周五下班前", date(2026, 3, 13)),
    ("4月30日17:00", date(2026, 4, 30)),
    ("1月29日", date(2027, 1, 29)),    # this year's is over
    ("1.29", date(2027, 1, 29)),
    ("3月11日", TODAY),
    ("3月10日", date(2027, 3, 10)),
    ("2027年1月29日", date(2027, 1, 29)),
    ("2027-01-29", date(2027, 1, 29)),
    ("2027/1/29", date(2027, 1, 29)),
    ("明年1月29日", date(2027, 1, 29)),
    ("5号", date(2026, 4, 5)),
    ("20号", date(2026, 3, 20)),
    ("3月底", date(2026, 3, 31)),
    ("2月底", date(2027, 2, 28)),
    ("6月初", date(2026, 6, 1)),
    ("年底", date(2026, 12, 31)),
])
def test_future_fields(text: str, expected: date) -> None:
    assert parse(text, TODAY, FUTURE) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("今天", TODAY),
    ("今天上午", TODAY),
    ("昨天", date(2026, 3, 10)),
    ("昨天晚上8点", date(2026, 3, 10)),
    ("昨晚", date(2026, 3, 10)),
    ("前天 下午", date(2026, 3, 9)),
    ("前天", date(2026, 3, 9)),
    ("月初", date(2026, 3, 1)),
    ("上月底", date(2026, 2, 28)),
    ("周五", date(2026, 3, 6)),        # the Friday that has been
    ("周三", TODAY),
    ("本周一", date(2026, 3, 9)),
    ("3月5日", date(2026, 3, 5)),
    ("3月12日", date(2025, 3, 12)),    # tomorrow's date this year has not come yet: last year's
    ("12月31日", date(2025, 12, 31)),
    ("十二月三十一日", date(2025, 12, 31)),
    ("5号", date(2026, 3, 5)),
    ("20号", date(2026, 2, 20)),
    ("31号", date(2026, 1, 31)),        # February has none
    ("2月底", date(2026, 2, 28)),
])
def test_past_fields(text: str, expected: date) -> None:
    assert parse(text, TODAY, PAST) == expected


@pytest.mark.parametrize(("text", "direction", "expected"), [
    ("1月5日", FUTURE, date(2027, 1, 5)),
    ("1月5日", PAST, date(2026, 1, 5)),
    ("1月5日", START, date(2026, 1, 5)),
    ("12月25日", PAST, date(2025, 12, 25)),
    ("12月25日", FUTURE, date(2026, 12, 25)),
    ("1月29日", FUTURE, date(2027, 1, 29)),
    ("1.29", FUTURE, date(2027, 1, 29)),
    ("下个月底", FUTURE, date(2027, 1, 31)),
    ("下月初", FUTURE, date(2027, 1, 1)),
    ("月底", FUTURE, date(2026, 12, 31)),
    ("年底", FUTURE, date(2026, 12, 31)),
    ("5号", FUTURE, date(2027, 1, 5)),
    ("5号", PAST, date(2026, 12, 5)),
    ("下周一", FUTURE, date(2026, 12, 21)),
    ("明天", START, date(2026, 12, 21)),
    ("2月底", FUTURE, date(2027, 2, 28)),
])
def test_year_boundary(text: str, direction: Direction, expected: date) -> None:
    assert parse(text, DECEMBER, direction) == expected


@pytest.mark.parametrize(("today", "expected"), [
    (date(2027, 1, 31), date(2027, 2, 28)),
    (date(2028, 1, 31), date(2028, 2, 29)),  # a leap year
    (date(2026, 12, 31), date(2027, 1, 31)),
    (date(2026, 3, 31), date(2026, 4, 30)),
])
def test_next_month_end_from_a_month_end(today: date, expected: date) -> None:
    assert parse("下月底", today, FUTURE) == expected
    assert parse("下个月底", today, FUTURE) == expected


def test_february_29_without_a_year_goes_to_the_nearest_leap_year() -> None:
    assert parse("2月29日", TODAY, PAST) == date(2024, 2, 29)
    assert parse("2月29日", TODAY, FUTURE) == date(2028, 2, 29)


def test_relative_words_follow_the_given_today_across_a_year_end() -> None:
    assert parse("昨天", date(2027, 1, 1), PAST) == date(2026, 12, 31)
    assert parse("上周五", date(2027, 1, 4), PAST) == date(2027, 1, 1)


def render(text: str, today: date, direction: Direction) -> str:
    with pytest.raises(DateInputError) as err:
        parse(text, today, direction)
    return err.value.render(ZH)


def test_the_wrong_side_of_today_is_refused_with_the_reason() -> None:
    assert render("昨天", TODAY, FUTURE) == "2026年3月10日（星期二）已经过去，请填写今天或以后的日期。"
    assert render("月初", TODAY, FUTURE).startswith("2026年3月1日（星期日）已经过去")
    assert render("明天", TODAY, PAST) == "2026年3月12日（星期四）还没到，请填写已经过去的日期（最晚今天）。"
    assert render("下个月底", TODAY, PAST).startswith("2026年4月30日（星期四）还没到")
    assert "3年" in render("2072-01-29", TODAY, FUTURE) and "年份" in render("2072-01-29", TODAY, FUTURE)


def test_a_start_day_may_be_on_either_side() -> None:
    assert parse("明天", TODAY, START) == date(2026, 3, 12)
    assert parse("2030-01-01", TODAY, START) == date(2030, 1, 1)


@pytest.mark.parametrize("text", ["2月", "二月", "2月份", "2027年2月"])
def test_a_bare_month_is_not_a_day(text: str) -> None:
    for direction in Direction:
        message = render(text, TODAY, direction)
        assert "2月1日" in message and "2月底" in message
    assert bare_month(text) == 2


@pytest.mark.parametrize("text", ["", "   ", "下个月吧", "garbage", "2月30日", "2026-13-01", "3000年1月1日", "？？",
                                  "13月1日", "32号", "下午"])
def test_garbage_is_refused_with_a_chinese_hint(text: str) -> None:
    for direction in Direction:
        message = render(text, TODAY, direction)
        assert any(word in message for word in ("日期", "超出", "不存在"))


def test_unreadable_text_is_recognisable_for_fields_that_also_take_periods() -> None:
    with pytest.raises(DateInputError) as err:
        parse("过几天吧", TODAY, FUTURE)
    assert err.value.msgid == UNREADABLE
    with pytest.raises(DateInputError) as err:
        parse("昨天", TODAY, FUTURE)
    assert err.value.msgid != UNREADABLE


def test_english_refusals() -> None:
    with pytest.raises(DateInputError) as err:
        parse("yesterday", TODAY, FUTURE)
    assert err.value.render(EN) == "2026-03-10 (Tuesday) is in the past: please give a day from today on."


def test_echo_has_the_weekday_and_provisional_flag() -> None:
    assert format_date(date(2026, 3, 5), ZH) == "2026年3月5日（星期四）"
    assert format_date(date(2027, 1, 29), ZH) == "2027年1月29日（星期五）"
    assert format_date(date(2026, 3, 5), EN) == "2026-03-05 (Thursday)"
    assert format_deadline(date(2027, 1, 11), True, ZH) == "2027年1月11日（星期一）（暂定）"
    assert format_deadline(date(2026, 2, 28), False, ZH) == "2026年2月28日（星期六）"
    assert format_date(None, ZH) == "—"
