"""The one pager (bot/paging.py) and the lists built on it: fixed pages, the nearest page for a page
that no longer exists, the ◀ ▶ row and the "第2/7页，共131件" line, and every page within Telegram's limits."""

from __future__ import annotations

import pytest

from bot.callbacks import PAGE
from bot.digests import Digest, DigestItem, overdue_page, section_page
from bot.i18n import translator_for_locale
from bot.paging import nav_row, page, page_line, with_nav
from bot.telegram_channel import MAX_TEXT, check_keyboard

ZH = translator_for_locale("zh_CN")


def test_pages_are_fixed_and_a_missing_page_is_the_nearest() -> None:
    items = list(range(131))
    second = page(items, 2, 20)
    assert second.items == tuple(range(20, 40)) and (second.number, second.pages, second.total) == (2, 7, 131)
    assert page(items, 7, 20).items == tuple(range(120, 131))
    assert page(items, 99, 20).number == 7 and page(items, 0, 20).number == 1 and page(items, -5, 20).number == 1
    empty = page(list[int](), 3, 20)
    assert (empty.items, empty.number, empty.pages, empty.total) == ((), 1, 1, 0)


def test_page_line_and_buttons_read_naturally() -> None:
    p = page(list(range(131)), 2, 20)
    assert page_line(ZH, p) == "第2/7页，共131件"
    assert nav_row(ZH, p, lambda n: PAGE.build("cases", n)) == [("◀ 上一页", "pg:cases:1"), ("下一页 ▶", "pg:cases:3")]
    assert nav_row(ZH, page(list(range(131)), 1, 20), lambda n: f"x:{n}") == [("下一页 ▶", "x:2")]
    assert nav_row(ZH, page(list(range(131)), 7, 20), lambda n: f"x:{n}") == [("◀ 上一页", "x:6")]
    single = page(list(range(5)), 1, 20)
    assert page_line(ZH, single) == "" and with_nav(ZH, [[("a", "b")]], single, lambda n: "x") == [[("a", "b")]]


def test_page_codec_refuses_forged_data() -> None:
    assert PAGE.parse("pg:dg:soon:3") is not None and PAGE.parse("pg:dg:bogus:3") is None
    assert PAGE.parse("pg:cases:9999999999") is None and PAGE.parse("pg:cases:-1") is None
    assert PAGE.parse("pg:secret:1") is None
    assert len(PAGE.build("dg", "noliaison", 999_999_999).encode()) <= 64


def _item(i: int, *, confidential: bool = False) -> DigestItem:
    return DigestItem(case_id=i, department=f"县第{i % 3}局", project=None if confidential else "项" * 200,
                      due="2026-02-02", provisional=False, target="report", working_days_overdue=30, risk=True)


@pytest.mark.parametrize("section", ["overdue", "new", "soon", "provisional", "noliaison"])
def test_every_page_of_a_long_digest_list_fits_one_message(section: str) -> None:
    items = [_item(i, confidential=i % 7 == 0) for i in range(1, 501)]
    digest = Digest(day="2026-03-20")
    setattr(digest, section, ["单" * 100] * 500 if section == "noliaison" else items)
    first = section_page(ZH, digest, section, 1)
    assert first.page.pages == 50 and "第1/50页，共500件" in first.text
    seen = []
    for n in range(1, first.page.pages + 1):
        listing = section_page(ZH, digest, section, n)
        assert len(listing.text) <= MAX_TEXT
        seen += [line for line in listing.text.splitlines() if "整改事项#" in line]
        check_keyboard([nav_row(ZH, listing.page, lambda k: PAGE.build("dg", section, k))])
    if section != "noliaison":
        assert len(seen) == 500 and len(set(seen)) == 500  # every item once, none lost between pages
    if section in ("overdue", "new"):  # confidential ones last, under their own heading on every page
        last = section_page(ZH, digest, section, 50).text
        assert "项" * 200 not in last and last.count("【涉密事项】") == 1


def test_overdue_pages_carry_the_new_and_the_old() -> None:
    digest = Digest(day="2026-03-20", new=[_item(i) for i in range(1, 6)], overdue=[_item(i) for i in range(6, 31)])
    listing = overdue_page(ZH, digest, 3)
    assert listing.page.number == 3 and listing.page.total == 30 and "第3/3页，共30件" in listing.text
    none = overdue_page(ZH, Digest(day="2026-03-20"), 5)
    assert none.text == "目前没有逾期事项。🟢" and none.page.total == 0
