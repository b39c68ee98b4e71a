"""Issue 10 (items 6, 9, 10) through the real process and the sandbox Bot API: the sender of a feedback
is told of its receipt and the card says it is done; admins may do what supervisors may; /help lists
exactly what the sender may run; greetings by name; codes typed loosely; /extend's check step and /cancel.

The bot's clock starts on Monday 2026-03-02 10:00 in Haiyan: received 03-02 + 2 months = 05-02, inside
the Labour Day block (05-01..05-05), so the report deadline is Wednesday 2026-05-06.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from bot.commands import COMMANDS, commands_for
from bot.domain import Role
from bot.sandbox import SandboxServer, SandboxUser, SentMessage
from tests.e2e.harness import RectbotProcess
from tests.e2e.helpers import has

pytestmark = [pytest.mark.e2e, pytest.mark.fast_chats]  # what is said, not pacing (conftest)

Factory = Callable[..., RectbotProcess]
CLOCK = {"testing": {"clock_start": "2026-03-02T10:00:00+08:00"}}
REFUSED = "抱歉，您的角色无权使用此功能。"
# /cases, sent by bureau staff, answers with a pointer to /review and /case and does nothing: a refusal
# that says where to go instead.
POINTER = "/cases 供部门联络员查看本部门事项"


def sql(bot: RectbotProcess, query: str, *params: object) -> int:
    conn = sqlite3.connect(bot.database, timeout=30, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout = 30000")
        cur = conn.execute(query, params)
        if query.lstrip().upper().startswith("SELECT"):
            row = cur.fetchone()
            return int(row[0]) if row and row[0] is not None else 0
        assert cur.lastrowid is not None
        return cur.lastrowid
    finally:
        conn.close()


def insert_case(bot: RectbotProcess, department: str, project: str, *, status: str, due_on: str | None,
                received: str | None = "2026-01-05") -> int:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    dept = sql(bot, "SELECT id FROM departments WHERE name = ?", department)
    return sql(
        bot,
        "INSERT INTO cases (department_id, project, source, grade, findings, suggestions, feedback_doc_no,"
        " feedback_received_on, period, due_on, due_provisional, due_rule, confidential, status, next_action_at,"
        " created_by, created_at, updated_at) VALUES (?, ?, 'evaluation', 'fair', '资金拨付滞后', '加快拨付', ?, ?,"
        " '2m', ?, 0, ?, 0, ?, ?, 'cli', ?, ?)",
        dept, project, f"盐财绩〔2026〕{project}", received, due_on, "months" if due_on else None, status,
        "2000-01-01T00:00:00+00:00" if due_on else None, now, now,
    )


# --------------------------------------------------------------------------- item 6: receipt


def test_the_sender_is_told_of_the_receipt_and_the_card_is_edited(sandbox: SandboxServer, rectbot: Factory) -> None:
    bot = rectbot(CLOCK)
    bot.add_department("县教育局")
    bot.start()
    sender, other_sup = sandbox.create_user(first_name="王督办"), sandbox.create_user(first_name="钱督办")
    liaison = sandbox.create_user(first_name="张联络")
    bot.register(sender, "supervisor")
    bot.register(other_sup, "supervisor")
    bot.register(liaison, "liaison", "县教育局")
    case_id = insert_case(bot, "县教育局", "义务教育补助资金", status="pending_feedback", due_on=None, received=None)

    sender.send_command("feedback", str(case_id))
    sender.wait_for_message(has("1 名联络员"))
    card = liaison.wait_for_message(has("整改反馈", "义务教育补助资金"), timeout=20)
    assert "请点击下方按钮确认收到" in card.content and card.buttons
    liaison.press(card, "确认收到")
    liaison.wait_for_message(has("已确认收到"))

    done = "✅ 已于2026年3月2日（星期一）确认收到，整改期限2026年5月6日（星期三）"
    edited = sandbox.wait_for_edit(liaison, card.message_id, lambda m: done in m.content)
    assert not edited.buttons and "请点击" not in edited.content
    assert edited.content.split("\n")[:-1] == card.content.split("\n")[:-1]  # the card's other lines are kept

    told = sender.wait_for_message(has("确认收到", f"#{case_id}"), timeout=20)
    assert "县教育局" in told.content and "张联络" in told.content and "2026年5月6日（星期三）" in told.content
    assert not [m for m in sandbox.messages(other_sup) if "确认收到" in m.content]  # only the sender is told
    bot.stop()


# --------------------------------------------------------------------------- item 9: roles and onboarding


def test_an_admin_runs_spotcheck_decides_a_review_and_is_greeted_by_name(
    sandbox: SandboxServer, rectbot: Factory,
) -> None:
    boot = sandbox.create_user(first_name="周局长")
    bot = rectbot({**CLOCK, "bureau": {"admins": [boot.id]}})
    bot.add_department("县教育局")
    bot.start()

    # A bootstrap admin is greeted by their Telegram name, never by a placeholder.
    boot.send_command("start")
    hello = boot.wait_for_message(has("欢迎回来"))
    assert "欢迎回来，周局长。您已登记为管理员。" in hello.content and "admin " not in hello.content

    admin, liaison = sandbox.create_user(first_name="李管理"), sandbox.create_user(first_name="张联络")
    welcome = bot.register(admin, "admin")
    assert "欢迎，李管理！您已登记为管理员。" in welcome.content
    admin.send_command("start")
    assert "欢迎回来，李管理。您已登记为管理员。" in admin.wait_for_message(has("欢迎回来")).content
    bot.register(liaison, "liaison", "县教育局")

    closed = insert_case(bot, "县教育局", "图书馆建设", status="closed", due_on="2026-02-27")
    admin.send_command("spotcheck", "1")
    drawn = admin.wait_for_message(has("随机抽取"))
    assert f"#{closed}" in drawn.content
    assert sql(bot, "SELECT count(*) FROM cases WHERE origin_case_id = ?", closed) == 1

    case_id = insert_case(bot, "县教育局", "学生营养餐补助", status="in_progress", due_on="2026-03-20")
    liaison.send_command("report", str(case_id))
    liaison.wait_for_message(has(f"#{case_id}"))
    liaison.send_text("一、已拨付补助资金120万元。")
    liaison.press(liaison.wait_for_message(has("下一步")), "下一步")
    liaison.press(liaison.wait_for_message(has("整改情况如何")), "已整改")
    liaison.press(liaison.wait_for_message(has("佐证材料")), "跳过（无佐证材料）")
    liaison.press(liaison.wait_for_message(lambda m: ("提交", "rp:submit:1") in m.buttons), "提交")
    liaison.wait_for_message(has("已提交"))

    admin.send_command("review")
    listing = admin.wait_for_message(has("学生营养餐补助"))
    admin.press(listing, f"查看#{case_id}")
    card = admin.wait_for_message(lambda m: any("审核通过" in label for label, _ in m.buttons), timeout=15)
    admin.press(card, "审核通过（销号）")
    admin.wait_for_message(has("请输入审核意见"))
    admin.send_text("整改到位，同意销号")
    admin.press(admin.wait_for_message(has("审核意见：整改到位，同意销号")), "确认销号")
    admin.wait_for_message(has(f"整改事项#{case_id}已销号"))
    assert sql(bot, "SELECT count(*) FROM cases WHERE id = ? AND status = 'closed'", case_id) == 1
    bot.stop()


def help_commands(message: SentMessage) -> set[str]:
    return set(re.findall(r"^/([a-z]+) — ", message.content, re.M))


def run_command(user: SandboxUser, name: str) -> list[str]:
    """Send /name, then /whoami as a marker: everything the bot said in between answers /name."""
    user.send_command(name)
    user.send_command("whoami")
    said: list[str] = []
    while True:
        m = user.wait_for_message(timeout=20)
        if m.content.startswith("姓名："):
            return said
        said.append(m.content)


def test_help_lists_exactly_what_each_role_may_run(sandbox: SandboxServer, rectbot: Factory) -> None:
    bot = rectbot(CLOCK)
    bot.add_department("县教育局")
    bot.start()
    people = {Role.ADMIN: sandbox.create_user(first_name="李管理"),
              Role.SUPERVISOR: sandbox.create_user(first_name="王督办"),
              Role.LIAISON: sandbox.create_user(first_name="张联络")}
    for role, user in people.items():
        bot.register(user, role.value, "县教育局" if role is Role.LIAISON else None)
    for role, user in people.items():
        user.send_command("help")
        listed = help_commands(user.wait_for_message(has("/help")))
        assert listed == {c.name for c in commands_for(role)}, role
        for command in COMMANDS:
            if command.name in ("help", "whoami", "cancel"):
                continue
            said = run_command(user, command.name)
            assert said, f"{role} /{command.name}: no answer"
            refused = any(REFUSED in s or POINTER in s for s in said)
            assert refused == (command.name not in listed), f"{role} /{command.name}: {said}"
            user.send_command("cancel")  # leave whatever conversation the command opened
            user.wait_for_message(timeout=20)
    bot.stop()


def test_a_code_typed_in_lower_case_with_a_space_redeems(sandbox: SandboxServer, rectbot: Factory) -> None:
    bot = rectbot(CLOCK)
    bot.start()
    code = bot.invite("supervisor")
    assert re.fullmatch(r"[2-9A-HJKMNP-Z]{5}-[2-9A-HJKMNP-Z]{5}", code)
    user = sandbox.create_user(first_name="王督办")
    user.send_command("start", code.lower().replace("-", " "))
    assert "欢迎，王督办！您已登记为财政局督办人员。" in user.wait_for_message(has("欢迎")).content
    bot.stop()


# --------------------------------------------------------------------------- item 10: extensions


def test_extend_shows_a_check_step_and_cancel_says_what_was_cancelled(
    sandbox: SandboxServer, rectbot: Factory,
) -> None:
    bot = rectbot(CLOCK)
    bot.add_department("县教育局")
    bot.start()
    supervisor, liaison = sandbox.create_user(first_name="王督办"), sandbox.create_user(first_name="张联络")
    bot.register(supervisor, "supervisor")
    bot.register(liaison, "liaison", "县教育局")
    case_id = insert_case(bot, "县教育局", "教师培训经费", status="in_progress", due_on="2026-03-20")

    # /cancel in the middle: says the extension request was cancelled, not a report draft.
    liaison.send_command("extend", str(case_id))
    liaison.wait_for_message(has("理由"))
    liaison.send_command("cancel")
    assert "已取消延期申请" in liaison.wait_for_message().content

    liaison.send_command("extend", str(case_id))
    liaison.wait_for_message(has("理由"))
    liaison.send_text("培训机构调整")
    liaison.wait_for_message(has("延至"))
    liaison.send_text("4月3日")
    check = liaison.wait_for_message(has("请核对延期申请"))
    for part in ("教师培训经费", "2026年3月20日（星期五）", "申请延至：2026年4月3日（星期五）", "培训机构调整"):
        assert part in check.content
    assert [label for label, _ in check.buttons] == ["提交", "修改", "取消"]
    assert sql(bot, "SELECT count(*) FROM extension_requests") == 0  # nothing is sent before 提交

    liaison.press(check, "修改")  # asks again from the reason
    liaison.wait_for_message(has("理由"))
    liaison.send_text("培训机构调整，需重新招标")
    liaison.wait_for_message(has("延至"))
    liaison.send_text("4月10日")
    check = liaison.wait_for_message(has("请核对延期申请", "2026年4月10日", "重新招标"))
    liaison.send_command("cancel")
    assert "已取消延期申请" in liaison.wait_for_message().content
    assert sql(bot, "SELECT count(*) FROM extension_requests") == 0

    liaison.send_command("extend", str(case_id))
    liaison.wait_for_message(has("理由"))
    liaison.send_text("培训机构调整")
    liaison.wait_for_message(has("延至"))
    liaison.send_text("4月3日")
    liaison.press(liaison.wait_for_message(has("请核对延期申请")), "取消")
    assert "已取消延期申请" in liaison.wait_for_message().content

    liaison.send_command("extend", str(case_id))
    liaison.wait_for_message(has("理由"))
    liaison.send_text("培训机构调整")
    liaison.wait_for_message(has("延至"))
    liaison.send_text("4月3日")
    check = liaison.wait_for_message(has("请核对延期申请"))
    liaison.send_text("好的")                     # typed at the check step: a hint and the card again, nothing sent
    liaison.wait_for_message(has("请点击下方按钮"))
    again = liaison.wait_for_message(lambda m: m.message_id > check.message_id and "请核对延期申请" in m.content)
    assert [label for label, _ in again.buttons] == ["提交", "修改", "取消"]
    assert sql(bot, "SELECT count(*) FROM extension_requests") == 0
    liaison.send_text("提交")                     # the button's text typed acts as the button
    liaison.wait_for_message(has("已提交延期申请"))
    assert sql(bot, "SELECT count(*) FROM extension_requests WHERE proposed_due_on = '2026-04-03'") == 1
    supervisor.wait_for_message(has("延期申请", f"#{case_id}"), timeout=20)
    bot.stop()
