"""Issue #10 item 4 end to end: a department with 500 open, overdue cases and 150 reports awaiting
review, through the real `rectbot run` and the sandbox Bot API. Every list pages (/cases, the /report
and /extend choosers, /overdue, /review, /budget, the digest's lists), ◀ ▶ edit the message in place,
a page is recomputed for whoever presses (a liaison only ever sees their own department), a missing
page is the nearest one, and no request the bot made exceeds Telegram's limits."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bot.sandbox import SandboxServer, SandboxUser, SentMessage
from bot.telegram_channel import units
from tests.e2e.harness import RectbotProcess
from tests.e2e.helpers import has

CLOCK = "2026-03-20T10:00:00+08:00"   # a Friday; the cases fell due on 2026-02-02
Factory = Callable[..., RectbotProcess]
EDU, HEALTH = "县教育局", "县卫健局"
NEXT, PREV = "下一页 ▶", "◀ 上一页"


def insert_cases(bot: RectbotProcess, department: str, count: int, *, status: str = "in_progress",
                 reports_by: int | None = None) -> list[int]:
    """`count` overdue cases (grade 差, so each has a budget suggestion) in one transaction; no sweep
    work (next_action_at NULL), so 500 overdue notices do not crowd the chat. With `reports_by`, each
    case gets a submitted report by that person (awaiting review)."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    conn = sqlite3.connect(bot.database, timeout=30)
    try:
        dept = conn.execute("SELECT id FROM departments WHERE name = ?", (department,)).fetchone()[0]
        ids = []
        with conn:
            for i in range(count):
                project = f"{department}项目{i:03d}义务教育均衡发展补助资金绩效评价整改"
                cur = conn.execute(
                    "INSERT INTO cases (department_id, project, source, grade, findings, suggestions, feedback_doc_no,"
                    " feedback_received_on, period, due_on, due_provisional, due_rule, confidential, status,"
                    " next_action_at, created_by, created_at, updated_at)"
                    " VALUES (?, ?, 'evaluation', 'poor', '绩效目标不明确', '细化指标', ?, '2025-12-01', '2m',"
                    " '2026-02-02', 0, 'months', ?, ?, NULL, 'cli', ?, ?)",
                    (dept, project, f"海财绩〔2026〕{i}号", int(i % 50 == 7), status, now, now),
                )
                assert cur.lastrowid is not None
                ids.append(cur.lastrowid)
                if reports_by is not None:
                    conn.execute(
                        "INSERT INTO reports (case_id, author_id, state, step, measures, progress, created_at,"
                        " updated_at, submitted_at, submitted_on, on_time)"
                        " VALUES (?, ?, 'submitted', 'summary', '已整改', 'done', ?, ?, ?, '2026-03-19', 0)",
                        (cur.lastrowid, reports_by, now, now, f"2026-03-19T02:{i // 60:02d}:{i % 60:02d}+00:00"),
                    )
        return ids
    finally:
        conn.close()


def person_id(bot: RectbotProcess, user: SandboxUser) -> int:
    with sqlite3.connect(bot.database) as conn:
        return int(conn.execute("SELECT id FROM people WHERE telegram_id = ?", (user.id,)).fetchone()[0])


def page_of(m: SentMessage) -> tuple[int, int, int]:
    found = re.search(r"第(\d+)/(\d+)页，共(\d+)件", m.content)
    assert found, m.content[-200:]
    return int(found[1]), int(found[2]), int(found[3])


def turn(sandbox: SandboxServer, user: SandboxUser, m: SentMessage, label: str | None = None, *,
         data: str | None = None) -> SentMessage:
    """Press ◀/▶ (or forged data) on a list message; the same message, once edited."""
    edits = len(sandbox.message(user, m.message_id).edits)
    query = user.press(m, label, data=data)
    sandbox.wait_for_callback_answer(query, timeout=15)
    return sandbox.wait_for_edit(user, m.message_id, min_edits=edits + 1, timeout=15)


def check_pages(sandbox: SandboxServer, user: SandboxUser, first: SentMessage, pages: int, total: int,
                data_prefix: str) -> SentMessage:
    """The first page, ▶ twice, ◀ once, a page past the end (the last one): each edited in place."""
    assert page_of(first) == (1, pages, total)
    assert [label for label, _ in first.button_rows[-1]] == [NEXT]
    second = turn(sandbox, user, first, NEXT)
    assert page_of(second) == (2, pages, total) and second.content != first.original_text
    assert [label for label, _ in second.button_rows[-1]] == [PREV, NEXT]
    assert page_of(turn(sandbox, user, first, NEXT)) == (3, pages, total)
    assert page_of(turn(sandbox, user, first, PREV)) == (2, pages, total)
    last = turn(sandbox, user, first, data=f"{data_prefix}999999")   # no such page: the nearest
    assert page_of(last) == (pages, pages, total)
    assert [label for label, _ in last.button_rows[-1]] == [PREV]
    return last


def within_limits(call_params: dict[str, Any]) -> list[str]:
    """What in one request would Telegram refuse (empty when nothing)."""
    wrong = []
    if units(str(call_params.get("text") or "")) > 4096:
        wrong.append(f"text of {units(str(call_params['text']))}")
    if units(str(call_params.get("caption") or "")) > 1024:
        wrong.append(f"caption of {len(str(call_params['caption']))}")
    markup = call_params.get("reply_markup")
    if isinstance(markup, str):
        markup = json.loads(markup)
    rows = (markup or {}).get("inline_keyboard") or []
    if sum(len(r) for r in rows) > 100 or any(len(r) > 8 for r in rows):
        wrong.append(f"keyboard of {[len(r) for r in rows]}")
    wrong += [f"data {b['callback_data']!r}" for r in rows for b in r
              if len(str(b.get("callback_data", "")).encode()) > 64]
    return wrong


