"""Issue 10 item 5, as users would: dates as people mean them, on a simulated December day.

The bot's clock starts on Monday 2026-12-21 10:00 in the bureau's timezone. 1月29日 typed as an
extension date is next January's; 下个月底 is 2027-01-31; a bad date is explained and asked again,
and the next good one is taken; the CLI and the chat read 明天 as the same day.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from bot.sandbox import SandboxServer, SandboxUser
from tests.e2e.harness import RectbotProcess
from tests.e2e.helpers import has, one

pytestmark = pytest.mark.e2e

# A Monday in December. Invitations are made by the CLI on the real clock and redeemed on the simulated
# one, so they stay valid for the longest allowed time (the simulated day may lie ahead of the real one).
CLOCK = {"testing": {"clock_start": "2026-12-21T10:00:00+08:00"}, "invitations": {"valid_days": 365}}
Factory = Callable[..., RectbotProcess]


def insert_case(bot: RectbotProcess, department: str, due_on: str, project: str) -> int:
    """A running case whose deadline is `due_on` (registered long ago, so the dates here are the only ones)."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    conn = sqlite3.connect(bot.database, timeout=30, isolation_level=None)
    try:
        dept = conn.execute("SELECT id FROM departments WHERE name = ?", (department,)).fetchone()[0]
        cur = conn.execute(
            "INSERT INTO cases (department_id, project, source, grade, findings, suggestions, feedback_doc_no,"
            " feedback_received_on, period, due_on, due_provisional, due_rule, confidential, status,"
            " next_action_at, created_by, created_at, updated_at)"
            " VALUES (?, ?, 'evaluation', 'fair', '资金拨付滞后', '加快拨付', ?, '2026-10-20', '2m', ?, 0, 'months', 0,"
            " 'in_progress', '2000-01-01T00:00:00+00:00', 'cli', ?, ?)",
            (dept, project, f"盐财绩〔2026〕{project}", due_on, now, now),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid
    finally:
        conn.close()


def setup(sandbox: SandboxServer, rectbot: Factory) -> tuple[RectbotProcess, SandboxUser, SandboxUser]:
    bot = rectbot(CLOCK)
    bot.add_department("县教育局")
    bot.start()
    supervisor, liaison = sandbox.create_user(first_name="王督办"), sandbox.create_user(first_name="张联络")
    bot.register(supervisor, "supervisor")
    bot.register(liaison, "liaison", "县教育局")
    return bot, supervisor, liaison


def test_december_extension_dates_and_bad_dates_asked_again(sandbox: SandboxServer, rectbot: Factory) -> None:
    bot, supervisor, liaison = setup(sandbox, rectbot)
    proposed = insert_case(bot, "县教育局", "2026-12-31", "校舍维修")
    other = insert_case(bot, "县教育局", "2027-01-08", "教师培训经费")

    # The liaison proposes 1月29日 in December: next January, not a refused past date.
    liaison.send_command("extend", str(proposed))
    liaison.wait_for_message(has("理由"))
    liaison.send_text("施工单位变更")
    liaison.wait_for_message(has("延至"))
    liaison.send_text("过几天吧")                          # not a date: why, and the same question again
    liaison.wait_for_message(has("看不懂日期", "过几天吧"))
    liaison.wait_for_message(has("延至哪一天"))
    liaison.send_text("昨天")                              # a past day: why, and the same question again
    liaison.wait_for_message(has("2026年12月20日（星期日）", "已经过去"))
    liaison.wait_for_message(has("延至哪一天"))
    liaison.send_text("1月29日")
    liaison.press(liaison.wait_for_message(has("请核对延期申请", "2027年1月29日（星期五）")), "提交")
    liaison.wait_for_message(has("已提交延期申请"))
    assert one(bot, "SELECT proposed_due_on FROM extension_requests WHERE case_id = ?", proposed) == "2027-01-29"
    card = supervisor.wait_for_message(has("延期申请", f"#{proposed}"), timeout=20)
    supervisor.press(card, "同意")
    supervisor.wait_for_message(has(f"#{proposed}", "2027年1月29日"))
    assert one(bot, "SELECT due_on FROM cases WHERE id = ?", proposed) == "2027-01-29"

    # The supervisor grants another date in words: 下个月底 is the last day of next month.
    liaison.send_command("extend", str(other))
    liaison.wait_for_message(has("理由"))
    liaison.send_text("培训机构调整")
    liaison.wait_for_message(has("延至"))
    liaison.send_text("2月底")
    liaison.press(liaison.wait_for_message(has("请核对延期申请", "2027年2月28日（星期日）")), "提交")
    card = supervisor.wait_for_message(has("延期申请", f"#{other}"), timeout=20)
    supervisor.press(card, "另定日期")
    supervisor.wait_for_message(has("延至哪一天"))
    supervisor.send_text("1月5日")           # 2027-01-05: before the current deadline, asked again
    supervisor.wait_for_message(has("2027年1月8日"))
    supervisor.wait_for_message(has("延至哪一天"))
    assert one(bot, "SELECT state FROM extension_requests WHERE case_id = ?", other) == "pending"
    supervisor.send_text("2月")              # a whole month: which day?
    supervisor.wait_for_message(has("2月1日", "2月底"))
    supervisor.wait_for_message(has("延至哪一天"))
    supervisor.send_text("下个月底")
    supervisor.wait_for_message(has(f"#{other}", "2027年1月31日"))
    assert one(bot, "SELECT due_on FROM cases WHERE id = ?", other) == "2027-01-31"
    assert one(bot, "SELECT state FROM extension_requests WHERE case_id = ?", other) == "approved"
    assert sandbox.violations.total == 0
    bot.stop()


@pytest.mark.fast_chats
def test_new_wizard_keeps_the_step_after_bad_dates(sandbox: SandboxServer, rectbot: Factory) -> None:
    bot, supervisor, _liaison = setup(sandbox, rectbot)
    supervisor.send_command("new")
    supervisor.press(supervisor.wait_for_message(has("哪个单位")), "县教育局")
    supervisor.wait_for_message(has("项目名称"))
    supervisor.send_text("课后服务补助")
    supervisor.press(supervisor.wait_for_message(has("来源")), "绩效运行监控")
    supervisor.press(supervisor.wait_for_message(has("评价等级")), "跳过")
    supervisor.press(supervisor.wait_for_message(has("存在问题")), "跳过")
    supervisor.press(supervisor.wait_for_message(has("整改建议")), "跳过")
    supervisor.press(supervisor.wait_for_message(has("反馈文号")), "跳过")
    supervisor.wait_for_message(has("反馈是哪天发出"))
    supervisor.send_text("明天上午")                     # still to come: asked again
    supervisor.wait_for_message(has("2026年12月22日（星期二）", "还没到"))
    supervisor.wait_for_message(has("反馈是哪天发出"))
    supervisor.send_text("12月25日")                     # a day that happened: last year's
    supervisor.wait_for_message(has("2025年12月25日（星期四）"))
    supervisor.wait_for_message(has("个工作日"))
    supervisor.send_text("2月")                          # February or two months? asked again
    supervisor.wait_for_message(has("2个月", "2月底"))
    supervisor.wait_for_message(has("个工作日"))
    supervisor.send_text("1月29日")                      # a deadline in December: next January
    supervisor.wait_for_message(has("2027年1月29日（星期五）"))
    supervisor.press(supervisor.wait_for_message(has("涉密")), "否")
    summary = supervisor.wait_for_message(has("请核对"))
    assert "2027年1月29日（星期五）" in summary.content and "2025年12月25日" in summary.content
    supervisor.send_command("cancel")
    supervisor.wait_for_message(has("已取消"))
    bot.stop()


@pytest.mark.fast_chats
def test_cli_and_chat_read_the_same_words_as_the_same_day(sandbox: SandboxServer, rectbot: Factory) -> None:
    bot, supervisor, _liaison = setup(sandbox, rectbot)
    data = json.loads(bot.cli("deadline", "明天", "2个月", "--json").stdout)
    assert data["start"] == "2026-12-22" and data["period"] == "2m"
    y, m, d = (int(part) for part in data["due"].split("-"))
    supervisor.send_command("deadline", "明天 2个月")
    answer = supervisor.wait_for_message(has("2026年12月22日"))
    assert f"{y}年{m}月{d}日" in answer.content
    cli_text = bot.cli("deadline", "明天", "2个月").stdout
    assert cli_text.splitlines()[0] in answer.content  # the same first line, word for word
    bot.stop()
