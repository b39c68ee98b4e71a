"""Fuzzed chat traffic for issue 13.3: hypothesis strategies for what people send, a population of
every role, and a driver that plays the traffic through the sandbox and checks every answer.

The driver keeps a window of unanswered updates (so a slow bot is measured, not flooded) and
rotates senders within each role, so Telegram's one-message-per-second-per-chat pacing is
never what the run waits on."""

from __future__ import annotations

import io
import json
import random
import re
import string
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import cycle
from typing import Any

from hypothesis import strategies as st

from bot.sandbox import ApiCall, SandboxServer, SandboxUser, SentMessage
from tests.faults.helpers import add_case, add_department, add_people, connect

# --------------------------------------------------------------------------- what people type
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
RTL = "\u200f\u202e\u202b\u2067\u061cمرحبا بالعالمשלום"
CONTROL = "".join(chr(c) for c in range(32)) + "\x7f\x85\u2028\u2029"
MARKUP = "<>&*_`[]()~|#+-=.!\\/@:;'\"%{}$"
ODD = ["👨‍👩‍👧‍👦", "🏳️‍🌈", "\U0001f600", "e\u0301\u0301", "〔2026〕", "１２３", "整改", "海财绩", "ﷺ", "𝕏", "\U000e0001"]
COMMANDS = ["start", "help", "whoami", "lang", "invite", "new", "case", "feedback", "received", "changedue",
            "export", "cancel", "deadline", "overdue", "digest", "cases", "report", "extend", "review",
            "budget", "spotcheck", "admin", "department", "settings", "stop"]
PREFIXES = ["new", "case", "ledger", "rp", "cs", "rv", "ex", "dg", "x", ""]
EXTENSIONS = [".xlsx", ".XLSX", ".xls", ".csv", ".pdf", ".docx", ".zip", ".exe", ".txt", "", ".xlsx.exe", ".",
              ".tar.gz", ".jpg", "/../../etc/passwd", ".xlsx\u202egpj"]
MIMES = ["application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "text/csv", "application/pdf",
         "application/octet-stream", "image/png", "text/html", "application/x-msdownload", None]
INTERESTING = ["", " ", "\n\n\n", "/", "//", "/start", "@rectbot_test", "0", "-1", "2026-02-30", "明天", "下周一",
               "2026年3月5日", "3个月", "2m", "1e309", "NaN", "9" * 40, "<b>", "</b>", "&amp;", "*bold", "_", "`",
               "[x](tg://user?id=1)", "%s %d {0} {name}", "'; DROP TABLE cases; --", "\\", "\x00", "确认", "取消"]

pieces = st.one_of(st.sampled_from(list(ZERO_WIDTH + RTL + CONTROL + MARKUP) + ODD),
                   st.characters(exclude_categories=["Cs"]))  # no lone surrogates: they are not valid UTF-8
chunk = st.lists(pieces, max_size=30).map("".join)
texts = st.one_of(
    chunk,
    st.sampled_from(INTERESTING),
    st.builds(lambda s, n: (s * n)[:10_000], chunk.filter(bool), st.integers(1, 10_000)),  # up to 10,000 chars
    st.builds(lambda a, b: a + b, st.sampled_from(INTERESTING), chunk),
)
command_names = st.one_of(
    st.sampled_from(COMMANDS),
    st.sampled_from(COMMANDS).map(str.upper),
    st.sampled_from(COMMANDS).map(lambda c: c + "@rectbot_test"),
    st.sampled_from(COMMANDS).map(lambda c: c + "@other_bot"),
    st.text(alphabet=string.ascii_lowercase + string.digits + "_", min_size=1, max_size=40),
)
ARG_WORDS = [*INTERESTING[4:], "liaison", "supervisor", "admin", "县教育局", "县第0局", "县第1局", "1", "2",
             "99999999999999999999"]
command_args = st.one_of(st.just(""), texts, st.lists(st.sampled_from(ARG_WORDS), max_size=4).map(" ".join))


def _fit_bytes(s: str, limit: int = 64) -> str:
    """Telegram carries at most 64 bytes of callback data; a forged press cannot carry more."""
    while len(s.encode("utf-8")) > limit:
        s = s[:-1]
    return s


callback_data = st.one_of(
    st.builds(lambda p, rest: _fit_bytes(f"{p}:{rest}"), st.sampled_from(PREFIXES), chunk),
    st.builds(lambda p, a, n: _fit_bytes(f"{p}:{a}:{n}"), st.sampled_from(PREFIXES),
              st.sampled_from(["c", "o", "ack", "go", "no", "close", "open", "approve", "dept", "page", "confirm",
                               "submit", "cancel", "due", "p", "goto", "field", "overdue", "noliaison"]),
              st.one_of(st.integers(-5, 10**12).map(str), chunk)),
    chunk.map(_fit_bytes),
)


