"""Typed button data, one codec per journey (in the manner of aiogram's CallbackData).

Callback data is user input (anyone can forge a press), and it outlives the code that sent it (old
keyboards stay in chats), so the wire format is fixed: ``prefix:action[:field…]``, the exact strings
rectbot has always sent. Keyboards (handlers and the bot/ renderers alike) build data with a codec,
handlers register with its ``pattern`` and read it back with ``parse``, which never raises. No
Telegram import here: renderers in bot/ build buttons too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

MAX_BYTES = 64  # Telegram refuses longer callback data

# A field is an int (a database id: 1–9 digits), a str (ASCII letters, digits, _), or a fixed tuple of
# literal choices (e.g. ("0", "1")).
Field = type[int] | type[str] | tuple[str, ...]

_INT = r"[0-9]{1,9}"
_STR = r"[A-Za-z0-9_]{1,40}"


def _field_regex(field: Field) -> str:
    if field is int:
        return f"({_INT})"
    if field is str:
        return f"({_STR})"
    assert isinstance(field, tuple) and field, field
    return "(" + "|".join(re.escape(choice) for choice in field) + ")"


@dataclass(frozen=True)
class Callback:
    """A parsed press: the action and its field values, already checked against the codec's spec."""

    action: str
    values: tuple[int | str, ...] = ()

    def number(self, index: int = -1) -> int:
        value = self.values[index]
        assert isinstance(value, int)
        return value

    def text(self, index: int = 0) -> str:
        value = self.values[index]
        assert isinstance(value, str)
        return value


class CallbackCodec:
    """The button data of one journey: a prefix and its actions, each with its fields."""

    def __init__(self, prefix: str, actions: Mapping[str, tuple[Field, ...]]) -> None:
        assert re.fullmatch(r"[a-z]+(:[a-z]+)?", prefix), prefix
        self.prefix = prefix
        self.actions: dict[str, tuple[Field, ...]] = dict(actions)
        self._regex = {action: re.compile(self._body(action, fields)) for action, fields in self.actions.items()}

    def _body(self, action: str, fields: tuple[Field, ...]) -> str:
        return ":".join([re.escape(self.prefix), re.escape(action), *(_field_regex(f) for f in fields)])

    def build(self, action: str, *values: int | str) -> str:
        """The data for one button; refuses values its spec would not parse back, and data over 64 bytes."""
        fields = self.actions[action]
        if len(values) != len(fields):
            raise ValueError(f"{self.prefix}:{action} takes {len(fields)} value(s), got {len(values)}")
        for field, value in zip(fields, values, strict=True):
            kind = int if field is int else str
            if isinstance(value, bool) or not isinstance(value, kind):
                raise ValueError(f"{self.prefix}:{action}: {value!r} is not {kind.__name__}")
        data = ":".join([self.prefix, action, *(str(v) for v in values)])
        if len(data.encode()) > MAX_BYTES:
            raise ValueError(f"callback data over {MAX_BYTES} bytes: {data!r}")
        if self.parse(data) != Callback(action, tuple(values)):
            raise ValueError(f"{data!r} would not parse back")
        return data

    def parse(self, data: object) -> Callback | None:
        """The press, or None for anything else (foreign, forged, garbage, too long): never raises."""
        if not isinstance(data, str) or len(data) > MAX_BYTES or not data.startswith(self.prefix + ":"):
            return None
        action = data[len(self.prefix) + 1:].split(":", 1)[0]
        regex = self._regex.get(action)
        match = regex.fullmatch(data) if regex is not None else None
        if match is None:
            return None
        values = tuple(int(v) if f is int else v for f, v in zip(self.actions[action], match.groups(), strict=True))
        return Callback(action, values)

    def pattern(self, *actions: str) -> re.Pattern[str]:
        """For CallbackQueryHandler: the data of these actions (all of them when none is named)."""
        chosen = actions or tuple(self.actions)
        unknown = set(chosen) - set(self.actions)
        assert not unknown, unknown
        return re.compile("^(?:" + "|".join(self._body(a, self.actions[a]) for a in chosen) + r")\Z")

    @property
    def any_pattern(self) -> re.Pattern[str]:
        """Anything carrying this journey's prefix, valid or not (for the journey's own stale answer)."""
        return re.compile("^" + re.escape(self.prefix) + ":")


