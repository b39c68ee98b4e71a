"""Issue 11 end to end: /status (各单位情况) and the 督办 ladder through the real `rectbot run` process.

Bureau staff see every department worst first, tap one for its cases with their colour; a liaison
sees their own department only — another department by name, or by a forged button, is refused and
nothing of it is shown; /case shows the case's ladder colour and when it changed.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from bot.sandbox import SandboxServer, SandboxUser
from bot.settings import toml_dump
from tests.e2e.harness import RectbotProcess
from tests.e2e.helpers import has

pytestmark = pytest.mark.fast_chats  # what is said, not pacing (conftest)

CLOCK = "2026-03-20T10:00:00+08:00"   # a Friday
Factory = Callable[..., RectbotProcess]
EDU, HEALTH, WATER = "县教育局", "县卫健局", "县水利局"


def insert_case(bot: RectbotProcess, department: str, project: str, due_on: str | None,
                status: str = "in_progress") -> int:
    """A case written straight into the database, with no sweep work (next_action_at NULL)."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    with sqlite3.connect(bot.database, timeout=30) as conn:
        dept = conn.execute("SELECT id FROM departments WHERE name = ?", (department,)).fetchone()[0]
        cur = conn.execute(
            "INSERT INTO cases (department_id, project, source, findings, suggestions, feedback_doc_no,"
            " feedback_received_on, period, due_on, due_rule, status, created_by, created_at, updated_at)"
            " VALUES (?, ?, 'evaluation', '问题', '建议', ?, '2026-01-05', '2m', ?, 'months', ?, 'cli', ?, ?)",
            (dept, project, f"海财绩〔2026〕{project}", due_on, status, now, now))
        assert cur.lastrowid is not None
        return cur.lastrowid


def department_id(bot: RectbotProcess, name: str) -> int:
    with sqlite3.connect(bot.database) as conn:
        return int(conn.execute("SELECT id FROM departments WHERE name = ?", (name,)).fetchone()[0])


def ladder_rows(bot: RectbotProcess, case_id: int) -> list[str]:
    with sqlite3.connect(bot.database) as conn:
        return [r[0] for r in conn.execute("SELECT colour FROM ladder_changes WHERE case_id = ? ORDER BY id",
                                           (case_id,))]


def test_status_for_the_bureau_and_a_liaisons_own_department(sandbox: SandboxServer, rectbot: Factory) -> None:
    bot = rectbot({"testing": {"clock_start": CLOCK}, "ladder": {"refresh_seconds": 1}})
    for name in (EDU, HEALTH, WATER):
        bot.add_department(name)
    bot.start()
    supervisor, liaison = sandbox.create_user(first_name="督办甲"), sandbox.create_user(first_name="王芳")
    bot.register(supervisor, "supervisor")
    bot.register(liaison, "liaison", HEALTH)
    red = insert_case(bot, EDU, "义务教育均衡发展补助", "2026-03-06")       # 10 working days overdue: 红
    insert_case(bot, EDU, "学前教育补助", None, status="pending_feedback")
    insert_case(bot, EDU, "校舍维修", "2026-02-01", status="closed")
    insert_case(bot, HEALTH, "公共卫生服务补助", "2026-03-19")              # 1 working day overdue: 黄
    insert_case(bot, WATER, "农村饮水安全", "2026-03-25")                   # 3 working days left: 蓝
    deadline = time.monotonic() + 15
    while ladder_rows(bot, red) != ["red"]:                                  # the ladder job records it
        assert time.monotonic() < deadline, "the ladder was not recorded"
        time.sleep(0.2)
    for user in (supervisor, liaison):
        sandbox.mark_read(user)

    # the bureau: every department, worst first, with the five counts; a button per department
    supervisor.send_text("各单位情况")            # the menu's tap works exactly like /status
    overview = supervisor.wait_for_message(has("各单位整改情况"), timeout=15)
    lines = [ln for ln in overview.content.splitlines() if "：待签收" in ln]
    assert lines == ["🔴 县教育局：待签收 1 · 整改中 1 · 已报告待审 0 · 逾期 1 · 已销号 1",
                     "🟡 县卫健局：待签收 0 · 整改中 1 · 已报告待审 0 · 逾期 1 · 已销号 0",
                     "🔵 县水利局：待签收 0 · 整改中 1 · 已报告待审 0 · 逾期 0 · 已销号 0"]
    assert [label for label, _ in overview.buttons] == ["🔴 县教育局", "🟡 县卫健局", "🔵 县水利局"]
    supervisor.press(overview, "🔴 县教育局")
    cases = supervisor.wait_for_message(has("义务教育均衡发展补助"), timeout=15)
    assert f"🔴 整改事项#{red} · 义务教育均衡发展补助 · 整改中" in cases.content and "逾期10个工作日" in cases.content
    assert "校舍维修" not in cases.content                                  # closed: counted, not listed
    supervisor.send_command("status", WATER)
    water = supervisor.wait_for_message(has("农村饮水安全"), timeout=15)
    assert "🔵" in water.content and "剩余3个工作日" in water.content

    # /case: the colour now, and when it turned red in the history
    supervisor.send_command("case", str(red))
    shown = supervisor.wait_for_message(has("督办等级"), timeout=15)
    assert "督办等级转为🔴红色：二级督办" in shown.content and "督办等级：🔴 红" in shown.content

    # a liaison: their own department only
    liaison.send_command("status")
    own = liaison.wait_for_message(has("各单位整改情况"), timeout=15)
    assert HEALTH in own.content and EDU not in own.content and WATER not in own.content
    liaison.send_command("status", HEALTH)
    assert "公共卫生服务补助" in liaison.wait_for_message(has("公共卫生服务补助"), timeout=15).content
    liaison.send_command("status", EDU)
    refused = liaison.wait_for_message(timeout=15)
    assert refused.content == "您只能查看本单位（县卫健局）的情况。"
    liaison.send_command("status", "县不存在局")                             # no hint of which departments exist
    assert liaison.wait_for_message(timeout=15).content == "您只能查看本单位（县卫健局）的情况。"
    for forged in (f"st:d:{department_id(bot, EDU)}", f"pg:sdept:{department_id(bot, EDU)}:1"):
        answer = sandbox.wait_for_callback_answer(liaison.press(own, data=forged))
        assert answer.show_alert and answer.text == "您只能查看本单位（县卫健局）的情况。"
    # /stats: the bureau gets the ranking; the liaison their own department, another one refused
    supervisor.send_command("stats", "本年")
    assert "考核排名" in supervisor.wait_for_message(has("整改统计"), timeout=15).content
    liaison.send_command("stats")
    assert liaison.wait_for_message(has("整改统计"), timeout=15).content.startswith("📈 县卫健局 整改统计")
    liaison.send_command("stats", f"{EDU} 本年")
    assert liaison.wait_for_message(timeout=15).content == "您只能查看本单位（县卫健局）的情况。"
    time.sleep(0.5)
    assert all(EDU not in m.content and "义务教育" not in m.content for m in liaison.messages())
    assert [c.method for c in sandbox.calls() if c.status >= 400] == []


