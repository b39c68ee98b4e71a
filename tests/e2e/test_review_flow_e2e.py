"""Issue 10 item 7 end to end: review as a 督办 office works, through the real `rectbot run`.

A 3-item finding answered item by item (逐条整改) with a PDF → /review → 退回补充 with 保持原期限 (the
deadline shown and unchanged) → the liaison's 第2次报送 shows the reason and starts from the first
report's answers and PDF → the card shows the round, the reason and each finding beside its answer →
销号 with a 审核意见 and a confirmation → /case's history shows it all. Replayed failure: a date earlier
than the deadline (2027-02-02 replaced by the 10-working-day default 2026-12-16) is said to be
earlier and taken only on a second, explicit press.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from bot.sandbox import SandboxServer, SandboxUser, SentMessage
from tests.e2e.harness import RectbotProcess
from tests.e2e.helpers import db, has, one, wait_db

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <</Type /Catalog>> endobj\ntrailer <<>>\n%%EOF\n"
FINDINGS = "1. 资金拨付滞后\n2. 绩效目标不明确\n3. 档案管理不规范"
CLOCK = "2026-12-02T10:00:00+08:00"   # Wednesday; 10 working days later is 2026-12-16
DEADLINE = "2027-02-02"
Factory = Callable[..., RectbotProcess]


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


def insert_case(bot: RectbotProcess, department: str, *, project: str, findings: str) -> int:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    conn = db(bot)
    try:
        dept = conn.execute("SELECT id FROM departments WHERE name = ?", (department,)).fetchone()[0]
        cur = conn.execute(
            "INSERT INTO cases (department_id, project, source, grade, findings, suggestions, feedback_doc_no,"
            " feedback_received_on, period, due_on, due_provisional, due_rule, confidential, status,"
            " next_action_at, created_by, created_at, updated_at)"
            " VALUES (?, ?, 'evaluation', 'fair', ?, '加快拨付', ?, '2026-11-20', '2m', ?, 0, 'months', 0,"
            " 'in_progress', '2000-01-01T00:00:00+00:00', 'cli', ?, ?)",
            (dept, project, findings, f"盐财绩〔2026〕{project}", DEADLINE, now, now),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid
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


def open_from_review(sup: SandboxUser, case_id: int, report_id: int) -> SentMessage:
    """/review → 查看#N → the card of that very report (the card pushed on submission is skipped)."""
    sup.send_command("review")
    listing = sup.wait_for_message(lambda m: any(label == f"查看#{case_id}" for label, _ in m.buttons))
    sup.press(listing, f"查看#{case_id}")
    return sup.wait_for_message(lambda m: m.method == "sendMessage" and m.message_id > listing.message_id
                                and any(data == f"rv:close:{report_id}" for _, data in m.buttons))


def start_return(sup: SandboxUser, card: SentMessage, reason: str) -> SentMessage:
    sup.press(card, "退回补充")
    sup.wait_for_message(has("理由"))
    sup.send_text(reason)
    return sup.wait_for_message(has("现行整改期限", "2027年2月2日"))


def test_replay_an_earlier_date_is_said_and_needs_a_second_press(sandbox: SandboxServer, rectbot: Factory) -> None:
    bot, sup, liaison = setup(sandbox, rectbot)
    case_id, report_id = submitted_case(bot, "县教育局", liaison, project="学生营养餐补助", findings="资金拨付滞后",
                                        measures="已拨付资金")
    prompt = start_return(sup, open_from_review(sup, case_id, report_id), "缺少资金拨付明细表")
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


def answer_item(liaison: SandboxUser, n: int, text: str | None, status: str = "已完成") -> None:
    """One finding of 逐条整改: its prompt, the measures typed (or kept when None), then the status tapped."""
    prompt = liaison.wait_for_message(has(f"第{n}条（共3条）"))
    if text is not None:
        liaison.send_text(text)
        prompt = liaison.wait_for_message(has(f"第{n}条（共3条）", text))
    liaison.press(prompt, status)