# The /new wizard (handlers/new_case.py).
NEW_CASE = CallbackCodec("new", {
    "dept": (int,), "page": (int,), "src": (str,), "grade": (str,), "skip": (), "conf": (("0", "1"),),
    "confirm": (), "edit": (), "field": (str,), "cancel": (),
})
# 确认收到 on the feedback card (bot/cases.py renders it; handlers/cases.py takes the press).
RECEIPT = CallbackCodec("case", {"ack": (int,)})
# Importing a ledger with bad rows: go on with the good rows, or cancel (token of the saved upload).
LEDGER = CallbackCodec("ledger", {"go": (str,), "no": (str,)})
# The report draft: rp:c:CASE starts one; the others carry the report id last (rp:p:PROGRESS:REPORT…).
REPORT = CallbackCodec("rp", {
    "c": (int,), "next": (int,), "p": (str, int), "evdone": (int,), "goto": (str, int), "rewrite": (int,),
    "evclear": (int,), "edit": (int,), "cancel": (int,), "submit": (int,),
    "is": (("done", "in_progress", "cannot"), int, int), "irw": (int, int), "items": (int,),
})
# 逐条整改: rp:is:STATUS:ITEM:REPORT sets one item's status, rp:irw:ITEM:REPORT rewrites it, rp:items:REPORT
# goes through the items again.
# Open a case with its history from the /cases list.
OPEN_CASE = CallbackCodec("cs", {"o": (int,)})
# Review cards: the decisions and /review's open buttons carry the report id; rv:due:default takes the
# default rework deadline, rv:due:keep keeps the case's deadline (保持原期限), rv:due:yes confirms an earlier
# date the supervisor typed.
REVIEW = CallbackCodec("rv", {
    "close": (int,), "return_for_rework": (int,), "refused": (int,), "inadequate": (int,),
    "falsely_reported": (int,), "open": (int,), "due": (("default", "keep", "yes"),),
    "nonote": (int,), "closeok": (int,), "back": (int,),
})
# 销号 in steps: close asks for the 审核意见, nonote (无意见) skips it, closeok confirms, back leaves it undecided.
REVIEW_CLOSE_STEPS = ("close", "nonote", "closeok", "back")
REVIEW_NEEDS_WORDS = ("return_for_rework", "refused", "inadequate", "falsely_reported")
# Extensions: ex:c:CASE asks for one and send / edit / drop answer its check step (liaison, case id);
# approve / other / refuse decide request ID (bureau).
EXTENSION = CallbackCodec("ex", {"c": (int,), "send": (int,), "edit": (int,), "drop": (int,), "approve": (int,),
                                 "other": (int,), "refuse": (int,)})
EXTENSION_CHECK = ("send", "edit", "drop")
# The to-do (bot/todo.py): td:ext:REQUEST opens an extension request's decision card, td:fb:CASE the
# feedback card (with 确认收到) as a new message; its other lines open with the codecs above (rv:open,
# cs:o, rp:c).
TODO = CallbackCodec("td", {"ext": (int,), "fb": (int,)})
# A registered person who redeemed another code: change to the code's role, or keep the current one.
INVITE = CallbackCodec("inv", {"change": (), "keep": ()})
# The daily digest's lists: the action is the section (bot.digests.SECTIONS).
DIGEST = CallbackCodec("dg", {s: () for s in ("new", "overdue", "soon", "review", "provisional", "noliaison")})
# ◀ ▶ of every paged list (bot/paging.py): pg:<list>:<page>, and pg:dg:<section>:<page> for the digest's lists.
# The page is recomputed for whoever presses, so the data carries nothing but the list and the number.
PAGE = CallbackCodec("pg", {
    "cases": (int,), "report": (int,), "extend": (int,), "review": (int,), "budget": (int,), "overdue": (int,),
    "todo": (int,),
    "nt": (int,), "nr": (int, int),  # a list notice's pages (issue 14), the reply chooser's (message id, page)
    "status": (int,), "sdept": (int, int),  # /status, and one department's cases (department id, page)
    "stats": (int, int, int),  # /stats ranking pages: period start and end as yyyymmdd, page
    "dg": (("new", "overdue", "soon", "review", "provisional", "noliaison"), int),
})
# /status: open one department's cases (st:d:DEPARTMENT); authorized again on every press.
STATUS = CallbackCodec("st", {"d": (int,)})
