"""Natural date input relative to a given today, and how dates are echoed (always with the weekday)."""

from __future__ import annotations

from datetime import date

import pytest

from bot.dates import DateInputError, format_date, format_deadline, parse_natural_date
from bot.i18n import translator_for_locale

TODAY = date(2026, 3, 11)  # a Wednesday
ZH = translator_for_locale("zh_CN")
EN = translator_for_locale("en")


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
    ("十二月三十一日", date(2026, 12, 31)),
    ("3/5", date(2026, 3, 5)),
    ("5号", date(2026, 3, 5)),
    ("上个月28号", date(2026, 2, 28)),
    ("今天", TODAY),
    ("昨天", date(2026, 3, 10)),
    ("前天", date(2026, 3, 9)),
    ("明天", date(2026, 3, 12)),
    ("上周五", date(2026, 3, 6)),
    ("上星期一", date(2026, 3, 2)),
    ("上周日", date(2026, 3, 8)),
    ("周一", date(2026, 3, 9)),
    ("本周五", date(2026, 3, 13)),
    ("下周一", date(2026, 3, 16)),
    ("3天前", date(2026, 3, 8)),
    ("十天后", date(2026, 3, 21)),
    ("yesterday", date(2026, 3, 10)),
    ("5 March 2026", date(2026, 3, 5)),
])
def test_natural_dates(text: str, expected: date) -> None:
    assert parse_natural_date(text, TODAY) == expected


def test_relative_words_follow_the_given_today_across_a_year_end() -> None:
    assert parse_natural_date("昨天", date(2027, 1, 1)) == date(2026, 12, 31)
    assert parse_natural_date("上周五", date(2027, 1, 4)) == date(2027, 1, 1)


@pytest.mark.parametrize("text", ["", "   ", "下个月吧", "garbage", "2月30日", "2026-13-01", "3000年1月1日", "？？"])
def test_garbage_is_refused_with_a_chinese_hint(text: str) -> None:
    with pytest.raises(DateInputError) as err:
        parse_natural_date(text, TODAY)
    assert any(word in err.value.render(ZH) for word in ("日期", "超出", "没有"))


def test_echo_has_the_weekday_and_provisional_flag() -> None:
    assert format_date(date(2026, 3, 5), ZH) == "2026年3月5日（星期四）"
    assert format_date(date(2026, 3, 5), EN) == "2026-03-05 (Thursday)"
    assert format_deadline(date(2027, 1, 11), True, ZH) == "2027年1月11日（星期一）（暂定）"
    assert format_deadline(date(2026, 2, 28), False, ZH) == "2026年2月28日（星期六）"
    assert format_date(None, ZH) == "—"