def test_return_keep_deadline_resubmit_item_by_item_and_close_with_an_opinion(
    sandbox: SandboxServer, rectbot: Factory
) -> None:
    bot, sup, liaison = setup(sandbox, rectbot)
    case_id = insert_case(bot, "县教育局", project="学生营养餐补助", findings=FINDINGS)

    # First report, item by item, with a PDF.
    liaison.send_command("report")
    opening = liaison.wait_for_message(has(f"#{case_id}", "第1条（共3条）存在问题：资金拨付滞后"))
    assert "次报送" not in opening.content
    liaison.send_text("已拨付全部补助资金")
    liaison.press(liaison.wait_for_message(has("第1条（共3条）", "已拨付全部补助资金")), "已完成")
    answer_item(liaison, 2, "已修订绩效目标")
    answer_item(liaison, 3, "已整理项目档案")
    liaison.wait_for_message(has("佐证材料"))
    liaison.send_document("拨付凭证.pdf", PDF, "application/pdf")
    liaison.press(liaison.wait_for_message(has("拨付凭证.pdf")), "完成")
    summary = liaison.wait_for_message(has("请核对"))
    assert "1. 存在问题：资金拨付滞后\n   整改措施：已拨付全部补助资金\n   整改状态：已完成" in summary.content
    liaison.press(summary, "提交")
    liaison.wait_for_message(has("已提交"))
    first = int(one(bot, "SELECT id FROM reports WHERE case_id = ? AND state = 'submitted'", case_id))  # type: ignore[arg-type]

    # 退回补充 from /review, keeping the deadline: shown before, unchanged after.
    card = open_from_review(sup, case_id, first)
    assert "3. 存在问题：档案管理不规范\n   整改措施：已整理项目档案" in card.content and "次报送" not in card.content
    prompt = start_return(sup, card, "第3条缺少档案目录")
    sup.press(prompt, "保持原期限")
    done = sup.wait_for_message(has("退回补充", "整改期限不变：2027年2月2日"))
    assert "早于" not in done.content
    wait_db(bot, "SELECT state FROM reports WHERE id = ?", "returned", first)
    assert one(bot, "SELECT due_on FROM cases WHERE id = ?", case_id) == DEADLINE
    liaison.wait_for_message(has("退回补充", "退回理由：第3条缺少档案目录", "整改期限不变：2027年2月2日"), timeout=20)

    # 第2次报送: the reason shown, the first report's answers and PDF carried over, edited item by item.
    liaison.send_command("report")
    opening = liaison.wait_for_message(has("第2次报送", "退回理由：第3条缺少档案目录", "沿用上次报告"))
    assert "第1条（共3条）" in opening.content and "已拨付全部补助资金" in opening.content
    liaison.press(opening, "已完成")                               # item 1 kept as it was
    liaison.wait_for_message(has("第2条（共3条）", "已修订绩效目标"))
    liaison.send_text("目标值已报预算股备案")                          # item 2 added to
    liaison.press(liaison.wait_for_message(has("第2条（共3条）", "目标值已报预算股备案")), "已完成")
    liaison.press(liaison.wait_for_message(has("第3条（共3条）", "已整理项目档案")), "重写本条")
    answer_item(liaison, 3, "已编制档案目录并归档")                     # item 3 replaced
    summary = liaison.wait_for_message(has("请核对"))              # the PDF came along: straight to the check
    assert "拨付凭证.pdf" in summary.content and "已修订绩效目标\n   目标值已报预算股备案" in summary.content
    liaison.press(summary, "提交")
    liaison.wait_for_message(has("已提交"))
    second = int(one(bot, "SELECT id FROM reports WHERE case_id = ? AND state = 'submitted'", case_id))  # type: ignore[arg-type]
    assert one(bot, "SELECT round FROM reports WHERE id = ?", second) == 2

    # The supervisor sees the round, the reason and each finding beside its answer.
    card = open_from_review(sup, case_id, second)
    assert "第2次报送" in card.content and "退回理由：第3条缺少档案目录" in card.content
    assert ("3. 存在问题：档案管理不规范\n   整改措施：已编制档案目录并归档\n   整改状态：已完成"
            in card.content)
    assert "整改状态：已整改" in card.content

    # 销号: an opinion, then a check step; nothing is recorded before 确认销号, and 返回 leaves it undecided.
    sup.press(card, "销号")
    sup.press(sup.wait_for_message(has("请输入审核意见", "无意见")), "返回")
    sup.wait_for_message(has("未销号", "仍在待审核"))
    assert one(bot, "SELECT status FROM cases WHERE id = ?", case_id) == "reported"
    sup.press(card, "销号")
    sup.wait_for_message(has("请输入审核意见", "无意见"))
    sup.send_text("整改到位，同意销号")
    check = sup.wait_for_message(has("确认对", "审核意见：整改到位，同意销号"))
    assert one(bot, "SELECT count(*) FROM reviews WHERE report_id = ?", second) == 0
    sup.press(check, "确认销号")
    sup.wait_for_message(has(f"整改事项#{case_id}已销号"))
    assert one(bot, "SELECT status FROM cases WHERE id = ?", case_id) == "closed"
    assert one(bot, "SELECT note FROM reviews WHERE report_id = ?", second) == "整改到位，同意销号"
    liaison.wait_for_message(has("销号", "审核意见：整改到位，同意销号"), timeout=20)

    # /case: the return (deadline kept, reason), the second submission and the closing with its opinion.
    sup.send_command("case", str(case_id))
    history = sup.wait_for_message(has("办理记录")).content
    assert "退回补充，整改期限不变：2027年2月2日（星期二）；退回理由：第3条缺少档案目录" in history
    assert "报送了整改落实情况报告，第2次报送" in history
    assert "销号，审核意见：整改到位，同意销号" in history
    assert sandbox.violations.total == 0
