"""Issue 10, items 1 and 8, replayed through the real process: a mistyped command, a question in words,
gibberish and text typed at a button step all get an answer; times say 北京时间. (Every message of
every e2e test is also scanned for internal codes by conftest.no_internal_codes.)"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable

import pytest

from bot.sandbox import SandboxServer, SandboxUser
from tests.e2e.harness import RectbotProcess
from tests.e2e.helpers import has

pytestmark = [pytest.mark.e2e, pytest.mark.fast_chats]  # what is said, not pacing (conftest)

CLOCK = {"testing": {"clock_start": "2026-03-02T10:00:00+08:00"}}


def setup(sandbox: SandboxServer, rectbot: Callable[..., RectbotProcess]) -> tuple[SandboxUser, SandboxUser]:
    bot = rectbot(CLOCK)
    bot.add_department("县教育局")
    bot.start()
    supervisor = sandbox.create_user(first_name="王督办")
    liaison = sandbox.create_user(first_name="张联络")
    bot.register(supervisor, "supervisor")
    bot.register(liaison, "liaison", "县教育局")
    sandbox.mark_read()
    return supervisor, liaison


def test_nothing_goes_unanswered(sandbox: SandboxServer, rectbot: Callable[..., RectbotProcess]) -> None:
    supervisor, liaison = setup(sandbox, rectbot)

    # a mistyped command: the closest of the sender's own commands
    liaison.send_command("reprot")
    assert "您是要 /report 吗？" in liaison.wait_for_message().content
    supervisor.send_text("/reveiw")  # typed: no command entity
    assert "您是要 /review 吗？" in supervisor.wait_for_message().content
    liaison.send_command("cas")
    several = liaison.wait_for_message().content
    assert "/case" in several and "/cases" in several and "以下命令之一" in several
    # nothing close: a short hint for the role, and /help
    liaison.send_command("xyzzy")
    none_close = liaison.wait_for_message().content
    assert "没有这个命令" in none_close and "/report" in none_close and "/help" in none_close
    supervisor.send_command("xyzzy")
    assert "/new" in supervisor.wait_for_message().content

    # a question in words from a liaison
    liaison.send_text("你好，请问怎么报送整改材料？")
    assert "/report" in liaison.wait_for_message().content
    liaison.send_text("我们想申请延期")
    assert "/extend" in liaison.wait_for_message().content
    liaison.send_text("整改期限是哪天截止？")
    assert "/cases" in liaison.wait_for_message().content
    # gibberish still gets an answer
    liaison.send_text("asdfgh")
    assert liaison.wait_for_message().content

    # 北京时间, never the zone's name
    liaison.send_command("deadline", "2026-03-05 2个月")
    assert "北京时间" in liaison.wait_for_message(has("24时")).content


def test_typing_at_a_button_step_picks_the_button(sandbox: SandboxServer,
                                                   rectbot: Callable[..., RectbotProcess]) -> None:
    supervisor, _liaison = setup(sandbox, rectbot)
    supervisor.send_command("new")
    supervisor.press(supervisor.wait_for_message(has("哪个单位")), "县教育局")
    supervisor.wait_for_message(has("项目名称"))
    supervisor.send_text("义务教育补助资金")
    supervisor.wait_for_message(has("来源"))
    supervisor.send_text("绩效评价")  # typed, not tapped
    assert "来源：绩效评价" in supervisor.wait_for_message(has("来源：")).content
    supervisor.wait_for_message(has("评价等级"))
    supervisor.send_text("绩效")  # fits no single button: a hint and the same buttons again
    supervisor.wait_for_message(has("请点击下方按钮"))
    again = supervisor.wait_for_message(has("评价等级"))
    assert [label for label, _ in again.buttons][:4] == ["优", "良", "中", "差"]
    supervisor.send_text("良")
    supervisor.wait_for_message(has("存在问题"))
    supervisor.send_text("资金拨付滞后")
    supervisor.wait_for_message(has("整改建议"))
    supervisor.send_text("加快拨付进度")
    supervisor.wait_for_message(has("反馈文号"))
    supervisor.send_text("跳过")  # the Skip button's label typed: skipped, not stored as the number
    supervisor.wait_for_message(has("评价工作"))
    supervisor.send_text("1月20日")
    supervisor.wait_for_message(has("反馈是哪天发出"))
    supervisor.send_text("上周五")
    supervisor.wait_for_message(has("涉密"))
    supervisor.send_text("否")
    summary = supervisor.wait_for_message(has("请核对"))
    assert "评价等级：良" in summary.content and "反馈文号：—" in summary.content
    supervisor.send_text("确认")
    assert "整改事项#1" in supervisor.wait_for_message(has("已登记")).content


def test_case_history_shows_words_not_codes(sandbox: SandboxServer, rectbot: Callable[..., RectbotProcess]) -> None:
    """The bug: /case 1 showed （return_for_rework:1）. A case returned for rework (its rows written as
    bot/review.py writes them), seen by the supervisor through the real process."""
    bot = rectbot(CLOCK)
    bot.add_department("县教育局")
    now = "2026-03-02T02:00:00+00:00"
    with contextlib.closing(sqlite3.connect(bot.database)) as conn, conn:
        conn.execute(
            "INSERT INTO cases (id, department_id, project, source, grade, findings, suggestions, feedback_doc_no,"
            " feedback_received_on, period, due_on, due_provisional, due_rule, confidential, status,"
            " created_by, created_at, updated_at) VALUES (1, (SELECT id FROM departments), '学生营养餐补助',"
            " 'evaluation', 'fair', '资金拨付滞后', '加快拨付', '盐财绩〔2026〕3号', '2026-01-05', '2m', '2026-03-16',"
            " 0, 'return_for_rework:1', 0, 'returned', 'cli', ?, ?)", (now, now))
        conn.executemany(
            "INSERT INTO audit_log (at, actor, action, entity, entity_id, before, after) VALUES (?, ?, ?, 'case', 1,"
            " NULL, ?)", [(now, "cli", "case.register", None),
                          (now, "person:99", "case.review.return_for_rework", '{"due_on": "2026-03-16"}'),
                          (now, "system", "case.some_future_action", None)])
    bot.start()
    supervisor = sandbox.create_user(first_name="王督办")
    bot.register(supervisor, "supervisor")
    supervisor.send_command("case", "1")
    view = supervisor.wait_for_message(has("办理记录")).content
    assert "退回补充时重新确定的期限" in view and "记录了一项变更" in view and "用户99" in view
    for code in ("return_for_rework", "case.", "person:"):
        assert code not in view, view


def test_the_internal_code_guard_sees_codes_and_not_commands() -> None:
    """The conftest guard itself: codes are found inside Chinese text, commands and words are not."""
    from tests.e2e.conftest import _code_pattern, internal_codes

    codes = internal_codes()
    assert {"return_for_rework", "liaison", "telegram.token", "escalation.digest_time", "Asia/Shanghai"} <= codes
    text = "历史：（return_for_rework:1）；配置项telegram.token；时间（Asia/Shanghai）；角色liaison"
    found = _code_pattern().findall(text)
    assert found == ["return_for_rework", "telegram.token", "Asia/Shanghai", "liaison"]
    assert _code_pattern().findall("请发送 /report 或 /cases；reporter；enclosed；draftsman") == []
