"""Dates as people type them and as the bot echoes them back.

Input: ISO and Chinese forms (2026-03-05, 2026/3/5, 2026年3月5日, 3月5日, 5号) and relative words
(今天, 昨天, 前天, 上周五, 本周一, 周三, 3天前) — always relative to a `today` passed in (the
bureau-local day), never the machine's clock. dateparser is the fallback for anything else
(English phrases such as "yesterday" or "5 March 2026").

Output: every date shown to a person carries its weekday, because deadlines that fall on a
make-up working Saturday are otherwise misread: 2026年3月5日（星期四） in Chinese,
Thu 2026-03-05 in English; a provisional deadline adds 暂定.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timedelta

from bot.errors import DomainError
from bot.i18n import N_, WEEKDAYS, Translator

__all__ = [
    "DateInputError",
    "format_date",
    "format_deadline",
    "parse_natural_date",
    "weekday_name",
]


class DateInputError(DomainError, ValueError):
    """The text is not a date we understand (English msgid; rendered per reader)."""


_CN_NUM = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
           "八": 8, "九": 9}
# Monday = 0; 日/天 = Sunday.
_CN_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6,
               "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}
_RELATIVE_DAYS = {"今天": 0, "今日": 0, "昨天": -1, "昨日": -1, "前天": -2, "大前天": -3, "明天": 1,
                  "明日": 1, "后天": 2, "大后天": 3, "today": 0, "yesterday": -1, "tomorrow": 1}

_NUM = r"[0-9]{1,4}|[零〇一二两三四五六七八九十]{1,4}"
_FULL = (
    re.compile(r"^(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})$"),
    re.compile(rf"^(?P<y>\d{{4}}|[零〇一二三四五六七八九]{{4}})年(?P<m>{_NUM})月(?P<d>{_NUM})[日号]?$"),
    re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$"),
)
_MONTH_DAY = (
    re.compile(rf"^(?P<m>{_NUM})月(?P<d>{_NUM})[日号]?$"),
    re.compile(r"^(?P<m>\d{1,2})/(?P<d>\d{1,2})$"),
)
_DAY_ONLY = re.compile(rf"^(?:本月|这个月)?(?P<d>{_NUM})[日号]$")
_PREV_MONTH_DAY = re.compile(rf"^上(?:个)?月(?P<d>{_NUM})[日号]$")
_WEEKDAY = re.compile(r"^(?P<rel>上上|上|本|这|下|下下)?(?:个)?(?:周|星期|礼拜)(?P<wd>[一二三四五六日天七1-7])$")
_AGO = re.compile(rf"^(?P<n>{_NUM})(?:天|日)(?P<dir>前|以前|之前|后|以后|之后)$")


def _cn_int(text: str) -> int | None:
    """12, 十二, 二十五, 三十一, 二〇二六 → int; None when malformed."""
    if text.isdigit():
        return int(text)
    if "十" not in text:
        if all(ch in _CN_NUM for ch in text):
            return int("".join(str(_CN_NUM[ch]) for ch in text))
        return None
    tens, _, ones = text.partition("十")
    if len(tens) > 1 or len(ones) > 1:
        return None
    t = 1 if not tens else _CN_NUM.get(tens)
    o = 0 if not ones else _CN_NUM.get(ones)
    if t is None or o is None:
        return None
    return t * 10 + o


def _normalize(text: str) -> str:
    s = unicodedata.normalize("NFKC", text).strip().lower()
    return re.sub(r"\s+", "", s)


def _make(y: int | None, m: int | None, d: int | None, raw: str) -> date:
    if y is None or m is None or d is None:
        raise _unreadable(raw)
    if not 1900 <= y <= 2100:
        raise DateInputError(N_("The year {year} is out of range ({low}-{high})."), year=y, low=1900, high=2100)
    try:
        return date(y, m, d)
    except ValueError:
        raise DateInputError(N_("There is no such date: {text}."), text=raw.strip()) from None


def _unreadable(raw: str) -> DateInputError:
    return DateInputError(
        N_('Cannot understand the date "{text}". Write it like 2026-03-05, 2026年3月5日, 3月5日, '
           "昨天 or 上周五."),
        text=raw.strip()[:40],
    )


def parse_natural_date(text: str, today: date) -> date:
    """The date meant by `text`, read relative to `today` (the bureau-local day).

    A month and day without a year (3月5日) is in `today`'s year; a bare weekday (周五) is in
    the current Monday-to-Sunday week, 上周五 in the previous one.
    """
    raw = text if isinstance(text, str) else str(text)
    s = _normalize(raw)
    if not s:
        raise _unreadable(raw)
    if s in _RELATIVE_DAYS:
        return today + timedelta(days=_RELATIVE_DAYS[s])
    for pat in _FULL:
        m = pat.match(s)
        if m:
            return _make(_cn_int(m["y"]), _cn_int(m["m"]), _cn_int(m["d"]), raw)
    for pat in _MONTH_DAY:
        m = pat.match(s)
        if m:
            return _make(today.year, _cn_int(m["m"]), _cn_int(m["d"]), raw)
    m = _DAY_ONLY.match(s)
    if m:
        return _make(today.year, today.month, _cn_int(m["d"]), raw)
    m = _PREV_MONTH_DAY.match(s)
    if m:
        first = today.replace(day=1) - timedelta(days=1)
        return _make(first.year, first.month, _cn_int(m["d"]), raw)
    m = _WEEKDAY.match(s)
    if m:
        weeks = {"上上": -2, "上": -1, "本": 0, "这": 0, None: 0, "下": 1, "下下": 2}[m["rel"]]
        monday = today - timedelta(days=today.weekday())
        return monday + timedelta(days=7 * weeks + _CN_WEEKDAY[m["wd"]])
    m = _AGO.match(s)
    if m:
        n = _cn_int(m["n"])
        if n is None:
            raise _unreadable(raw)
        return today + timedelta(days=-n if "前" in m["dir"] else n)
    return _fallback(raw, today)


def _fallback(raw: str, today: date) -> date:
    """dateparser for what the patterns above do not cover (mostly English phrases)."""
    if not re.search(r"[0-9a-z一二三四五六七八九十]", _normalize(raw)):
        raise _unreadable(raw)
    import dateparser  # imported lazily: loading its language data costs ~0.2 s

    base = datetime.combine(today, datetime.min.time()).replace(hour=12)
    found = dateparser.parse(
        raw.strip(),
        languages=["zh", "en"],
        settings={"RELATIVE_BASE": base, "DATE_ORDER": "YMD", "PREFER_DAY_OF_MONTH": "first",
                  "REQUIRE_PARTS": ["day"]},
    )
    if found is None:
        raise _unreadable(raw)
    return _make(found.year, found.month, found.day, raw)


# --------------------------------------------------------------------------- output


def weekday_name(d: date, t: Translator) -> str:
    return t._(WEEKDAYS[d.weekday()])


def format_date(d: date | None, t: Translator) -> str:
    """2026年3月5日（星期四） / Thu 5 Mar 2026 style: always with the weekday. None → "—"."""
    if d is None:
        return "—"
    if t.locale.startswith("zh"):
        return f"{d.year}年{d.month}月{d.day}日（{weekday_name(d, t)}）"
    return f"{d.isoformat()} ({weekday_name(d, t)})"


def format_deadline(d: date | None, provisional: bool, t: Translator) -> str:
    """A deadline with its weekday, flagged 暂定 when its year has no published holiday schedule."""
    if d is None:
        return t._("not set")
    text = format_date(d, t)
    if provisional:
        return t._("{date} (provisional)").format(date=text)
    return text
