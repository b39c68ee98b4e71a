"""Issue #10 items 2 and 3 end to end, through the real `rectbot run` and the sandbox Bot API: the menu
keyboard each role gets at /start (and again at /lang, in the new language, and with the answer to what
was not understood), taps that work exactly like their commands (今日待办 → the to-do, its button → the
review card; 报送整改 → the report conversation; 登记事项 → /new, where a later tap is not taken as the
department), and a to-do of 250 items that pages in place with no request over Telegram's limits."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from bot.sandbox import SandboxServer, SandboxUser, SentMessage
from tests.e2e.harness import RectbotProcess
from tests.e2e.helpers import has
from tests.e2e.test_paging_e2e import check_pages, person_id, within_limits

pytestmark = pytest.mark.fast_chats  # what is said, not pacing (conftest)

CLOCK = "2026-03-20T10:00:00+08:00"   # a Friday
Factory = Callable[..., RectbotProcess]
EDU = "县教育局"
BUREAU_MENU = [["今日待办", "登记事项"], ["待审核", "各单位情况"], ["导出台账"]]
LIAISON_MENU = [["我的待办", "本单位事项"], ["报送整改", "申请延期"]]
BUREAU_MENU_EN = [["Today's to-do", "Register a case"], ["Awaiting review", "Departments at a glance"],
                  ["Export the ledger"]]


def menu_of(m: SentMessage) -> list[list[str]]:
    """The reply keyboard a message carries, checked to be the persistent, resized kind."""
    markup = m.reply_markup or {}
    assert markup.get("is_persistent") is True and markup.get("resize_keyboard") is True, markup
    return m.reply_keyboard


def insert(bot: RectbotProcess, count: int, *, project: str, due_on: str = "2026-03-02",
           reports_by: int | None = None) -> list[int]:
    """`count` in-progress cases of 县教育局 (overdue by default), each with a submitted report by
    `reports_by` when given; no sweep work (next_action_at NULL)."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    conn = sqlite3.connect(bot.database, timeout=30)
    try:
        dept = conn.execute("SELECT id FROM departments WHERE name = ?", (EDU,)).fetchone()[0]
        ids = []
        with conn:
            for i in range(count):
                cur = conn.execute(
                    "INSERT INTO cases (department_id, project, source, grade, findings, suggestions, feedback_doc_no,"
                    " feedback_received_on, period, due_on, due_provisional, due_rule, confidential, status,"
                    " next_action_at, created_by, created_at, updated_at)"
                    " VALUES (?, ?, 'evaluation', 'fair', '绩效目标不明确', '细化指标', ?, '2025-12-01', '2m',"
                    " ?, 0, 'months', 0, ?, NULL, 'cli', ?, ?)",
                    (dept, f"{project}{i:03d}", f"海财绩〔2026〕{project}{i}号", due_on,
                     "reported" if reports_by is not None else "in_progress", now, now),
                )
                assert cur.lastrowid is not None
                ids.append(cur.lastrowid)
                if reports_by is not None:
                    conn.execute(
                        "INSERT INTO reports (case_id, author_id, state, step, measures, progress, created_at,"
                        " updated_at, submitted_at, submitted_on, on_time)"
                        " VALUES (?, ?, 'submitted', 'summary', '已整改到位', 'done', ?, ?, ?, '2026-03-19', 1)",
                        (cur.lastrowid, reports_by, now, now, f"2026-03-19T02:{i // 60:02d}:{i % 60:02d}+00:00"),
                    )
        return ids
    finally:
        conn.close()