def test_every_list_pages_and_nothing_exceeds_telegrams_limits(sandbox: SandboxServer, rectbot: Factory) -> None:
    started = time.monotonic()
    bot = rectbot({"testing": {"clock_start": CLOCK}})
    bot.add_department(EDU)
    bot.add_department(HEALTH)
    bot.start()
    liaison, other = sandbox.create_user(first_name="王芳"), sandbox.create_user(first_name="赵敏")
    supervisor = sandbox.create_user(first_name="督办甲")
    bot.register(liaison, "liaison", EDU)
    bot.register(other, "liaison", HEALTH)
    bot.register(supervisor, "supervisor")
    insert_cases(bot, EDU, 500)
    insert_cases(bot, HEALTH, 150, status="reported", reports_by=person_id(bot, other))
    for user in (liaison, other, supervisor):
        sandbox.mark_read(user)

    # /cases: 500 open cases on 50 pages of 10, two buttons a case
    liaison.send_command("cases")
    cases = liaison.wait_for_message(has("未办结的整改事项"), timeout=15)
    assert EDU in cases.content and HEALTH not in cases.content and len(cases.buttons) == 21
    last = check_pages(sandbox, liaison, cases, 50, 500, "pg:cases:")
    assert HEALTH not in last.content
    stale = liaison.press(cases, data="pg:cases:x")                  # forged: the stale-button answer
    assert "该按钮已失效" in (sandbox.wait_for_callback_answer(stale).text or "")

    # A page is recomputed for whoever presses: the other department's liaison gets their own cases.
    other.send_command("cases")
    theirs = other.wait_for_message(has("未办结的整改事项"), timeout=15)
    assert page_of(theirs) == (1, 15, 150)
    moved = turn(sandbox, other, theirs, data="pg:cases:2")
    assert page_of(moved) == (2, 15, 150) and HEALTH in moved.content and EDU not in moved.content

    # the /report and /extend choosers: one button a case, ten a page
    liaison.send_command("report")
    chooser = liaison.wait_for_message(has("请选择要报送的整改事项"), timeout=15)
    assert len(chooser.buttons) == 11 and all(d and d.startswith("rp:c:") for _, d in chooser.buttons[:10])
    check_pages(sandbox, liaison, chooser, 50, 500, "pg:report:")
    liaison.send_command("extend")
    chooser = liaison.wait_for_message(has("请选择需要申请延期的整改事项"), timeout=15)
    assert len(chooser.buttons) == 11 and all(d and d.startswith("ex:c:") for _, d in chooser.buttons[:10])
    check_pages(sandbox, liaison, chooser, 50, 500, "pg:extend:")

    # /overdue, /review, /budget (the spreadsheet stays whole), /digest and its lists
    supervisor.send_command("overdue")
    overdue = supervisor.wait_for_message(has("持续逾期"), timeout=15)
    assert f"【{EDU}】" in overdue.content and "【涉密事项】" not in overdue.content
    last = check_pages(sandbox, supervisor, overdue, 50, 500, "pg:overdue:")
    assert "【涉密事项】" in last.content                              # confidential ones last, apart
    supervisor.send_command("review")
    review = supervisor.wait_for_message(has("份整改报告待审核"), timeout=15)
    assert "150" in review.content and len(review.buttons) == 11
    check_pages(sandbox, supervisor, review, 15, 150, "pg:review:")
    supervisor.send_command("budget")
    budget = supervisor.wait_for_message(has("各部门预算安排建议"), timeout=15)
    sheet = supervisor.wait_for_message(lambda m: m.document is not None, timeout=15)
    assert sheet.document is not None and (sheet.document.file_name or "").endswith(".xlsx")
    check_pages(sandbox, supervisor, budget, 65, 650, "pg:budget:")
    supervisor.send_command("digest")
    digest = supervisor.wait_for_message(has("每日汇总"), timeout=15)
    supervisor.press(digest, "持续逾期")
    listing = supervisor.wait_for_message(has("持续逾期"), timeout=15)
    check_pages(sandbox, supervisor, listing, 50, 500, "pg:overdue:")
    supervisor.press(digest, "待审核的整改报告")
    listing = supervisor.wait_for_message(has("待审核的整改报告"), timeout=15)
    check_pages(sandbox, supervisor, listing, 15, 150, "pg:dg:review:")

    # a liaison pressing (forging) a supervisor's list button is refused, and their message stays as it was
    edits = len(sandbox.message(liaison, cases.message_id).edits)
    refused = sandbox.wait_for_callback_answer(liaison.press(cases, data="pg:overdue:2"))
    assert refused.show_alert and refused.text
    time.sleep(0.5)
    assert len(sandbox.message(liaison, cases.message_id).edits) == edits

    # no request the bot made would Telegram refuse, and none was refused
    calls = sandbox.calls()
    assert [c.method for c in calls if c.status >= 400] == []
    assert {c.method: w for c in calls if (w := within_limits(c.params))} == {}
    assert len(sandbox.calls("editMessageText")) == 8 * 4 + 1
    assert time.monotonic() - started < 90
