"""Dates as people type them and as the bot echoes them back: ONE parser for the chat and the CLI.

Input: ISO and Chinese forms (2027-01-29, 2027/1/29, 2027年1月29日, 1月29日, 1.29, 5号), month
edges (月底, 下个月底, 月初, 下月初, 3月底, 年底) and relative words (今天, 明天, 后天, 昨天, 前天,
上周五, 本周五, 下周一, 周三, 3天前); a time of day after the date (明天下午, 今天上午9点) is dropped.
Everything is read relative to a `today` passed in (the bureau-local day), never the machine's clock.
dateparser is the fallback for anything else (English phrases such as "yesterday" or "5 March 2026").

A date without a year (1月29日, 5号, 周五, 3月底) is resolved by the field's `Direction`: in December
the deadline 1月29日 is next January, the evaluation that ended 12月25日 was this year's or last.

Output: every date shown to a person carries its weekday, because deadlines that fall on a
make-up working Saturday are otherwise misread: 2026年3月5日（星期四） in Chinese,
2026-03-05 (Thursday) in English; a provisional deadline adds 暂定.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from bot.errors import DomainError, Msg
from bot.i18n import N_, WEEKDAYS, Translator

__all__ = [
    "MAX_YEARS_AHEAD",
    "UNREADABLE",
    "DateInputError",
    "Direction",
    "bare_month",
    "format_date",
    "format_deadline",
    "parse_natural_date",
    "weekday_name",
    "zone_label",
]


class DateInputError(DomainError, ValueError):
    """The text is not a date we understand, or not one this field takes (English msgid; rendered per reader)."""


class Direction(Enum):
    """Which way a field's dates point: how a date without a year resolves, and what is refused.

    PAST    something that happened (evaluation ended, feedback sent or received, /received): the
            latest such day not after today; a day after today is refused.
    FUTURE  a deadline or an extension (/new's explicit deadline, /changedue, /extend, 退回补充,
            an extension granted for another date): the next such day not before today; a day before
            today, or more than MAX_YEARS_AHEAD years ahead (a mistyped year), is refused.
    START   the start day of a period (/deadline START, `rectbot deadline START`): resolves like PAST,
            because the start is usually the day the feedback was received, but any day is accepted,
            since asking "what if it arrives tomorrow" (明天) is legitimate.
    """

    PAST = "past"
    FUTURE = "future"
    START = "start"


#: a FUTURE date further ahead than this is taken for a typo in the year (2072 for 2027)
MAX_YEARS_AHEAD = 3
MIN_YEAR, MAX_YEAR = 1900, 2100

_CN_NUM = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
           "八": 8, "九": 9}
# Monday = 0; 日/天 = Sunday.
_CN_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6,
               "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}
_RELATIVE_DAYS = {"今天": 0, "今日": 0, "昨天": -1, "昨日": -1, "前天": -2, "大前天": -3, "明天": 1,
                  "明日": 1, "后天": 2, "大后天": 3, "today": 0, "yesterday": -1, "tomorrow": 1,
                  "今早": 0, "今晚": 0, "昨晚": -1, "明早": 1, "明晚": 1}
_MONTH_SHIFT = {None: 0, "本": 0, "这": 0, "这个": 0, "当": 0, "下": 1, "下个": 1, "次": 1, "上": -1, "上个": -1}
_YEAR_SHIFT = {None: 0, "今": 0, "本": 0, "明": 1, "来": 1, "下": 1, "去": -1, "上": -1}

_NUM = r"[0-9]{1,4}|[零〇一二两三四五六七八九十]{1,4}"
_FULL = (
    re.compile(r"^(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})[日号]?$"),
    re.compile(rf"^(?P<y>\d{{4}}|[零〇一二三四五六七八九]{{4}})年(?P<m>{_NUM})月(?P<d>{_NUM})[日号]?$"),
    re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$"),
)
_REL_YEAR_DAY = re.compile(rf"^(?P<rel>今|明|来|去)年(?P<m>{_NUM})月(?P<d>{_NUM})[日号]?$")
_MONTH_DAY = (
    re.compile(rf"^(?P<m>{_NUM})月(?P<d>{_NUM})[日号]?$"),
    re.compile(r"^(?P<m>\d{1,2})[/.\-](?P<d>\d{1,2})$"),  # 3/5, 1.29, 1-29: month first, as in Chinese
)
_BARE_MONTH = re.compile(rf"^(?:(?P<y>\d{{4}})年)?(?P<m>{_NUM})月份?$")
# 月底 / 下个月底 / 上月初 / 本月末 — the edges of a month counted from this one
_REL_MONTH_EDGE = re.compile(r"^(?P<rel>本|这个|这|当|下个|下|次|上个|上)?月(?P<edge>底|末|初)$")
# 3月底 / 2027年1月底 / 明年3月初 — the edges of a named month
_MONTH_EDGE = re.compile(rf"^(?:(?P<y>\d{{4}})年|(?P<rel>今|明|来|去)年)?(?P<m>{_NUM})月(?P<edge>底|末|初)$")
_YEAR_EDGE = re.compile(r"^(?P<rel>今|本|明|来|去)?年(?P<edge>底|末|初)$")
_DAY_ONLY = re.compile(rf"^(?P<rel>本月|这个月|当月)?(?P<d>{_NUM})[日号]$")
_REL_MONTH_DAY = re.compile(rf"^(?P<rel>上个|上|下个|下)月(?P<d>{_NUM})[日号]$")
_WEEKDAY = re.compile(r"^(?P<rel>上上|上|本|这|下|下下)?(?:个)?(?:周|星期|礼拜)(?P<wd>[一二三四五六日天七1-7])$")
_AGO = re.compile(rf"^(?P<n>{_NUM})(?:天|日)(?P<dir>前|以前|之前|后|以后|之后)$")

# A time of day after the date is dropped: 明天下午, 今天上午9点, 周五下班前, 1月29日17:00.
_PART_OF_DAY = r"早上|早晨|清晨|上午|中午|午后|下午|傍晚|晚上|晚间|夜里|夜间|凌晨|白天|上班前|下班前|下班后|全天"
_CN_MINUTES = r"[零一二三四五六七八九十]{1,3}分?"
_CLOCK = rf"(?:\d{{1,2}}|[零一二两三四五六七八九十]{{1,3}})(?:[点时](?:半|整|\d{{1,2}}分?|{_CN_MINUTES})?|:\d{{2}})"
_TIME_TAIL = re.compile(rf"(?:(?:{_PART_OF_DAY})?{_CLOCK}(?:前|以前|之前)?|(?:{_PART_OF_DAY}))$")


def _cn_int(text: str | None) -> int | None:
    """12, 十二, 二十五, 三十一, 二〇二六 → int; None when malformed."""
    if text is None:
        return None
    if text.isdigit():
        return int(text)
    if "十" not in text:
        if text and all(ch in _CN_NUM for ch in text):
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


def _strip_time_of_day(s: str) -> str:
    """明天下午 → 明天; nothing is stripped when only a time is left (下午 alone is not a date)."""
    for _ in range(2):  # 明天下午3点: the part of the day and the clock time go together
        m = _TIME_TAIL.search(s)
        if m is None or m.start() == 0:
            break
        s = s[:m.start()]
    return s


class _Day(Msg):
    """A date as a refusal's parameter, worded for the reader (with its weekday) when rendered."""

    def __init__(self, day: date) -> None:
        super().__init__("{day}", day=day.isoformat())
        self.day = day

    def render(self, t: Any) -> str:
        return format_date(self.day, t) if isinstance(t, Translator) else self.day.isoformat()


