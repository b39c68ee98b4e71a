"""Issue 13 (3), as it was found: the bot answered in group chats. Codes, files and findings never go to a
group; commands and replies to the bot there get one line pointing to a private chat, chatter gets nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import pytest

from bot.sandbox import SandboxServer, SentMessage
from tests.e2e.harness import RectbotProcess

pytestmark = pytest.mark.e2e

PRIVATE_ONLY = "为保护信息安全，请在与本机器人的私聊中使用。"
PROJECT, FINDINGS = "学生营养餐补助", "资金拨付滞后"


# The bot's own schedules (the daily digest and weekly bulletin bookkeeping in job_state, the ladder's
# derived colours) run on their timers whatever people do; a refused update must change everything else.
OWN_SCHEDULES = {"job_state", "ladder_changes"}


def snapshot(bot: RectbotProcess) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table but the bot's own schedules', to show a refused update changed nothing."""
    conn = sqlite3.connect(bot.database, timeout=30)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: conn.execute(f'SELECT * FROM "{t}" ORDER BY rowid').fetchall() for t in tables
                if t not in OWN_SCHEDULES}
    finally:
        conn.close()


def insert_case(bot: RectbotProcess, department: str) -> int:
    conn = sqlite3.connect(bot.database, timeout=30, isolation_level=None)
    try:
        dept = conn.execute("SELECT id FROM departments WHERE name = ?", (department,)).fetchone()[0]
        cur = conn.execute(
            "INSERT INTO cases (department_id, project, source, grade, findings, suggestions, feedback_doc_no,"
            " feedback_received_on, period, due_on, due_provisional, due_rule, confidential, status,"
            " next_action_at, created_by, created_at, updated_at)"
            " VALUES (?, ?, 'evaluation', 'fair', ?, '加快拨付', '盐财绩〔2026〕3号', '2026-03-02', '2m',"
            " '2026-12-30', 0, 'months', 0, 'in_progress', '2099-01-01T00:00:00+00:00', 'cli',"
            " '2026-03-02T02:00:00+00:00', '2026-03-02T02:00:00+00:00')",
            (dept, PROJECT, FINDINGS),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid
    finally:
        conn.close()


def test_group_chats_get_one_line_and_nothing_else(sandbox: SandboxServer,
                                                    rectbot: Callable[..., RectbotProcess]) -> None:
    bot = rectbot({"testing": {"clock_start": "2026-03-02T10:00:00+08:00"}})
    bot.add_department("县教育局")
    bot.start()
    supervisor, liaison = sandbox.create_user(first_name="王督办"), sandbox.create_user(first_name="张联络")
    stranger = sandbox.create_user(first_name="路人")
    bot.register(supervisor, "supervisor")
    bot.register(liaison, "liaison", "县教育局")
    case_id = insert_case(bot, "县教育局")
    group = sandbox.create_group("财政工作群")
    sandbox.wait_for_updates_consumed(timeout=15)
    before = snapshot(bot)

    def answer_in_group(sent: int) -> SentMessage:
        def nth() -> SentMessage | None:
            answers = sandbox.messages(group)
            return answers[sent] if len(answers) > sent else None

        return sandbox.wait_until(nth, timeout=15, what="the bot's answer in the group")

    # The finding, replayed: each of these used to post a code, the ledger, or the case's findings.
    steps = [(supervisor, "invite", "supervisor"), (supervisor, "export", ""), (liaison, "case", str(case_id)),
             (stranger, "start", "whatever"), (stranger, "help", "")]
    wrong = []
    for user, command, args in steps:
        sent = len(sandbox.messages(group))
        user.send_command(command, args, chat_id=group)
        answer = answer_in_group(sent)
        sandbox.wait_for_updates_consumed(timeout=15)
        if answer.content != PRIVATE_ONLY or answer.document is not None or answer.buttons:
            wrong.append((command, [m.content or m.document for m in sandbox.messages(group)[sent:]]))
    assert wrong == []
    # A reply to the bot is addressed to it: the same line. Chatter, and commands for other bots: nothing.
    liaison.send_text("这个怎么用？", chat_id=group, reply_to=sandbox.messages(group)[0])
    assert answer_in_group(len(steps)).content == PRIVATE_ONLY
    liaison.send_text(f"大家看一下{PROJECT}的事", chat_id=group)
    supervisor.send_command("case@some_other_bot", "1", chat_id=group)
    # A button pressed in the group (a forged one, on the bot's own line) gets the line as an alert.
    query = liaison.server.press_button(liaison, sandbox.messages(group)[0], data=f"case:ack:{case_id}")
    alert = sandbox.wait_for_callback_answer(query, timeout=15)
    assert alert.text == PRIVATE_ONLY and alert.show_alert
    sandbox.wait_for_updates_consumed(timeout=15)
    sandbox.wait_until(lambda: sandbox.messages(liaison) or None, timeout=5)  # the welcome, for pacing's sake
    assert len(sandbox.messages(group)) == len(steps) + 1
    assert snapshot(bot) == before  # no invitation, no audit row, no receipt, nobody marked anything
    texts = [m.content for m in sandbox.messages()]
    assert not any(PROJECT in t or FINDINGS in t for t in texts)
    assert not any(m.document is not None for m in sandbox.messages())