@dataclass(frozen=True)
class Doc:
    """A document's name, type, size and how its bytes look."""

    name: str
    mime: str | None
    size: int
    content: str  # zeros | random | zip | xlsx | csv
    seed: int


documents = st.builds(
    Doc,
    name=st.builds(lambda stem, ext: (stem + ext)[:300] or "x", chunk, st.sampled_from(EXTENSIONS)),
    mime=st.sampled_from(MIMES),
    size=st.one_of(st.integers(1, 4096), st.integers(4097, 200_000),
                   st.sampled_from([1024 * 1024, 20 * 1024 * 1024 + 1])),  # the last is over getFile's 20 MB
    content=st.sampled_from(["zeros", "random", "zip", "xlsx", "csv"]),
    seed=st.integers(0, 2**31),
)


@dataclass(frozen=True)
class Action:
    """One update: who sends it (role), where (private or a group) and what."""

    kind: str  # text | command | press | document | photo | voice | reply
    role: str  # stranger | liaison | supervisor | admin
    in_group: bool
    text: str = ""
    command: str = ""
    data: str = ""
    real_button: bool = False
    button: int = 0
    doc: Doc | None = None


KINDS = ["text"] * 6 + ["command"] * 5 + ["press"] * 4 + ["document"] * 2 + ["reply"] * 2 + ["photo", "voice"]
ROLES = ["stranger"] * 5 + ["liaison"] * 8 + ["supervisor"] * 4 + ["admin"] * 3
_commands = st.builds(lambda n, a: f"{n} {a}".rstrip(), command_names, command_args)
# Only what each kind uses is drawn, which keeps generation cheap (10,000 of these per run).
_by_kind: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "text": st.fixed_dictionaries({"text": texts}),
    "command": st.fixed_dictionaries({"command": _commands}),
    "press": st.fixed_dictionaries({"data": callback_data, "real_button": st.booleans(),
                                    "button": st.integers(0, 200)}),
    "document": st.fixed_dictionaries({"doc": documents, "text": st.one_of(st.just(""), chunk)}),
    "reply": st.fixed_dictionaries({"text": texts, "button": st.integers(0, 200),
                                    "doc": st.one_of(st.none(), st.none(), documents)}),
    "photo": st.fixed_dictionaries({"text": st.one_of(st.just(""), texts)}),
    "voice": st.fixed_dictionaries({"button": st.integers(0, 120)}),
}
WHERE = [False] * 6 + [True]  # one update in seven comes from a group chat
actions = st.tuples(st.sampled_from(KINDS), st.sampled_from(ROLES), st.sampled_from(WHERE)).flatmap(
    lambda krg: _by_kind[krg[0]].map(lambda fields: Action(kind=krg[0], role=krg[1], in_group=krg[2], **fields)))


PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000002000000030802000000") + b"\x00" * 16
_BIG: dict[int, bytes] = {}


def doc_bytes(doc: Doc) -> bytes:
    """The bytes of a fuzzed document; the large ones are shared so memory stays small."""
    if doc.size >= 1024 * 1024:
        return _BIG.setdefault(doc.size, b"\x00" * doc.size)
    rng = random.Random(doc.seed)
    if doc.content == "xlsx":
        return _xlsx(rng)
    if doc.content == "csv":
        rows = ["项目,单位,整改期限", *(",".join(rng.choice(INTERESTING + ODD) for _ in range(3)) for _ in range(5))]
        return "\n".join(rows).encode("utf-8")[: doc.size] or b","
    if doc.content == "zip":
        return (b"PK\x03\x04" + rng.randbytes(doc.size))[: doc.size]
    if doc.content == "random":
        return rng.randbytes(doc.size)
    return b"\x00" * doc.size