def _check_year(y: int) -> None:
    if not MIN_YEAR <= y <= MAX_YEAR:
        raise DateInputError(N_("The year {year} is out of range ({low}-{high})."), year=y, low=MIN_YEAR,
                             high=MAX_YEAR)


def _no_such_date(raw: str) -> DateInputError:
    return DateInputError(N_("There is no such date: {text}."), text=raw.strip()[:40])


def _make(y: int | None, m: int | None, d: int | None, raw: str) -> date:
    if y is None or m is None or d is None:
        raise _unreadable(raw)
    _check_year(y)
    try:
        return date(y, m, d)
    except ValueError:
        raise _no_such_date(raw) from None


#: the refusal of text that is no date at all (a field that also takes periods words its own hint)
UNREADABLE = N_('Cannot understand the date "{text}". Write it like 2026-03-05, 2026年3月5日, 3月5日, '
                "昨天 or 上周五.")


def _unreadable(raw: str) -> DateInputError:
    return DateInputError(UNREADABLE, text=raw.strip()[:40])


def _month_start(today: date, shift: int) -> date:
    y, m0 = divmod(today.year * 12 + today.month - 1 + shift, 12)
    _check_year(y)
    return date(y, m0 + 1, 1)


def _month_end(first: date) -> date:
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def _nearest(candidates: Callable[[int], date | None], today: date, direction: Direction, span: int,
             raw: str) -> date:
    """The latest candidate not after today (PAST, START) or the earliest not before it (FUTURE).

    `candidates(k)` is the k-th occurrence counted from the current one (k = 0, -1, … or 0, 1, …), None
    when that occurrence does not exist (30号 in February, 2月29日 in 2027).
    """
    step = 1 if direction is Direction.FUTURE else -1
    for k in range(0, step * span, step):
        found = candidates(k)
        if found is None:
            continue
        if (found >= today) if step > 0 else (found <= today):
            return found
    raise _no_such_date(raw)


