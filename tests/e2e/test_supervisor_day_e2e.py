"""Issue 10's walk-through: a supervisor's day from the menu alone, through the real `rectbot run`.

The liaison reports a 3-item finding item by item from the menu (报送整改); the supervisor taps
今日待办, opens the report from its button, returns it keeping the original deadline; the liaison's
第2次报送 (again from the menu) starts pre-filled with the reason and is answered item by item; the
supervisor opens it from 今日待办 again, closes it (销号) with a confirmation and a 审核意见, and opens the
history from the button on the closing message: the return, the resubmission and the opinion are all
there. No slash command is typed by either person after /start.
"""

from __future__ import annotations

from bot.sandbox import SandboxServer, SandboxUser, SentMessage
from tests.e2e.test_review_flow_e2e import (
    DEADLINE,
    FINDINGS,
    PDF,
    Factory,
    answer_item,
    has,
    insert_case,
    one,
    setup,
    wait_db,
)


def from_todo(sup: SandboxUser, case_id: int, *expect: str) -> SentMessage:
    """今日待办 → its 审核#N button → the review card of the report now awaiting review."""
    sup.send_text("今日待办")
    todo = sup.wait_for_message(has("今日待办", "待审核的整改报告：1"), timeout=20)
    sup.press(todo, f"审核#{case_id}")
    return sup.wait_for_message(has("待审核的整改落实情况报告", *expect), timeout=20)


def test_a_supervisors_day_from_the_menu_alone(sandbox: SandboxServer, rectbot: Factory) -> None:
    bot, sup, liaison = setup(sandbox, rectbot)
    case_id = insert_case(bot, "县教育局", project="学生营养餐补助", findings=FINDINGS)

    # The liaison's first report, from the menu, item by item, with a PDF.
    liaison.send_text("报送整改")
    liaison.wait_for_message(has(f"#{case_id}", "第1条（共3条）存在问题：资金拨付滞后"), timeout=20)
    liaison.send_text("已拨付全部补助资金")
    liaison.press(liaison.wait_for_message(has("第1条（共3条）", "已拨付全部补助资金")), "已完成")
    answer_item(liaison, 2, "已修订绩效目标")
    answer_item(liaison, 3, "已整理项目档案")
    liaison.wait_for_message(has("材料"))
    liaison.send_document("拨付凭证.pdf", PDF, "application/pdf")
    liaison.press(liaison.wait_for_message(has("拨付凭证.pdf")), "完成")
    liaison.press(liaison.wait_for_message(has("请核对")), "提交")
    liaison.wait_for_message(has("已提交"))

    # 今日待办 → the report → 退回补充, keeping the original deadline.
    card = from_todo(sup, case_id, "学生营养餐补助")
    sup.press(card, "退回补充")
    sup.wait_for_message(has("理由"))
    sup.send_text("第3条缺少档案目录")
    sup.press(sup.wait_for_message(has("现行整改期限", "2027年2月2日")), "保持原期限")
    sup.wait_for_message(has("退回补充", "整改期限不变：2027年2月2日"))
    assert one(bot, "SELECT due_on FROM cases WHERE id = ?", case_id) == DEADLINE
    liaison.wait_for_message(has("退回补充", "退回理由：第3条缺少档案目录"), timeout=20)

    # The liaison's 第2次报送 from the menu: the reason shown, pre-filled, answered item by item.
    liaison.send_text("报送整改")
    opening = liaison.wait_for_message(has("第2次报送", "退回理由：第3条缺少档案目录", "已拨付全部补助资金"),
                                       timeout=20)
    liaison.press(opening, "已完成")                                       # item 1 kept
    liaison.press(liaison.wait_for_message(has("第2条（共3条）", "已修订绩效目标")), "已完成")   # item 2 kept
    liaison.press(liaison.wait_for_message(has("第3条（共3条）", "已整理项目档案")), "重写本条")
    answer_item(liaison, 3, "已编制档案目录并归档")                         # item 3 answered anew
    summary = liaison.wait_for_message(has("请核对"))
    assert "拨付凭证.pdf" in summary.content and "已编制档案目录并归档" in summary.content
    liaison.press(summary, "提交")
    liaison.wait_for_message(has("已提交"))

    # 今日待办 again → the second report, numbered, with the reason and each finding beside its answer.
    card = from_todo(sup, case_id, "第2次报送")
    assert "退回理由：第3条缺少档案目录" in card.content
    assert "3. 存在问题：档案管理不规范\n   整改措施：已编制档案目录并归档" in card.content

    # 销号 with a 审核意见 and a confirmation.
    sup.press(card, "销号")
    sup.wait_for_message(has("请输入审核意见"))
    sup.send_text("整改到位，同意销号")
    sup.press(sup.wait_for_message(has("审核意见：整改到位，同意销号")), "确认销号")
    closed = sup.wait_for_message(has(f"整改事项#{case_id}已销号"))
    wait_db(bot, "SELECT status FROM cases WHERE id = ?", "closed", case_id)

    # The history, from the closing message's button: everything that happened today.
    sup.press(closed, f"查看#{case_id}办理记录")
    history = sup.wait_for_message(has("办理记录", "销号"), timeout=20).content
    assert "退回补充，整改期限不变：2027年2月2日" in history and "第3条缺少档案目录" in history
    assert "第2次报送" in history and "审核意见：整改到位，同意销号" in history
    assert sandbox.violations.total == 0