# --------------------------------------------------------------------------- the weekly bulletin

W11, W12 = "2026-03-09T09:00:00+08:00", "2026-03-16T09:00:00+08:00"   # Mondays, after escalation.digest_time
# Year-to-date reports due on 2 February: on time (30 January) out of four (F: of five)
ON_TIME = {"县教育局": (4, 4), "县司法局": (4, 5), "县卫健局": (3, 4), "县水利局": (2, 4), "县农业农村局": (1, 4),
           "县民政局": (0, 4)}


def seed(bot: RectbotProcess, people: list[tuple[SandboxUser, str, str | None]]) -> int:
    """People straight into the database (so they exist when the first bulletin goes out), the reports, and a
    previous week already handled (an installation that has run before: the first week is not only recorded)."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    with sqlite3.connect(bot.database, timeout=30) as conn:
        ids = {n: i for i, n in conn.execute("SELECT id, name FROM departments")}
        author = 0
        for user, role, dept in people:
            cur = conn.execute("INSERT INTO people (telegram_id, name, role, department_id, created_at)"
                               " VALUES (?, ?, ?, ?, ?)", (user.id, f"user{user.id}", role,
                                                          ids[dept] if dept else None, now))
            assert cur.lastrowid is not None
            author = author if role == "liaison" else cur.lastrowid
        conn.execute("INSERT INTO job_state (name, value) VALUES ('bulletin.last_week', '2026-W10')")
    for dept, (on_time, total) in ON_TIME.items():
        reports(bot, author, dept, total, on_time, "2026-02-02")
    return author


def reports(bot: RectbotProcess, author: int, dept: str, total: int, on_time: int, due: str) -> None:
    with sqlite3.connect(bot.database, timeout=30) as conn:
        dept_id = conn.execute("SELECT id FROM departments WHERE name = ?", (dept,)).fetchone()[0]
        for i in range(total):
            submitted = "2026-01-30" if i < on_time else "2026-02-05"
            if due > "2026-03-01":
                submitted = "2026-03-09"
            cur = conn.execute(
                "INSERT INTO cases (department_id, project, source, findings, suggestions, feedback_doc_no,"
                " feedback_received_on, period, due_on, due_rule, status, created_by, created_at, updated_at)"
                " VALUES (?, ?, 'evaluation', '问题', '建议', ?, '2026-01-05', '2m', ?, 'months', 'reported', 'cli',"
                " '2026-01-05T02:00:00+00:00', '2026-01-05T02:00:00+00:00')",
                (dept_id, f"{dept}{due}项目{i}", f"doc-{due}-{i}", due))
            conn.execute("INSERT INTO reports (case_id, author_id, state, step, measures, progress, created_at,"
                         " updated_at, submitted_at, submitted_on) VALUES (?, ?, 'submitted', 'summary', '已整改',"
                         " 'done', ?, ?, ?, ?)", (cur.lastrowid, author, submitted + "T02:00:00+00:00",
                                                 submitted + "T02:00:00+00:00", submitted + "T02:00:00+00:00",
                                                 submitted))


def explain_cases(bot: RectbotProcess) -> list[tuple[str, str]]:
    with sqlite3.connect(bot.database) as conn:
        return sorted(conn.execute("SELECT d.name, c.feedback_doc_no FROM cases c JOIN departments d"
                                   " ON d.id = c.department_id WHERE c.source = 'ranking'").fetchall())


def set_clock(bot: RectbotProcess, when: str) -> None:
    bot.settings["testing"]["clock_start"] = when
    bot.config.write_text(toml_dump(bot.settings), encoding="utf-8")


def test_two_weekly_bulletins_with_moves_and_art29_cases_once_across_a_sigkill(
        sandbox: SandboxServer, rectbot: Factory) -> None:
    bot = rectbot({"testing": {"clock_start": W11}})
    for name in ON_TIME:
        bot.add_department(name)
    supervisor, civil, water = (sandbox.create_user(first_name=n) for n in ("督办甲", "民政联络员", "水利联络员"))
    author = seed(bot, [(supervisor, "supervisor", None), (civil, "liaison", "县民政局"),
                        (water, "liaison", "县水利局")])
    bot.start()

    first = supervisor.wait_for_message(has("整改工作周通报 2026-W11"), timeout=30)
    assert first.document is not None and (first.document.file_name or "").endswith(".png")
    text = first.content
    assert "1. 县教育局（首次排名）：100.00 分" in text and "6. 县民政局（首次排名）：42.00 分" in text
    assert "通报表扬（第二十七条）：县教育局、县司法局、县卫健局" in text
    assert "须说明情况并提出改进措施的单位（第二十九条）：县水利局、县农业农村局、县民政局" in text
    sheet = supervisor.wait_for_message(lambda m: (m.document is not None and
                                                   (m.document.file_name or "").endswith(".xlsx")), timeout=30)
    assert sheet.document is not None
    line = civil.wait_for_message(has("整改工作周通报 2026-W11"), timeout=30)
    assert "县民政局：在 6 个单位中排名第 6 名" in line.content and "请说明情况" in line.content
    assert "县教育局" not in line.content                         # a liaison gets their own line only
    first_cases = [("县农业农村局", "2026-W11通报"), ("县民政局", "2026-W11通报"), ("县水利局", "2026-W11通报")]
    assert explain_cases(bot) == first_cases

    # SIGKILL, then a restart later the same Monday: nothing is issued or opened twice
    bot.kill()
    set_clock(bot, "2026-03-09T15:00:00+08:00")
    bot.start()
    time.sleep(4)
    assert explain_cases(bot) == first_cases
    assert len([m for m in supervisor.messages() if "整改工作周通报" in m.content]) == 1
    bot.stop()

    # a week later 县民政局 has reported 40 cases on time: it moves up three, and the bottom three change
    reports(bot, author, "县民政局", 40, 40, "2026-03-10")
    set_clock(bot, W12)
    bot.start()
    second = supervisor.wait_for_message(has("整改工作周通报 2026-W12"), timeout=30)
    assert "1. 县教育局（与上期持平）：100.00 分" in second.content
    assert "3. 县民政局（上升3位）：" in second.content and "4. 县卫健局（下降1位）：" in second.content
    assert "单位（第二十九条）：县卫健局、县水利局、县农业农村局" in second.content
    moved = civil.wait_for_message(has("整改工作周通报 2026-W12"), timeout=30)
    assert "排名第 3 名（上升3位）" in moved.content and "请说明情况" not in moved.content
    assert explain_cases(bot) == sorted([*first_cases, ("县农业农村局", "2026-W12通报"), ("县水利局", "2026-W12通报"),
                                         ("县卫健局", "2026-W12通报")])
    # last week's bulletin, shown again from the CLI, is the one issued (unchanged by the new reports)
    again = bot.cli("bulletin", "--week", "2026-W11").stdout
    assert "6. 县民政局（首次排名）：42.00 分" in again
