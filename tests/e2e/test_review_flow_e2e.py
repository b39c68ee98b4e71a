"""Issue 10 item 7 end to end: review as a 督办 office works, through the real `rectbot run`.

退回补充 shows the current deadline and keeps it on [保持原期限]; a date earlier than the deadline is
said to be earlier and taken only on a second, explicit press (the replayed failure: 2027-02-02
silently replaced by the 10-working-day default 2026-12-16).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime

from bot.sandbox import SandboxServer, SandboxUser, SentMessage
from tests.e2e.harness import RectbotProcess

CLOCK = "2026-12-02T10:00:00+08:00"   # Wednesday; 10 working days later is 2026-12-16
DEADLINE = "2027-02-02"
Factory = Callable[..., RectbotProcess]


def has(*parts: str) -> Callable[[SentMessage], bool]:
    return lambda m: all(p in m.content for p in parts)


def db(bot: RectbotProcess) -> sqlite3.Connection:
    conn = sqlite3.connect(bot.database, timeout=30, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn


def one(bot: RectbotProcess, sql: str, *params: object) -> object:
    conn = db(bot)
    try:
        row = conn.execute(sql, params).fetchone()
        return row[0] if row else None
    finally:
        conn.close()


def wait_db(bot: RectbotProcess, sql: str, expected: object, *params: object, timeout: float = 20) -> None:
    end = time.monotonic() + timeout
    while (value := one(bot, sql, *params)) != expected:
        assert time.monotonic() < end, f"{sql} → {value!r}, expected {expected!r}"
        time.sleep(0.1)


def submitted_case(bot: RectbotProcess, department: str, author: SandboxUser, *, project: str, findings: str,
                   measures: str) -> tuple[int, int]:
    """A case with a report already submitted (what /review lists), written as the bot itself would."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    conn = db(bot)
    try:
        dept = conn.execute("SELECT id FROM departments WHERE name = ?", (department,)).fetchone()[0]
        author_id = conn.execute("SELECT id FROM people WHERE telegram_id = ?", (author.id,)).fetchone()[0]
        cur = conn.execute(
            "INSERT INTO cases (department_id, project, source, grade, findings, suggestions, feedback_doc_no,"
            " feedback_received_on, period, due_on, due_provisional, due_rule, confidential, status,"
            " next_action_at, created_by, created_at, updated_at)"
            " VALUES (?, ?, 'evaluation', 'fair', ?, '加快拨付', ?, '2026-11-20', '2m', ?, 0, 'months', 0,"
            " 'reported', '2000-01-01T00:00:00+00:00', 'cli', ?, ?)",
            (dept, project, findings, f"盐财绩〔2026〕{project}", DEADLINE, now, now),
        )
        case_id = cur.lastrowid
        cur = conn.execute(
            "INSERT INTO reports (case_id, author_id, state, step, measures, progress, created_at, updated_at,"
            " submitted_at, submitted_on, on_time) VALUES (?, ?, 'submitted', 'summary', ?, 'done', ?, ?, ?,"
            " '2026-12-01', 1)", (case_id, author_id, measures, now, now, now),
        )
        assert case_id is not None and cur.lastrowid is not None
        return case_id, cur.lastrowid
    finally:
        conn.close()


def setup(sandbox: SandboxServer, rectbot: Factory) -> tuple[RectbotProcess, SandboxUser, SandboxUser]:
    bot = rectbot({"testing": {"clock_start": CLOCK}})
    bot.add_department("县教育局")
    bot.start()
    sup, liaison = sandbox.create_user(first_name="督办甲"), sandbox.create_user(first_name="王芳")
    bot.register(sup, "supervisor")
    bot.register(liaison, "liaison", "县教育局")
    return bot, sup, liaison


def open_from_review(sup: SandboxUser, case_id: int) -> SentMessage:
    sup.send_command("review")
    listing = sup.wait_for_message(has(f"#{case_id}"))
    sup.press(listing, f"#{case_id}")
    return sup.wait_for_message(has("待审核", f"#{case_id}"))


def start_return(sup: SandboxUser, card: SentMessage, reason: str) -> SentMessage:
    sup.press(card, "退回补充")
    sup.wait_for_message(has("原因"))
    sup.send_text(reason)
    return sup.wait_for_message(has("现行整改期限", "2027年2月2日"))


def test_replay_an_earlier_date_is_said_and_needs_a_second_press(sandbox: SandboxServer, rectbot: Factory) -> None:
    bot, sup, liaison = setup(sandbox, rectbot)
    case_id, report_id = submitted_case(bot, "县教育局", liaison, project="学生营养餐补助", findings="资金拨付滞后",
                                        measures="已拨付资金")
    prompt = start_return(sup, open_from_review(sup, case_id), "缺少资金拨付明细表")
    assert "保持原期限" in [label for label, _ in prompt.buttons]

    # The default (10 working days: 2026-12-16) is earlier than 2027-02-02: said, and nothing decided yet.
    sup.press(prompt, "2026年12月16日")
    warned = sup.wait_for_message(has("早于", "2026年12月16日", "2027年2月2日"))
    assert one(bot, "SELECT due_on FROM cases WHERE id = ?", case_id) == DEADLINE
    assert one(bot, "SELECT count(*) FROM reviews WHERE report_id = ?", report_id) == 0
    # Typing an earlier date is warned the same way.
    sup.send_text("12月20日")
    warned = sup.wait_for_message(has("早于", "2026年12月20日", "2027年2月2日"))
    assert one(bot, "SELECT count(*) FROM reviews WHERE report_id = ?", report_id) == 0
    sup.press(warned, "确认提前")
    done = sup.wait_for_message(has("退回补充", "2026年12月20日"))
    assert "早于原整改期限2027年2月2日" in done.content
    wait_db(bot, "SELECT due_on FROM cases WHERE id = ?", "2026-12-20", case_id)
    liaison.wait_for_message(has("退回补充", "2026年12月20日"), timeout=20)
    assert sandbox.violations.total == 0
