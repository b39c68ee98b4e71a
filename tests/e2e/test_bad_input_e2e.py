"""Malformed commands and forged buttons from every role: a clear answer each, nothing changed, no crash."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.sandbox import SandboxServer, SandboxUser
from tests.e2e.harness import RectbotProcess

pytestmark = pytest.mark.fast_chats  # what is said, not pacing (conftest)

CRASH = "系统出了点问题"  # handlers.common.on_error: an unhandled exception reached the user

BAD_COMMANDS = [
    ("case", ""), ("case", "abc"), ("case", "99999"), ("case", "-1"), ("feedback", ""), ("feedback", "x"),
    ("feedback", "424242"), ("received", "1"), ("received", "1 下个世纪"), ("changedue", "1"),
    ("changedue", "1 2026-13-45 理由"), ("deadline", ""), ("deadline", "昨天 三百年"), ("deadline", "2026-02-30 2m"),
    ("invite", ""), ("invite", "emperor"), ("invite", "liaison 不存在的局"), ("lang", "klingon"),
    ("extend", ""), ("extend", "abc"), ("extend", "77777"), ("report", "abc"), ("report", "88888"),
    ("spotcheck", ""), ("spotcheck", "-3"), ("spotcheck", "many"), ("review", "x"), ("budget", "x"),
    ("overdue", "x"), ("digest", "x"), ("cases", "x"), ("export", "x"), ("start", "not-a-code"),
]
FORGED = ["case:ack:1", "case:ack:999999", "rv:close:1", "rv:refused:999", "ex:approve:5", "rp:next:1",
          "rp:p:done:1", "new:dept:1", "dg:overdue", "garbage", "rv:close:abc"]


def audit_rows(bot: RectbotProcess, action: str | None = None) -> int:
    """Audit rows other than the failed-code records (issue 13 audits every wrong invitation code on
    purpose), or only those of one action."""
    db = sqlite3.connect(bot.database)
    try:
        if action is not None:
            return int(db.execute("SELECT count(*) FROM audit_log WHERE action = ?", (action,)).fetchone()[0])
        return int(db.execute("SELECT count(*) FROM audit_log WHERE action != 'invitation.redeem_failed'")
                   .fetchone()[0])
    finally:
        db.close()


def hammer(sandbox: SandboxServer, user: SandboxUser) -> None:
    for command, args in BAD_COMMANDS:
        before = len(user.messages())
        user.send_command(command, args)
        sandbox.wait_until(lambda b=before: len(user.messages()) > b or None, timeout=15,
                           what=f"an answer to /{command} {args}")
    for data in FORGED:
        sandbox.wait_for_updates_consumed(timeout=15)
        query = user.press(user.messages()[-1], data=data)
        try:
            sandbox.wait_for_callback_answer(query, timeout=15)
        except TimeoutError as exc:
            raise AssertionError(f"{user} pressed {data!r} and got no answer") from exc


def test_every_role_gets_clear_refusals_and_nothing_changes(
    sandbox: SandboxServer, rectbot: Callable[..., RectbotProcess]
) -> None:
    bot = rectbot()
    bot.start()
    liaison = sandbox.create_user(first_name="联络员")
    supervisor = sandbox.create_user(first_name="督办员")
    admin = sandbox.create_user(first_name="管理员")
    bot.register(liaison, "liaison", "县教育局")
    bot.register(supervisor, "supervisor")
    bot.register(admin, "admin")
    before = audit_rows(bot)
    # Three people at once (each chat is paced to one message a second, so sequential would be slow).
    with ThreadPoolExecutor(3) as pool:
        for done in [pool.submit(hammer, sandbox, user) for user in (liaison, supervisor, admin)]:
            done.result()
    sandbox.wait_for_updates_consumed(timeout=15)
    for user in (liaison, supervisor, admin):
        texts = [m.text or "" for m in user.messages()]
        assert not any(CRASH in t for t in texts), [t for t in texts if CRASH in t]
    answers = [a.text or "" for a in sandbox.callback_answers]
    assert not any(CRASH in a for a in answers)
    said = [m.text or "" for m in liaison.messages()]
    assert "用法：/extend 或 /extend 事项编号" in said and "用法：/report 或 /report 事项编号" in said
    assert audit_rows(bot) == before  # nothing changed
    assert audit_rows(bot, "invitation.redeem_failed") == 3  # each person's /start not-a-code, recorded
    assert "Traceback" not in bot.log(), bot.log()[-3000:]
