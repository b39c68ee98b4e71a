from __future__ import annotations

import contextlib
import enum
import os
import re
import sqlite3
import zoneinfo
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from bot import domain
from bot.sandbox import SandboxServer
from bot.settings import Settings
from tests.e2e.harness import RectbotProcess

Factory = Callable[..., RectbotProcess]


# Telegram's one message a second per private chat makes a long conversation a long test. Tests of
# what is said (not of pacing) are marked fast_chats: the bot spaces one chat's messages 0.05 s apart
# (testing.chat_interval, as the demo does) and the sandbox counts flood excess instead of refusing it.
# Pacing itself stays tested unmarked: reminders, groups, webhook, the fault and fuzz suites,
# tests/test_ratelimit.py.
FAST_CHAT_INTERVAL = 0.05


def fast_chats(request: pytest.FixtureRequest) -> bool:
    return request.node.get_closest_marker("fast_chats") is not None


@pytest.fixture
def sandbox(request: pytest.FixtureRequest) -> Iterator[SandboxServer]:
    with SandboxServer(enforce_flood=not fast_chats(request)) as server:
        request.node.stash[SEEN].servers.append(server)
        yield server
        if os.environ.get("RECTBOT_E2E_TRANSCRIPT"):  # read what users saw: RECTBOT_E2E_TRANSCRIPT=1 pytest -s
            for m in server.messages():
                print(f"--- to {m.chat_id} #{m.message_id}: {m.text or m.caption or ''}  {m.buttons or ''}")
        assert server.internal_errors == [], server.internal_errors


# --------------------------------------------------------------------------- no internal code ever shown
# Chinese users must never read what only the code knows: an enum value of bot/domain.py
# (return_for_rework, awaiting_review, liaison), a settings key (telegram.token), an IANA zone name
# (Asia/Shanghai). Every e2e test's sandbox is scanned at teardown (the `sandbox` fixture above).

@dataclass
class _Seen:
    """What one e2e test used: its sandboxes (what was sent) and its bots' databases (who reads English)."""

    servers: list[SandboxServer] = field(default_factory=list)
    databases: list[Path] = field(default_factory=list)


SEEN = pytest.StashKey[_Seen]()


@pytest.fixture(autouse=True)
def no_internal_codes(request: pytest.FixtureRequest) -> Iterator[None]:
    """At the end of every e2e test (set up first, so torn down last, after the bots stopped): fail
    listing every internal code the bot showed a Chinese reader."""
    seen = request.node.stash[SEEN] = _Seen()
    yield
    english = english_chats(seen.databases)
    offenders = [line for server in seen.servers for line in internal_codes_shown(server, english)]
    assert offenders == [], "internal codes shown to zh_CN users:\n" + "\n".join(offenders)


def english_chats(databases: list[Path]) -> set[int]:
    """Private chats of people whose language is English at the end of the test (their messages are skipped)."""
    chats: set[int] = set()
    for path in databases:
        if not path.exists():
            continue
        with contextlib.suppress(sqlite3.Error), contextlib.closing(sqlite3.connect(path)) as conn:
            chats |= {int(r[0]) for r in conn.execute("SELECT telegram_id FROM people WHERE locale <> 'zh_CN'")}
    return chats


# Codes a message may show on purpose, each with its reason.
ALLOWED_CODES: dict[str, str] = {}

_CJK = re.compile(r"[\u3400-\u9fff]")


@cache
def internal_codes() -> frozenset[str]:
    """Every enum value in bot/domain.py, every settings key as section.key, every zone name with a slash."""
    codes: set[str] = set()
    for obj in vars(domain).values():
        if isinstance(obj, type) and issubclass(obj, enum.Enum) and obj.__module__ == domain.__name__:
            codes |= {str(m.value) for m in obj}
    for section, info in Settings.model_fields.items():
        model = info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            codes |= {f"{section}.{key}" for key in model.model_fields}
    codes |= {z for z in zoneinfo.available_timezones() if "/" in z}
    return frozenset(codes - ALLOWED_CODES.keys())


@cache
def _code_pattern() -> re.Pattern[str]:
    # ASCII word boundaries written out: Python's \b counts CJK as word characters (so
    # "return_for_rework审核" would slip through), and a code right after "/" is a command (/report).
    alternatives = "|".join(re.escape(c) for c in sorted(internal_codes(), key=len, reverse=True))
    return re.compile(rf"(?<![A-Za-z0-9_/.])(?:{alternatives})(?![A-Za-z0-9_])")


def internal_codes_shown(server: SandboxServer, english: set[int]) -> list[str]:
    """Offending lines: what the bot sent to private chats (texts, captions, every edit, button labels)
    of zh_CN readers. A chat is skipped when its person reads English; a message without any CJK
    character is skipped too (a bare number, a file's caption that is its name)."""
    pattern = _code_pattern()
    found: list[str] = []
    for m in server.messages():
        if m.chat_id <= 0 or m.chat_id in english:
            continue
        texts = [m.original_text, m.text, m.caption, *(e.text for e in m.edits), *(e.caption for e in m.edits)]
        texts += [label for label, _data in m.buttons]
        texts += [label for row in m.reply_keyboard for label in row]
        chinese = any(_CJK.search(x) for x in texts if x)
        if not chinese:
            continue
        for text in {x for x in texts if x}:
            for hit in sorted(set(pattern.findall(text))):
                found.append(f"chat {m.chat_id} #{m.message_id}: {hit!r} in {text[:300]!r}")
    return found


@pytest.fixture
def rectbot(tmp_path: Path, sandbox: SandboxServer, request: pytest.FixtureRequest) -> Iterator[Factory]:
    """rectbot(**sections) → a RectbotProcess (not started) with its own config and database."""
    made: list[RectbotProcess] = []

    def make(settings: Mapping[str, Mapping[str, Any]] | None = None, name: str = "bot") -> RectbotProcess:
        workdir = tmp_path / name
        workdir.mkdir()
        sections = {key: dict(value) for key, value in (settings or {}).items()}
        if fast_chats(request):
            sections.setdefault("testing", {}).setdefault("chat_interval", FAST_CHAT_INTERVAL)
        proc = RectbotProcess(workdir, sandbox, sections)
        made.append(proc)
        request.node.stash[SEEN].databases.append(proc.database)
        return proc

    yield make
    for proc in made:
        proc.stop()
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        for proc in made:
            print(f"--- rectbot log ({proc.workdir}) ---\n{proc.log()[-6000:]}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep
