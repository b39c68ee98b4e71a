"""Direct database set-up and read-outs for the fault suite (sqlite3, like an operator's script).

Populations and notices are written straight into the database so a test spends its time on the
fault it is about, not on thousands of chat registrations."""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from bot.sandbox import SandboxServer

CLOCK = "2026-03-20T10:00:00+08:00"  # a Friday, a working day
NOW = "2026-03-20T02:00:00+00:00"


def connect(database: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(database, timeout=30, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn


def add_department(conn: sqlite3.Connection, name: str) -> int:
    cur = conn.execute("INSERT INTO departments (name, created_at) VALUES (?, ?)", (name, NOW))
    assert cur.lastrowid is not None
    return cur.lastrowid


def add_people(conn: sqlite3.Connection, rows: Iterable[tuple[int, str, str, int | None]]) -> list[int]:
    """(telegram id, name, role, department id) → the people ids, in order."""
    ids = []
    for telegram_id, name, role, department in rows:
        cur = conn.execute(
            "INSERT INTO people (telegram_id, name, role, department_id, locale, created_at)"
            " VALUES (?, ?, ?, ?, 'zh_CN', ?)", (telegram_id, name, role, department, NOW))
        assert cur.lastrowid is not None
        ids.append(cur.lastrowid)
    return ids


def add_case(conn: sqlite3.Connection, department: int, *, due_on: str = "2026-06-30",
             project: str = "义务教育均衡发展补助资金", confidential: bool = False) -> int:
    """A case the reminder sweep leaves alone (next_action_at NULL), so only the test's notices go out."""
    cur = conn.execute(
        "INSERT INTO cases (department_id, project, source, findings, suggestions, feedback_doc_no,"
        " feedback_received_on, period, due_on, due_provisional, due_rule, confidential, status,"
        " next_action_at, created_by, created_at, updated_at)"
        " VALUES (?, ?, 'evaluation', '绩效目标不明确', '细化指标', ?, '2026-02-28', '2m', ?, 0, 'months', ?,"
        " 'in_progress', NULL, 'cli', ?, ?)",
        (department, project, f"海财绩〔2026〕{department}号", due_on, int(confidential), NOW, NOW))
    assert cur.lastrowid is not None
    return cur.lastrowid


def enqueue_reminders(conn: sqlite3.Connection, case_id: int, people: Sequence[int], *, tag: str,
                      due: str = "2026-06-30") -> None:
    """One due reminder per person, as the sweep would enqueue them (kind, payload, a stable key)."""
    payload = json.dumps({"case_id": case_id, "due": due, "for_day": "2026-03-20", "days_left": 20})
    conn.executemany(
        "INSERT INTO outbox (key, person_id, case_id, kind, payload, not_before, created_at)"
        " VALUES (?, ?, ?, 'reminder', ?, ?, ?)",
        [(f"{tag}:{p}", p, case_id, payload, "2000-01-01T00:00:00+00:00", NOW) for p in people])


def outbox_states(database: Path) -> dict[str, int]:
    with connect(database) as conn:
        return dict(conn.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())


def wait_settled(database: Path, timeout: float) -> dict[str, int]:
    """Until nothing is pending or being sent; returns the final states."""
    end = time.monotonic() + timeout
    while True:
        states = outbox_states(database)
        if not states.get("pending") and not states.get("sending"):
            return states
        assert time.monotonic() < end, f"outbox not settled after {timeout} s: {states}"
        time.sleep(0.2)


def integrity(database: Path) -> str:
    with connect(database) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def received(sandbox: SandboxServer, chats: Iterable[int], contains: str | None = None) -> Counter[int]:
    """Bot messages per chat (optionally only those containing `contains`)."""
    wanted = set(chats)
    return Counter(m.chat_id for m in sandbox.messages()
                   if m.chat_id in wanted and (contains is None or contains in (m.text or m.caption or "")))