def _xlsx(rng: random.Random) -> bytes:
    """A real workbook with odd cells: the ledger import must refuse it politely, not crash."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    def cell(value: Any) -> Any:  # a workbook cannot hold control characters at all
        return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(rng.choice([["项目名称", "主管部门", "评价等级", "整改期限"], ["a", "b"], []]))
    for _ in range(rng.randint(0, 6)):
        ws.append([cell(rng.choice([*INTERESTING, *ODD, None, 3.5, -1, 10**20])) for _ in range(rng.randint(0, 6))])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# --------------------------------------------------------------------------- who sends it
@dataclass
class Population:
    """Sandbox users by role (strangers are not in the database) and the group chats."""

    by_role: dict[str, list[SandboxUser]]
    groups: list[int]
    rotation: dict[str, Iterator[SandboxUser]] = field(default_factory=dict)
    group_rotation: Iterator[int] | None = None

    def next_user(self, role: str) -> SandboxUser:
        if role not in self.rotation:
            self.rotation[role] = cycle(self.by_role[role])
        return next(self.rotation[role])

    def next_group(self) -> int:
        if self.group_rotation is None:
            self.group_rotation = cycle(self.groups)
        return next(self.group_rotation)

    @property
    def private_chats(self) -> list[int]:
        return [u.id for users in self.by_role.values() for u in users]


def populate(sandbox: SandboxServer, database: Any, *, sizes: dict[str, int], departments: int,
             groups: int) -> Population:
    """Users of every role in the sandbox and (except strangers) in the database, with a few cases."""
    by_role = {role: [sandbox.create_user(first_name=f"{role}{i}", username=f"{role}_{i}" if i % 3 else None,
                                          language_code=("en" if i % 5 == 0 else "zh-hans"))
                      for i in range(n)] for role, n in sizes.items()}
    conn = connect(database)
    try:
        conn.execute("BEGIN")
        depts = [add_department(conn, f"县第{i}局") for i in range(departments)]
        for i, dept in enumerate(depts):
            add_case(conn, dept, due_on=f"2026-{4 + i % 6:02d}-15", confidential=i % 4 == 0)
        rows: list[tuple[int, str, str, int | None]] = [
            (u.id, u.info.first_name, "liaison", depts[i % len(depts)]) for i, u in enumerate(by_role["liaison"])]
        rows += [(u.id, u.info.first_name, role, None) for role in ("supervisor", "admin") for u in by_role[role]]
        add_people(conn, rows)
        conn.execute("COMMIT")
    finally:
        conn.close()
    members = [u for role in ("stranger", "liaison", "supervisor", "admin") for u in by_role[role]]
    group_ids = [sandbox.create_group(f"群{i}", supergroup=i % 2 == 0) for i in range(groups)]
    return Population(by_role, group_ids, group_rotation=None) if members else Population(by_role, group_ids)


# --------------------------------------------------------------------------- playing it
@dataclass
class Expect:
    """A private message that needs a bot message after it, or a button press that needs its answer."""

    chat: int
    sent_at: float
    baseline: int = 0
    query_id: str | None = None
    what: str = ""


@dataclass
class Tally:
    updates: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    private_expected: int = 0
    presses_expected: int = 0
    unanswered: list[str] = field(default_factory=list)
    answer_latency: list[float] = field(default_factory=list)


class Driver:
    """Sends actions through the sandbox, at most `window` unanswered at a time; `answer_timeout` bounds a wait."""

    def __init__(self, sandbox: SandboxServer, population: Population, *, window: int,
                 answer_timeout: float = 30.0) -> None:
        self.sandbox = sandbox
        self.population = population
        self.window = window
        self.answer_timeout = answer_timeout
        self.outstanding: list[Expect] = []
        self.tally = Tally()

    def _bot_messages(self, chat: int) -> list[SentMessage]:
        return self.sandbox.messages(chat)

    def _prune(self) -> int:
        now = time.monotonic()
        keep = []
        for e in self.outstanding:
            if e.query_id is not None:
                done = self.sandbox.callback_answer(e.query_id) is not None
            else:
                done = len(self._bot_messages(e.chat)) > e.baseline
            if done:
                self.tally.answer_latency.append(now - e.sent_at)
            elif now - e.sent_at > self.answer_timeout:
                self.tally.unanswered.append(e.what)
            else:
                keep.append(e)
        self.outstanding = keep
        return len(keep)

    def wait_room(self, limit: int) -> None:
        self.sandbox.wait_until(lambda: self._prune() <= limit or None, timeout=self.answer_timeout + 30,
                                what=f"at most {limit} unanswered updates")

    def play(self, action: Action) -> None:
        self.wait_room(self.window - 1)
        user = self.population.next_user(action.role)
        chat = self.population.next_group() if action.in_group else user.id
        group = chat if action.in_group else None
        history = self._bot_messages(chat)
        kind = action.kind
        if kind in ("press", "reply") and not history:
            kind = "command" if action.role == "stranger" else "text"
        baseline = len(history)
        detail = action.command if kind == "command" else action.doc.name if action.doc else action.text
        what = f"{kind} from {action.role} in {'group' if group else 'private'}: {detail[:60]!r}"
        sent_at = time.monotonic()
        query_id: str | None = None
        if kind == "text":
            user.send_text(action.text or ".", chat_id=group)
        elif kind == "command":
            name, _, args = action.command.partition(" ")
            self.sandbox.send_command(user, name, args, chat_id=group)
        elif kind == "press":
            target = history[-1]
            buttons = [d for m in history[-3:] for _, d in m.buttons if d]
            data = buttons[action.button % len(buttons)] if action.real_button and buttons else action.data
            with_buttons = [m for m in history if m.buttons]
            if action.real_button and with_buttons:
                target = with_buttons[-1]
            query_id = self.sandbox.press_button(user, target.message_id, data=data, chat_id=chat)
        elif kind == "reply":
            target = history[-1 - action.button % len(history)]
            if action.doc is not None:
                user.send_document(action.doc.name, doc_bytes(action.doc), action.doc.mime, chat_id=group,
                                   reply_to=target)
            else:
                user.send_text(action.text or ".", chat_id=group, reply_to=target)
        elif kind == "document":
            doc = action.doc or Doc("整改报告.pdf", "application/pdf", 100, "random", 1)
            user.send_document(doc.name, doc_bytes(doc), doc.mime, caption=action.text[:1024] or None, chat_id=group)
        elif kind == "photo":
            user.send_photo(PNG, caption=action.text[:1024] or None, chat_id=group)
        else:
            user.send_voice(b"OggS" + bytes(action.button), duration=1 + action.button % 60, chat_id=group)
        self.tally.updates += 1
        self.tally.by_kind[f"{kind}/{action.role}/{'group' if group else 'private'}"] += 1
        if query_id is not None and group is None:
            self.tally.presses_expected += 1
            self.outstanding.append(Expect(chat, sent_at, query_id=query_id, what=what + f" data={data!r}"))
        elif group is None:
            self.tally.private_expected += 1
            self.outstanding.append(Expect(chat, sent_at, baseline=baseline, what=what))

    def finish(self) -> None:
        self.wait_room(0)


# --------------------------------------------------------------------------- checking what the bot sent
TEXT_LIMIT, CAPTION_LIMIT, DATA_LIMIT, ANSWER_LIMIT, BUTTONS_LIMIT, ROW_LIMIT = 4096, 1024, 64, 200, 100, 8


def _utf16(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def over_limits(calls: Sequence[ApiCall]) -> list[str]:
    """Every outgoing call that breaks one of Telegram's size limits, judged from what was sent
    (independently of what the sandbox enforces); HTML/Markdown markup is counted as sent."""
    found = []
    for c in calls:
        p = c.params
        text, caption = p.get("text"), p.get("caption")
        if c.method in ("sendMessage", "editMessageText") and isinstance(text, str) and _utf16(text) > TEXT_LIMIT \
                and not p.get("parse_mode"):
            found.append(f"{c.method} text of {_utf16(text)}")
        if isinstance(caption, str) and _utf16(caption) > CAPTION_LIMIT and not p.get("parse_mode"):
            found.append(f"{c.method} caption of {_utf16(caption)}")
        if c.method == "answerCallbackQuery" and isinstance(text, str) and len(text) > ANSWER_LIMIT:
            found.append(f"answerCallbackQuery text of {len(text)}")
        markup: Any = p.get("reply_markup")
        if isinstance(markup, str):
            try:
                markup = json.loads(markup)
            except ValueError:
                markup = None
        rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
        if rows:
            if sum(len(r) for r in rows) > BUTTONS_LIMIT or any(len(r) > ROW_LIMIT for r in rows):
                found.append(f"{c.method} keyboard of {[len(r) for r in rows]}")
            for r in rows:
                for b in r:
                    data = b.get("callback_data") if isinstance(b, dict) else None
                    if isinstance(data, str) and len(data.encode("utf-8")) > DATA_LIMIT:
                        found.append(f"{c.method} callback data of {len(data.encode('utf-8'))} bytes")
    return found


def refused_calls(calls: Sequence[ApiCall]) -> Counter[str]:
    """HTTP status ≥ 400 per method (the sandbox answers like Telegram)."""
    return Counter(f"{c.method} {c.status}" for c in calls if c.status >= 400)


# Codes as issued now (K7QMX-4XPDR, bot.people.new_code) and the older 16-character URL-safe ones; a
# code may end in "-", where \b finds no word boundary, so look ahead for the code alphabet instead.
INVITATION = re.compile(r"/start (?:[2-9A-HJKMNP-Z]{5}-[2-9A-HJKMNP-Z]{5}|[A-Za-z0-9_-]{16})(?![A-Za-z0-9_-])")


def invitation_codes(sandbox: SandboxServer) -> set[str]:
    """Every invitation code the bot wrote anywhere (it sends them as "/start CODE")."""
    return {m.content.split()[1] for m in sandbox.messages() if INVITATION.search(m.content)}


def group_leaks(sandbox: SandboxServer, groups: Sequence[int]) -> list[str]:
    """Files or invitation codes the bot put into a group chat."""
    codes = invitation_codes(sandbox)
    leaks = []
    for g in groups:
        for m in sandbox.messages(g):
            if m.file is not None:
                leaks.append(f"file {m.file.file_name!r} to group {g}")
            if INVITATION.search(m.content) or any(code in m.content for code in codes):
                leaks.append(f"invitation code to group {g}")
    return leaks
