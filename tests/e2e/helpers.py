"""Small helpers the end-to-end tests share: match a sent message, read the bot's database from
outside (as an operator would, with a busy timeout, never writing), wait for a value to appear."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

from bot.sandbox import SentMessage
from tests.e2e.harness import RectbotProcess


def has(*parts: str) -> Callable[[SentMessage], bool]:
    """A predicate for `wait_for`: the message's text or caption contains every part."""
    return lambda m: all(p in m.content for p in parts)


def db(bot: RectbotProcess) -> sqlite3.Connection:
    conn = sqlite3.connect(bot.database, timeout=30, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn


def one(bot: RectbotProcess, sql: str, *params: object) -> object:
    """The first column of the first row, or None."""
    conn = db(bot)
    try:
        row = conn.execute(sql, params).fetchone()
        return row[0] if row else None
    finally:
        conn.close()


def wait_db(bot: RectbotProcess, sql: str, expected: object, *params: object, timeout: float = 20) -> None:
    """Wait until the bot has committed what the test expects (its writes are asynchronous to ours)."""
    end = time.monotonic() + timeout
    while (value := one(bot, sql, *params)) != expected:
        assert time.monotonic() < end, f"{sql} → {value!r}, expected {expected!r}"
        time.sleep(0.1)
