"""Issue 5 end to end: the real `rectbot run` against the sandbox — overdue at start-up, SIGKILL,
429/5xx faults, 403 → unreachable, and 1,000 liaisons due in the same minute."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime

from bot.sandbox import SandboxServer, SandboxUser, SentMessage
from tests.e2e.harness import RectbotProcess

CLOCK = "2026-03-20T10:00:00+08:00"   # a Friday, 15 working days after 2026-02-28
Factory = Callable[..., RectbotProcess]


def db(bot: RectbotProcess) -> sqlite3.Connection:
    conn = sqlite3.connect(bot.database, timeout=30, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn


def department_id(bot: RectbotProcess, name: str) -> int:
    with db(bot) as conn:
        return int(conn.execute("SELECT id FROM departments WHERE name = ?", (name,)).fetchone()[0])


def insert_case(bot: RectbotProcess, department: str, due_on: str, project: str = "义务教育均衡发展补助资金") -> int:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    conn = db(bot)
    try:
        cur = conn.execute(
            "INSERT INTO cases (department_id, project, source, findings, suggestions, feedback_doc_no,"
            " feedback_received_on, period, due_on, due_provisional, due_rule, confidential, status,"
            " next_action_at, created_by, created_at, updated_at)"
            " VALUES (?, ?, 'evaluation', '绩效目标不明确', '细化指标', ?, '2025-12-31', '2m', ?, 0, 'months', 0,"
            " 'in_progress', '2000-01-01T00:00:00+00:00', 'cli', ?, ?)",
            (department_id(bot, department), project, f"海财绩〔2026〕{project}", due_on, now, now),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid
    finally:
        conn.close()


def is_overdue_notice(m: SentMessage) -> bool:
    return "整改落实情况报告已逾期" in (m.text or "")


def is_escalation(m: SentMessage) -> bool:
    return (m.text or "").startswith("📣")


def outbox_states(bot: RectbotProcess) -> dict[str, int]:
    with db(bot) as conn:
        return dict(conn.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())


def wait_settled(sandbox: SandboxServer, bot: RectbotProcess, timeout: float = 60) -> None:
    """Until the outbox has nothing pending or being sent."""
    def settled() -> bool | None:
        states = outbox_states(bot)
        return (not states.get("pending") and not states.get("sending")) or None
    end = time.monotonic() + timeout
    while not settled():
        assert time.monotonic() < end, f"outbox not settled: {outbox_states(bot)}"
        time.sleep(0.1)


def resweep_and_wait(bot: RectbotProcess, case_id: int, timeout: float = 30) -> None:
    """Make the case due for the sweep again and wait until the sweep has handled it."""
    with db(bot) as conn:
        conn.execute("UPDATE cases SET next_action_at = '2000-01-01T00:00:00+00:00' WHERE id = ?", (case_id,))
    end = time.monotonic() + timeout
    while True:
        with db(bot) as conn:
            at = conn.execute("SELECT next_action_at FROM cases WHERE id = ?", (case_id,)).fetchone()[0]
        if at is None or at > "2026":
            return
        assert time.monotonic() < end, "the sweep did not handle the case"
        time.sleep(0.1)


def people(bot: RectbotProcess, sandbox: SandboxServer, department: str, liaisons: int = 2,
           supervisors: int = 1) -> tuple[list[SandboxUser], list[SandboxUser]]:
    ls = [sandbox.create_user(first_name=f"联络员{i}") for i in range(liaisons)]
    ss = [sandbox.create_user(first_name=f"督办员{i}") for i in range(supervisors)]
    for u in ls:
        bot.register(u, "liaison", department)
    for u in ss:
        bot.register(u, "supervisor")
    return ls, ss


def test_overdue_at_start_up_notifies_once_even_after_sigkill(sandbox: SandboxServer, rectbot: Factory) -> None:
    bot = rectbot({"testing": {"clock_start": CLOCK}})
    bot.add_department("县教育局")
    bot.start()
    liaisons, supervisors = people(bot, sandbox, "县教育局", liaisons=2, supervisors=2)
    bot.stop()
    case_id = insert_case(bot, "县教育局", "2026-02-28")
    bot.start()

    for u in liaisons:
        notice = u.wait_for_message(is_overdue_notice, timeout=20)
        assert "已逾期15个工作日" in (notice.text or "") and "义务教育均衡发展补助资金" in (notice.text or "")
    for u in supervisors:
        esc = u.wait_for_message(is_escalation, timeout=20)
        assert "县教育局" in (esc.text or "")
    wait_settled(sandbox, bot)

    bot.kill()
    bot.start()
    resweep_and_wait(bot, case_id)
    supervisors[0].send_command("overdue")
    listing = supervisors[0].wait_for_message(lambda m: "县教育局" in (m.text or "") and "逾期" in (m.text or "")
                                              and not is_escalation(m))
    assert "拒不整改风险" in (listing.text or "")  # 15 ≥ 10 working days: level 2
    wait_settled(sandbox, bot)

    for u in liaisons:
        assert sum(is_overdue_notice(m) for m in u.messages()) == 1
        assert not any(is_escalation(m) for m in u.messages())
    for u in supervisors:
        assert sum(is_escalation(m) for m in u.messages()) == 1
        assert not any(is_overdue_notice(m) for m in u.messages())
    assert sandbox.violations.total == 0


def test_429_and_500_still_deliver_everything_exactly_once(sandbox: SandboxServer, rectbot: Factory) -> None:
    bot = rectbot({"testing": {"clock_start": CLOCK}})
    bot.add_department("县卫健局")
    bot.start()
    liaisons, supervisors = people(bot, sandbox, "县卫健局", liaisons=3, supervisors=1)
    sandbox.inject("sendMessage", "429", times=3, retry_after=1)
    sandbox.inject("sendMessage", "500", times=3)
    sandbox.inject("sendMessage", "502", times=1)
    insert_case(bot, "县卫健局", "2026-02-28")
    for u in liaisons:
        u.wait_for_message(is_overdue_notice, timeout=40)
    supervisors[0].wait_for_message(is_escalation, timeout=40)
    wait_settled(sandbox, bot)
    for u in liaisons:
        assert sum(is_overdue_notice(m) for m in u.messages()) == 1
    assert sum(is_escalation(m) for m in supervisors[0].messages()) == 1
    assert outbox_states(bot) == {"sent": 4}
    with db(bot) as conn:
        attempts = conn.execute("SELECT sum(attempts) FROM outbox").fetchone()[0]
    assert attempts > 4  # the faults were really met and retried


def test_blocked_liaison_is_marked_unreachable_and_supervisors_are_told(
    sandbox: SandboxServer, rectbot: Factory
) -> None:
    bot = rectbot({"testing": {"clock_start": CLOCK}})
    bot.add_department("县水利局")
    bot.start()
    (liaison,), (supervisor,) = people(bot, sandbox, "县水利局", liaisons=1, supervisors=1)
    sandbox.block(liaison)
    insert_case(bot, "县水利局", "2026-02-28")
    told = supervisor.wait_for_message(lambda m: "没有可联系的联络员" in (m.text or ""), timeout=20)
    assert "县水利局" in (told.text or "") and "联络员0" in (told.text or "")
    with db(bot) as conn:
        reachable = conn.execute("SELECT reachable FROM people WHERE telegram_id = ?", (liaison.id,)).fetchone()[0]
        audit = conn.execute("SELECT count(*) FROM audit_log WHERE action = 'person.unreachable'").fetchone()[0]
        dropped = conn.execute("SELECT count(*) FROM outbox WHERE state = 'dropped'").fetchone()[0]
    assert reachable == 0 and audit == 1 and dropped == 1
    # The digest lists the department; writing to the bot again makes the liaison reachable.
    supervisor.send_command("digest")
    digest = supervisor.wait_for_message(lambda m: "每日汇总" in (m.text or ""))
    supervisor.press(digest, "无可联系联络员的单位")
    supervisor.wait_for_message(lambda m: (m.text or "").startswith("无可联系联络员的单位") and "县水利局" in m.text)
    sandbox.unblock(liaison)
    liaison.send_command("whoami")
    liaison.wait_for_message()
    with db(bot) as conn:
        reachable = conn.execute("SELECT reachable FROM people WHERE telegram_id = ?", (liaison.id,)).fetchone()[0]
    assert reachable == 1


def test_replies_to_reminders(sandbox: SandboxServer, rectbot: Factory) -> None:
    """A liaison's reply is taken over by the report conversation (issue 6); a supervisor's reply to
    an escalation notice is stored as a progress note on the case and confirmed."""
    bot = rectbot({"testing": {"clock_start": CLOCK}})
    bot.add_department("县农业农村局")
    bot.start()
    (liaison,), (supervisor,) = people(bot, sandbox, "县农业农村局", liaisons=1, supervisors=1)
    case_id = insert_case(bot, "县农业农村局", "2026-02-28")
    notice = liaison.wait_for_message(is_overdue_notice, timeout=20)
    escalation = supervisor.wait_for_message(is_escalation, timeout=20)

    supervisor.send_text("已电话督促，对方承诺下周报送", reply_to=escalation)
    ok = supervisor.wait_for_message(lambda m: "整改进展" in (m.text or ""))
    assert f"整改事项#{case_id}" in (ok.text or "")
    supervisor.send_document("督办记录.pdf", b"%PDF-1.4 test", "application/pdf", reply_to=escalation)
    supervisor.wait_for_message(lambda m: "督办记录.pdf" in (m.text or ""))
    with db(bot) as conn:
        notes = conn.execute("SELECT text, file_name FROM case_notes WHERE case_id = ? ORDER BY id",
                             (case_id,)).fetchall()
        audited = conn.execute("SELECT count(*) FROM audit_log WHERE action = 'case.progress_note'").fetchone()[0]
    assert notes == [("已电话督促，对方承诺下周报送", None), ("", "督办记录.pdf")] and audited == 2

    liaison.send_text("已完成80%", reply_to=notice)
    started = liaison.wait_for_message(lambda m: f"整改事项#{case_id}" in (m.text or ""))
    assert started.text


def test_thousand_liaisons_due_in_the_same_minute(sandbox: SandboxServer, rectbot: Factory) -> None:
    bot = rectbot({"testing": {"clock_start": CLOCK}})
    bot.add_department("县财政局大楼")
    dept = department_id(bot, "县财政局大楼")
    users = [sandbox.create_user(first_name=f"L{i}") for i in range(1000)]
    conn = db(bot)
    try:
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO people (telegram_id, name, role, department_id, locale, created_at)"
            " VALUES (?, ?, 'liaison', ?, 'zh_CN', '2026-01-01T00:00:00+00:00')",
            [(u.id, f"L{i}", dept) for i, u in enumerate(users)],
        )
        conn.execute("COMMIT")
    finally:
        conn.close()
    insert_case(bot, "县财政局大楼", "2026-03-20")  # due today: the last-day reminder
    bot.start()
    ids = {u.id for u in users}

    def all_arrived() -> list[SentMessage] | None:
        got = [m for m in sandbox.messages() if m.chat_id in ids]
        return got if len(got) >= 1000 else None

    got = sandbox.wait_until(all_arrived, timeout=180, what="1,000 reminders")
    wait_settled(sandbox, bot)
    per_chat: dict[int, int] = {}
    for m in sandbox.messages():
        if m.chat_id in ids:
            per_chat[m.chat_id] = per_chat.get(m.chat_id, 0) + 1
            assert "今天是最后一天" in (m.text or "")
    assert len(per_chat) == 1000 and set(per_chat.values()) == {1}
    assert sandbox.violations.total == 0, sandbox.violations
    times = sorted(m.sent_at for m in got)
    rate = (len(times) - 1) / (times[-1] - times[0])
    print(f"\n1,000 reminders delivered at {rate:.1f} messages/s, flood violations: {sandbox.violations.total}")


def test_one_message_per_person_per_sweep_with_pages_buttons_and_a_reply_chooser(
    sandbox: SandboxServer, rectbot: Factory,
) -> None:
    """Issue 14: twelve overdue cases of one department in one sweep give the liaison one overdue
    notice and the supervisor one escalation message, each listing them (paged, a button per case);
    ◀ ▶ turns the page in place; a reply to the list gets a case chooser; each case's step is one
    row, sent once."""
    bot = rectbot({"testing": {"clock_start": CLOCK}})
    bot.add_department("县卫生健康局")
    bot.start()
    (liaison,), (supervisor,) = people(bot, sandbox, "县卫生健康局", liaisons=1, supervisors=1)
    bot.stop()
    ids = [insert_case(bot, "县卫生健康局", "2026-02-28" if i % 2 else "2026-03-10", project=f"项目{i:02d}")
           for i in range(12)]
    bot.start()

    notice = liaison.wait_for_message(is_overdue_notice, timeout=30)
    escalation = supervisor.wait_for_message(is_escalation, timeout=30)
    wait_settled(sandbox, bot)
    assert sum(is_overdue_notice(m) for m in liaison.messages()) == 1
    assert sum(is_escalation(m) for m in supervisor.messages()) == 1
    assert (notice.text or "").startswith("🔴 提醒（《办法》第十二条）：您有12件整改事项的整改落实情况报告已逾期。")
    assert (escalation.text or "").startswith("📣 督办：本次新增12件整改事项逾期。")
    assert "第1/2页，共12件" in (escalation.text or "") and "县卫生健康局" in (escalation.text or "")
    opens = [data for _label, data in escalation.buttons if data and data.startswith("cs:o:")]
    assert len(opens) == 10
    with db(bot) as conn:
        rows = conn.execute("SELECT kind, count(*), count(DISTINCT key), count(DISTINCT telegram_message_id)"
                            " FROM outbox WHERE state = 'sent' GROUP BY kind ORDER BY kind").fetchall()
    assert rows == [("escalation", 12, 12, 1), ("overdue", 12, 12, 1)]

    # ▶ on the escalation list: page 2, edited in place, with the last two cases.
    query = supervisor.press(escalation, "下一页 ▶")
    sandbox.wait_for_callback_answer(query, timeout=15)
    page2 = sandbox.wait_for_edit(supervisor, escalation.message_id, timeout=15)
    assert "第2/2页，共12件" in page2.content and "11. " in page2.content and "12. " in page2.content
    # A button opens its case.
    supervisor.press(escalation, data=opens[0])
    supervisor.wait_for_message(lambda m: f"整改事项#{opens[0].split(':')[-1]}" in (m.text or "")
                                and not is_escalation(m), timeout=15)

    # A reply to the liaison's list: which case? Nothing is recorded, the chooser starts a report.
    liaison.send_text("已完成80%", reply_to=notice)
    chooser = liaison.wait_for_message(lambda m: "该消息列出了12件事项" in (m.text or ""), timeout=15)
    report_buttons = [data for _label, data in chooser.buttons if data and data.startswith("rp:c:")]
    assert report_buttons == [f"rp:c:{c}" for c in sorted(ids)[:10]]
    liaison.press(chooser, data=report_buttons[0])
    liaison.wait_for_message(lambda m: f"整改事项#{sorted(ids)[0]}" in (m.text or "") and m is not chooser,
                             timeout=15)
    with db(bot) as conn:
        assert conn.execute("SELECT count(*) FROM case_notes").fetchone()[0] == 0
    assert sandbox.violations.total == 0