def pending_feedback(bot: RectbotProcess, project: str) -> int:
    """A case of 县教育局 whose feedback was sent on 2026-03-16 and not yet acknowledged."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    with sqlite3.connect(bot.database, timeout=30) as conn:
        dept = conn.execute("SELECT id FROM departments WHERE name = ?", (EDU,)).fetchone()[0]
        cur = conn.execute(
            "INSERT INTO cases (department_id, project, source, grade, findings, suggestions, feedback_doc_no,"
            " evaluation_ended_on, feedback_sent_on, period, feedback_due_on, confidential, status, next_action_at,"
            " created_by, created_at, updated_at) VALUES (?, ?, 'evaluation', 'fair', '资金拨付滞后', '加快拨付',"
            " '海财绩〔2026〕9号', '2026-03-01', '2026-03-16', '2m', '2026-04-01', 0, 'pending_feedback', NULL,"
            " 'cli', ?, ?)", (dept, project, now, now))
        assert cur.lastrowid is not None
        return cur.lastrowid


def tap(user: SandboxUser, label: str) -> None:
    user.send_text(label)


def test_menu_taps_work_like_their_commands(sandbox: SandboxServer, rectbot: Factory) -> None:
    bot = rectbot({"testing": {"clock_start": CLOCK}})
    bot.add_department(EDU)
    bot.start()
    supervisor = sandbox.create_user(first_name="督办甲")
    liaison = sandbox.create_user(first_name="王芳")

    # registering via /start brings the role's menu, in Chinese
    assert menu_of(bot.register(supervisor, "supervisor")) == BUREAU_MENU
    assert menu_of(bot.register(liaison, "liaison", EDU)) == LIAISON_MENU
    [case_id] = insert(bot, 1, project="义务教育均衡发展补助资金", reports_by=person_id(bot, liaison))
    [open_id] = insert(bot, 1, project="学生营养改善计划", due_on="2026-04-30")

    # 今日待办 → the to-do, counts first; its button → the review card
    tap(supervisor, "今日待办")
    todo = supervisor.wait_for_message(has("今日待办", "待审核的整改报告：1"), timeout=15)
    assert todo.content.index("待审核的整改报告：1") < todo.content.index("义务教育均衡发展补助资金000")
    supervisor.press(todo, f"审核#{case_id}")
    card = supervisor.wait_for_message(has("待审核的整改落实情况报告"), timeout=15)
    assert "义务教育均衡发展补助资金000" in card.content and any("销号" in label for label, _ in card.buttons)
    # 待审核 → /review (surrounding and full-width spaces tolerated)
    tap(supervisor, "　待审核 ")
    supervisor.wait_for_message(has("义务教育均衡发展补助资金000"), timeout=15)

    # /digest (the daily digest now) has the to-do as its body, with the same buttons
    supervisor.send_command("digest")
    digest = supervisor.wait_for_message(has("每日汇总", "待审核的整改报告：1"), timeout=15)
    assert (f"审核#{case_id}", f"rv:open:{case_id}") in digest.buttons

    # what is not understood is answered with the menu again
    supervisor.send_text("asdfgh")
    lost = supervisor.wait_for_message(has("抱歉，我没有看懂"), timeout=15)
    assert menu_of(lost) == BUREAU_MENU

    # 登记事项 → the /new conversation; a tap there runs its command and is not taken as the department
    tap(supervisor, "登记事项")
    wizard = supervisor.wait_for_message(has("登记新的整改事项"), timeout=15)
    tap(supervisor, "今日待办")
    supervisor.wait_for_message(has("今日待办", "待审核的整改报告：1"), timeout=15)
    supervisor.press(wizard, EDU)
    supervisor.wait_for_message(has(EDU), timeout=15)  # the wizard went on from where it stood
    supervisor.send_command("cancel")

    # the liaison: 我的待办 shows their case; 报送整改 enters the report conversation on it
    tap(liaison, "我的待办")
    mine = liaison.wait_for_message(has("我的待办", "学生营养改善计划000"), timeout=15)
    assert any(data == f"rp:c:{open_id}" for _label, data in mine.buttons)
    tap(liaison, "报送整改")
    liaison.wait_for_message(has("学生营养改善计划000", "请填写已采取的整改措施"), timeout=15)
    liaison.send_text("已完善绩效目标，细化了三项指标。")
    liaison.wait_for_message(has("已记录"), timeout=15)  # the draft took it
    # a tap mid-draft is not taken as measures: 本单位事项 lists the cases, the draft keeps one message
    tap(liaison, "本单位事项")
    liaison.wait_for_message(has("学生营养改善计划000", EDU), timeout=15)
    with sqlite3.connect(bot.database) as conn:
        measures = conn.execute("SELECT measures FROM reports WHERE case_id = ? AND state = 'draft'",
                                (open_id,)).fetchone()[0]
    assert measures == "已完善绩效目标，细化了三项指标。"

    # feedback to acknowledge: the to-do's button brings the feedback card, whose 确认收到 edits that card
    feedback_id = pending_feedback(bot, "农村饮水安全工程")
    tap(liaison, "我的待办")
    mine = liaison.wait_for_message(has("我的待办", "待确认收到的反馈书：1", "农村饮水安全工程"), timeout=15)
    liaison.press(mine, f"查看反馈书#{feedback_id}")
    card = liaison.wait_for_message(has("农村饮水安全工程", "确认收到"), timeout=15)
    assert card.message_id != mine.message_id and card.buttons == [("确认收到", f"case:ack:{feedback_id}")]
    liaison.press(card, "确认收到")
    sandbox.wait_for_edit(liaison, card.message_id, has("✅"), timeout=15)
    assert sandbox.message(liaison, mine.message_id).edits == []  # the to-do itself is untouched

    # /lang en switches the keyboard's labels, and the English labels work
    supervisor.send_command("lang", "en")
    switched = supervisor.wait_for_message(has("English"), timeout=15)
    assert menu_of(switched) == BUREAU_MENU_EN
    tap(supervisor, "Today's to-do")
    english = supervisor.wait_for_message(has("Today's to-do", "Reports awaiting review"), timeout=15)
    assert not re.search(r"[今待审]", english.content.replace("义务教育均衡发展补助资金000", ""))

    calls = sandbox.calls()
    assert [c.method for c in calls if c.status >= 400] == []


def test_a_todo_of_250_items_pages_within_telegrams_limits(sandbox: SandboxServer, rectbot: Factory) -> None:
    started = time.monotonic()
    bot = rectbot({"testing": {"clock_start": CLOCK}})
    bot.add_department(EDU)
    bot.start()
    supervisor, liaison = sandbox.create_user(first_name="督办甲"), sandbox.create_user(first_name="王芳")
    bot.register(supervisor, "supervisor")
    bot.register(liaison, "liaison", EDU)
    insert(bot, 125, project="待审核项目义务教育均衡发展补助资金绩效评价整改", reports_by=person_id(bot, liaison))
    insert(bot, 125, project="逾期项目义务教育均衡发展补助资金绩效评价整改")
    sandbox.mark_read(supervisor)
    sandbox.mark_read(liaison)

    supervisor.send_command("todo")
    first = supervisor.wait_for_message(has("今日待办", "待审核的整改报告：125", "逾期事项：125"), timeout=15)
    assert len(first.buttons) == 11  # ten items and ▶
    last = check_pages(sandbox, supervisor, first, 25, 250, "pg:todo:")
    assert "【逾期事项】" in last.content and "【待审核的整改报告】" not in last.content
    # the liaison's to-do is their department's 125 overdue reports to make, paged the same way
    tap(liaison, "我的待办")
    mine = liaison.wait_for_message(has("我的待办", "第1/13页，共125件"), timeout=15)
    assert all(data is not None and data.startswith(("rp:c:", "pg:todo:")) for _label, data in mine.buttons)
    # the liaison pressing a forged page of the list gets their own to-do, never the bureau's
    liaison.press(mine, data="pg:todo:20")
    page = sandbox.wait_for_edit(liaison, mine.message_id, min_edits=1, timeout=15)
    assert "第13/13页" in page.content and "待审核" not in page.content

    calls = sandbox.calls()
    assert [c.method for c in calls if c.status >= 400] == []
    assert {c.method: w for c in calls if (w := within_limits(c.params))} == {}
    assert time.monotonic() - started < 90
