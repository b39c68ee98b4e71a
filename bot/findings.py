"""逐条整改: reading a case's findings (存在问题) as the numbered list these reports answer item by item.

Feedback documents number their findings as 1. 2. / 1、2、 / （1）（2） / 一、二、 / ①②. A pure
function, so the rule is tested on its own: a list is only a list when it counts 1, 2, 3… from the
start (at least two items), each number standing at the start of a line or after a separator, so that
"拨付率仅1.5%" or "2026.3" is never taken for a numbered item (（1） and ① count anywhere).
"""

from __future__ import annotations

import re

MAX_ITEMS = 30  # a longer "list" is not one a liaison should answer item by item in a chat

_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
_BEFORE = r"(?:^|(?<=[\s；;。，,：:]))"
# Each style: a regex whose group 1 is the number as written.
_STYLES = (
    re.compile(r"[（(]\s*([0-9]{1,2})\s*[）)]"),       # bracketed and circled numbers are markers anywhere
    re.compile(r"[（(]\s*([一二三四五六七八九十]{1,3})\s*[）)]"),
    re.compile("([" + _CIRCLED + "])"),
    re.compile(_BEFORE + r"([0-9]{1,2})\s*(?:[.．](?![0-9])|、)"),  # 1. 1、 only at a line start or separator
    re.compile(_BEFORE + r"([一二三四五六七八九十]{1,3})\s*、"),
)
_TRIM = " \t\r\n；;，,。"


def _number(written: str) -> int | None:
    if len(written) == 1 and written in _CIRCLED:
        return _CIRCLED.index(written) + 1
    if written.isascii() and written.isdigit():
        return int(written)
    if written == "十":
        return 10
    if len(written) == 2 and written[0] == "十" and written[1] in _CN_DIGITS:
        return 10 + _CN_DIGITS[written[1]]
    if len(written) == 2 and written[0] in _CN_DIGITS and written[1] == "十":
        return _CN_DIGITS[written[0]] * 10
    if len(written) == 3 and written[0] in _CN_DIGITS and written[1] == "十" and written[2] in _CN_DIGITS:
        return _CN_DIGITS[written[0]] * 10 + _CN_DIGITS[written[2]]
    return _CN_DIGITS.get(written)


def _counted(text: str, style: re.Pattern[str]) -> list[tuple[int, int]]:
    """(start, end) of the markers that count 1, 2, 3… in order; markers out of sequence are text."""
    found: list[tuple[int, int]] = []
    for m in style.finditer(text):
        if _number(m.group(1)) == len(found) + 1:
            found.append((m.start(), m.end()))
    return found


def split_findings(text: str | None) -> list[str]:
    """The numbered items of a findings text, or [] when it is not a numbered list of two or more.

    The outermost numbering wins (the style whose item 1 comes first), so 一、…（1）…（2）…二、… gives
    the two 一、二、 items with their sub-points inside. Text before item 1 (a heading) is dropped.
    """
    if not text:
        return []
    best: list[tuple[int, int]] = []
    for style in _STYLES:
        markers = _counted(text, style)
        if len(markers) >= 2 and (not best or markers[0][0] < best[0][0]):
            best = markers
    if not best or len(best) > MAX_ITEMS:
        return []
    items = []
    for i, (_start, end) in enumerate(best):
        stop = best[i + 1][0] if i + 1 < len(best) else len(text)
        items.append(text[end:stop].strip(_TRIM))
    return items if all(items) else []