def _in_year(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _month_day(m: int | None, d: int | None, today: date, direction: Direction, raw: str) -> date:
    """1月29日 without a year: this year's, or the year's before / after, as the direction says."""
    if m is None or d is None:
        raise _unreadable(raw)
    if _in_year(2000, m, d) is None:  # not a date in any year (2月30日, 13月1日); 2000 was a leap year
        raise _no_such_date(raw)
    return _nearest(lambda k: _in_year(today.year + k, m, d), today, direction, 9, raw)


def _day_of_month(d: int | None, today: date, direction: Direction, raw: str) -> date:
    """5号 without a month: this month's, or the month's before / after, as the direction says."""
    if d is None:
        raise _unreadable(raw)
    if not 1 <= d <= 31:
        raise _no_such_date(raw)
    return _nearest(lambda k: _in_year(*_ym(today, k), d), today, direction, 13, raw)


def _ym(today: date, shift: int) -> tuple[int, int]:
    y, m0 = divmod(today.year * 12 + today.month - 1 + shift, 12)
    return y, m0 + 1


def _edge(first: date, edge: str) -> date:
    return first if edge == "初" else _month_end(first)


def bare_month(text: str) -> int | None:
    """2月, 二月, 2月份 → 2: a month without a day, neither a date (which day?) nor a period (2个月?)."""
    m = _BARE_MONTH.match(_normalize(text))
    return _cn_int(m["m"]) if m else None


def parse_natural_date(text: str, today: date, *, direction: Direction) -> date:
    """The date meant by `text`, read relative to `today` (the bureau-local day), for a field of `direction`.

    Raises DateInputError saying why: not a date, no such date, or on the wrong side of today for
    the field (see Direction). The chat and the CLI both come here, so the same words give the same day.
    """
    raw = text if isinstance(text, str) else str(text)
    found = _resolve(raw, today, direction)
    if direction is Direction.PAST and found > today:
        raise DateInputError(N_("{date} is still to come: please give a day that has already passed "
                                "(today at the latest)."), date=_Day(found))
    if direction is Direction.FUTURE:
        if found < today:
            raise DateInputError(N_("{date} is in the past: please give a day from today on."), date=_Day(found))
        if found > _years_later(today, MAX_YEARS_AHEAD):
            raise DateInputError(N_("{date} is more than {years} years ahead; please check the year."),
                                 date=_Day(found), years=MAX_YEARS_AHEAD)
    return found


def _years_later(today: date, years: int) -> date:
    try:
        return today.replace(year=today.year + years)
    except ValueError:  # 29 February
        return today.replace(year=today.year + years, day=28)


def _resolve(raw: str, today: date, direction: Direction) -> date:
    s = _normalize(raw)
    if not s:
        raise _unreadable(raw)
    s = _strip_time_of_day(s)
    if s in _RELATIVE_DAYS:
        return today + timedelta(days=_RELATIVE_DAYS[s])
    for pat in _FULL:
        if m := pat.match(s):
            return _make(_cn_int(m["y"]), _cn_int(m["m"]), _cn_int(m["d"]), raw)
    if m := _REL_YEAR_DAY.match(s):
        return _make(today.year + _YEAR_SHIFT[m["rel"]], _cn_int(m["m"]), _cn_int(m["d"]), raw)
    for pat in _MONTH_DAY:
        if m := pat.match(s):
            return _month_day(_cn_int(m["m"]), _cn_int(m["d"]), today, direction, raw)
    if m := _REL_MONTH_EDGE.match(s):
        return _edge(_month_start(today, _MONTH_SHIFT[m["rel"]]), m["edge"])
    if m := _YEAR_EDGE.match(s):
        y = today.year + _YEAR_SHIFT[m["rel"]]
        _check_year(y)
        return date(y, 1, 1) if m["edge"] == "初" else date(y, 12, 31)
    if m := _MONTH_EDGE.match(s):
        return _named_month_edge(m, today, direction, raw)
    if m := _BARE_MONTH.match(s):
        raise DateInputError(N_('"{text}" is a whole month, not a day: write the day, e.g. {month}月1日 or '
                                "{month}月底."), text=raw.strip()[:40], month=_cn_int(m["m"]) or m["m"])
    if m := _DAY_ONLY.match(s):
        if m["rel"]:
            return _make(today.year, today.month, _cn_int(m["d"]), raw)
        return _day_of_month(_cn_int(m["d"]), today, direction, raw)
    if m := _REL_MONTH_DAY.match(s):
        y, mo = _ym(today, 1 if m["rel"].startswith("下") else -1)
        return _make(y, mo, _cn_int(m["d"]), raw)
    if m := _WEEKDAY.match(s):
        wd = _CN_WEEKDAY[m["wd"]]
        if m["rel"] is None:  # 周五: the nearest Friday on the field's side of today
            if direction is Direction.FUTURE:
                return today + timedelta(days=(wd - today.weekday()) % 7)
            return today - timedelta(days=(today.weekday() - wd) % 7)
        weeks = {"上上": -2, "上": -1, "本": 0, "这": 0, "下": 1, "下下": 2}[m["rel"]]
        monday = today - timedelta(days=today.weekday())
        return monday + timedelta(days=7 * weeks + wd)
    if m := _AGO.match(s):
        n = _cn_int(m["n"])
        if n is None:
            raise _unreadable(raw)
        return today + timedelta(days=-n if "前" in m["dir"] else n)
    return _fallback(raw, today, direction)


def _named_month_edge(m: re.Match[str], today: date, direction: Direction, raw: str) -> date:
    """3月底 / 2027年1月初 / 明年3月底; without a year the direction picks it, as for 3月5日."""
    month = _cn_int(m["m"])
    if month is None or not 1 <= month <= 12:
        raise _no_such_date(raw)
    if m["y"] or m["rel"]:
        y = int(m["y"]) if m["y"] else today.year + _YEAR_SHIFT[m["rel"]]
        _check_year(y)
        return _edge(date(y, month, 1), m["edge"])
    return _nearest(lambda k: _edge(date(today.year + k, month, 1), m["edge"]), today, direction, 2, raw)


def _fallback(raw: str, today: date, direction: Direction) -> date:
    """dateparser for what the patterns above do not cover (mostly English phrases)."""
    if not re.search(r"[0-9a-z一二三四五六七八九十]", _normalize(raw)):
        raise _unreadable(raw)
    import dateparser  # imported lazily: loading its language data costs ~0.2 s

    base = datetime.combine(today, datetime.min.time()).replace(hour=12)
    found = dateparser.parse(
        raw.strip(),
        languages=["zh", "en"],
        settings={"RELATIVE_BASE": base, "DATE_ORDER": "YMD", "PREFER_DAY_OF_MONTH": "first",
                  "REQUIRE_PARTS": ["day"],
                  "PREFER_DATES_FROM": "future" if direction is Direction.FUTURE else "past"},
    )
    if found is None:
        raise _unreadable(raw)
    return _make(found.year, found.month, found.day, raw)


# --------------------------------------------------------------------------- output


def weekday_name(d: date, t: Translator) -> str:
    return t._(WEEKDAYS[d.weekday()])


def format_date(d: date | None, t: Translator) -> str:
    """2026年3月5日（星期四） / 2026-03-05 (Thursday): always with the weekday. None → "—"."""
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


# Zones that are Beijing time (UTC+8, no daylight saving since 1991): people read 北京时间, never a zone name.
BEIJING_ZONES = frozenset({"Asia/Shanghai", "Asia/Chongqing", "Asia/Chungking", "Asia/Harbin", "PRC"})


def zone_label(zone: str, t: Translator, *, at: datetime | None = None) -> str:
    """How a time zone reads to people: 北京时间 for the bureau's usual zone, else its UTC offset
    (UTC+05:30) at `at` (now when not given): an IANA name such as Asia/Shanghai is an internal code."""
    if zone in BEIJING_ZONES:
        return t._("Beijing time")
    offset = (at or datetime.now(ZoneInfo(zone))).astimezone(ZoneInfo(zone)).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return t._("UTC{offset}").format(offset=f"{sign}{hours:02d}:{rest:02d}" if rest else f"{sign}{hours}")
