"""One pager for every list the bot shows in chat (issue #10: nothing over Telegram's limits, ever).

A department can have hundreds of open cases; Telegram refuses a message over 4,096 characters
and a keyboard over 100 buttons. So every list is cut into pages of a fixed size, the same way
everywhere: a page is recomputed from the current list on every ◀ ▶ press (for the person who
pressed, so authorization is checked again), and a page number that no longer exists — the list
shrank, or the data was forged — shows the nearest page instead of failing. Pure: no Telegram,
no storage; the caller builds the button data with its journey's codec.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from bot.i18n import Translator

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

PAGE_SIZE = 10  # items per page: at most ~400 characters an item keeps a page well under 4,096


@dataclass(frozen=True)
class Page(Generic[T_co]):
    """One page of a list: its items, its 1-based number, how many pages, how many items in all."""

    items: tuple[T_co, ...]
    number: int
    pages: int
    total: int

    @property
    def single(self) -> bool:
        return self.pages <= 1


def page(items: Sequence[T], number: int, size: int = PAGE_SIZE) -> Page[T]:
    """The page `number` (1-based) of `items`, clamped to the nearest page that exists."""
    total = len(items)
    number, pages, start = window(total, number, size)
    return Page(tuple(items[start:start + size]), number, pages, total)


def window(total: int, number: int, size: int = PAGE_SIZE) -> tuple[int, int, int]:
    """(page number clamped as `page` does, pages, offset of its first item) for a list of `total`
    items: what a COUNT + one LIMITed query needs, so a long list is never loaded to show one page."""
    assert size > 0, size
    pages = max(1, -(-total // size))
    number = min(max(number, 1), pages)
    return number, pages, (number - 1) * size


def page_line(t: Translator, p: Page[object]) -> str:
    """"第2/7页，共131件" — empty for a list that fits on one page."""
    if p.single:
        return ""
    return t._("Page {number} of {pages}, {total} in all").format(number=p.number, pages=p.pages, total=p.total)


def with_page_line(t: Translator, text: str, p: Page[object]) -> str:
    """The page's text with its "page n of m" line at the end (when there is more than one page)."""
    line = page_line(t, p)
    return f"{text}\n\n{line}" if line else text


def nav_row(t: Translator, p: Page[object], build: Callable[[int], str]) -> list[tuple[str, str]]:
    """The ◀ ▶ buttons of a page (as label, data); no row at all for a single page.

    `build(n)` is the journey's codec making the data that shows page n.
    """
    row: list[tuple[str, str]] = []
    if p.number > 1:
        row.append((t._("◀ Previous"), build(p.number - 1)))
    if p.number < p.pages:
        row.append((t._("Next ▶"), build(p.number + 1)))
    return row


def with_nav(t: Translator, rows: list[list[tuple[str, str]]], p: Page[object],
             build: Callable[[int], str]) -> list[list[tuple[str, str]]]:
    """The page's own buttons followed by its ◀ ▶ row (if any)."""
    nav = nav_row(t, p, build)
    return [*rows, nav] if nav else rows


@dataclass(frozen=True)
class Listing:
    """A rendered page of a list: the text (with its page line) and the page it shows."""

    text: str
    page: Page[object]
