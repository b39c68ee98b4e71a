"""Issue 6 end to end: the real `rectbot run` against the sandbox Bot API.

reminder → the liaison replies → report with a PDF → returned for rework → second report →
accepted and closed → the ledger export shows it; a second supervisor's press is told who
decided; forged callback data and another department's liaison change nothing; the draft
survives SIGKILL; extensions after the deadline are refused, before it approved and followed
by the reminders.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime

import openpyxl
import pytest

from bot.sandbox import SandboxServer, SandboxUser
from tests.e2e.harness import RectbotProcess
from tests.e2e.helpers import db, has, one, wait_db

CLOCK = "2026-03-02T10:00:00+08:00"   # Monday
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <</Type /Catalog>> endobj\ntrailer <<>>\n%%EOF\n"
Factory = Callable[..., RectbotProcess]


def insert_case(bot: RectbotProcess, department: str, due_on: str, project: str) -> int:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    conn = db(bot)
    try:
        dept = conn.execute("SELECT id FROM departments WHERE name = ?", (department,)).fetchone()[0]
        cur = conn.execute(
            "INSERT INTO cases (department_id, project, source, grade, findings, suggestions, feedback_doc_no,"
            " feedback_received_on, period, due_on, due_provisional, due_rule, confidential, status,"
            " next_action_at, created_by, created_at, updated_at)"
            " VALUES (?, ?, 'evaluation', 'fair', '资金拨付滞后', '加快拨付', ?, '2026-01-05', '2m', ?, 0, 'months', 0,"
            " 'in_progress', '2000-01-01T00:00:00+00:00', 'cli', ?, ?)",
            (dept, project, f"盐财绩〔2026〕{project}", due_on, now, now),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid
    finally:
        conn.close()


def answer_of(sandbox: SandboxServer, query_id: str) -> str:
    return sandbox.wait_for_callback_answer(query_id).text or ""


def setup(sandbox: SandboxServer, rectbot: Factory) -> tuple[RectbotProcess, SandboxUser, SandboxUser, SandboxUser,
                                                            SandboxUser]:
    bot = rectbot({"testing": {"clock_start": CLOCK}})
    bot.add_department("县教育局")
    bot.add_department("县卫健局")
    bot.start()
    sup1, sup2 = sandbox.create_user(first_name="督办甲"), sandbox.create_user(first_name="督办乙")
    liaison, other = sandbox.create_user(first_name="王芳"), sandbox.create_user(first_name="赵敏")
    bot.register(sup1, "supervisor")
    bot.register(sup2, "supervisor")
    bot.register(liaison, "liaison", "县教育局")
    bot.register(other, "liaison", "县卫健局")
    return bot, sup1, sup2, liaison, other


@pytest.mark.fast_chats
def test_reminder_reply_report_return_second_report_close_and_export(
    sandbox: SandboxServer, rectbot: Factory, tmp_path: object
) -> None:
    bot, sup1, sup2, liaison, _other = setup(sandbox, rectbot)
    case_id = insert_case(bot, "县教育局", "2026-03-05", "学生营养餐补助")  # 3 working days left: a reminder

    reminder = liaison.wait_for_message(has("学生营养餐补助"), timeout=30)
    liaison.send_text("一、已拨付补助资金120万元。", reply_to=reminder)
    liaison.wait_for_message(has(f"#{case_id}"))               # the report opens on that case
    noted = liaison.wait_for_message(has("下一步"))
    liaison.send_document("拨付凭证.pdf", PDF, "application/pdf")
    liaison.wait_for_message(has("拨付凭证.pdf"))
    liaison.press(noted, "下一步")
    status = liaison.wait_for_message(has("整改情况如何"))
    liaison.press(status, "已整改")
    summary = liaison.wait_for_message(has("提交"))
    assert "已拨付补助资金120万元" in summary.content and "拨付凭证.pdf" in summary.content
    liaison.press(summary, "提交")
    liaison.wait_for_message(has("已提交"))
    first_report = int(one(bot, "SELECT id FROM reports WHERE case_id = ? AND state = 'submitted'", case_id))  # type: ignore[arg-type]

    # The supervisors get the card and the PDF itself; the stored file is named by its hash.
    card = sup1.wait_for_message(has("审核", f"#{case_id}"), timeout=20)
    evidence = sup1.wait_for_message(lambda m: m.document is not None, timeout=20)
    assert evidence.document_bytes == PDF
    sha = hashlib.sha256(PDF).hexdigest()
    assert one(bot, "SELECT path FROM evidence_files WHERE report_id = ?", first_report) == f"{case_id}/{sha}.pdf"
    assert (bot.workdir / "files" / str(case_id) / f"{sha}.pdf").read_bytes() == PDF

    # A liaison replaying the supervisor's callback data is refused; nothing changes.
    forged = liaison.press(summary, data=f"rv:close:{first_report}")
    assert "无权" in answer_of(sandbox, forged) or "不可用" in answer_of(sandbox, forged)
    assert one(bot, "SELECT state FROM reports WHERE id = ?", first_report) == "submitted"

    # Returned for rework with a reason and the default new deadline (10 working days → 2026-03-16).
    sup1.press(card, "退回")
    sup1.wait_for_message(has("理由"))
    sup1.send_text("缺少资金拨付明细表")
    due_prompt = sup1.wait_for_message(has("10个工作日"))
    sup1.press(due_prompt, "2026年3月16日")
    sup1.wait_for_message(has("退回补充"))
    liaison.wait_for_message(has("退回", "2026年3月16日"), timeout=20)
    assert one(bot, "SELECT due_on FROM cases WHERE id = ?", case_id) == "2026-03-16"

    # Second report through /report (the only case awaiting a report: no choice to make).
    # It is the second submission and starts from the first one's measures and PDF.
    liaison.send_command("report")
    liaison.wait_for_message(has(f"#{case_id}", "第2次报送", "缺少资金拨付明细表", "一、已拨付"))
    liaison.send_text("二、已补充资金拨付明细表。")
    noted = liaison.wait_for_message(has("下一步"))
    liaison.press(noted, "下一步")
    liaison.press(liaison.wait_for_message(has("整改情况如何")), "已整改")
    summary2 = liaison.wait_for_message(has("提交"))
    assert "一、已拨付补助资金120万元。\n二、已补充" in summary2.content and "拨付凭证.pdf" in summary2.content
    liaison.press(summary2, "提交")
    liaison.wait_for_message(has("已提交"))
    wait_db(bot, "SELECT count(*) FROM reports WHERE case_id = ? AND state = 'submitted'", 1, case_id)
    second_report = int(one(bot, "SELECT id FROM reports WHERE case_id = ? AND state = 'submitted'", case_id))  # type: ignore[arg-type]

    card2_sup2 = sup2.wait_for_message(has("审核", "二、已补充"), timeout=20)
    card2_sup1 = sup1.wait_for_message(has("审核", "二、已补充"), timeout=20)
    sup2.press(card2_sup2, "销号")
    sup2.press(sup2.wait_for_message(has("审核意见", "无意见")), "无意见")
    sup2.press(sup2.wait_for_message(has("确认对", "销号", "审核意见：无")), "确认销号")
    sup2.wait_for_message(has("已销号"))
    late_press = sup1.press(card2_sup1, "销号")
    told = answer_of(sandbox, late_press)
    assert "督办乙" in told and "已" in told  # who decided (and when)
    assert one(bot, "SELECT count(*) FROM reviews WHERE report_id = ?", second_report) == 1
    assert one(bot, "SELECT status FROM cases WHERE id = ?", case_id) == "closed"
    liaison.wait_for_message(has("销号"), timeout=20)

    export = bot.workdir / "ledger.xlsx"
    bot.cli("export", "-o", str(export))
    sheet = openpyxl.load_workbook(export).active
    header = [c.value for c in sheet[1]]
    row = next(r for r in sheet.iter_rows(min_row=2, values_only=True) if r[header.index("编号")] == case_id)
    assert row[header.index("状态")] == "已销号"
    assert "销号" in str(row[header.index("审核结果")])
    assert row[header.index("报告日期")] is not None
    decisions = [r[0] for r in db(bot).execute(
        "SELECT v.decision FROM reviews v JOIN reports r ON r.id = v.report_id WHERE r.case_id = ? ORDER BY v.id",
        (case_id,)).fetchall()]
    assert decisions == ["return_for_rework", "close"]


@pytest.mark.fast_chats
def test_other_department_cannot_report_and_forged_start_is_refused(sandbox: SandboxServer, rectbot: Factory) -> None:
    bot, _sup1, _sup2, liaison, other = setup(sandbox, rectbot)
    case_id = insert_case(bot, "县教育局", "2026-03-31", "校舍维修工程")
    other.send_command("cases")
    assert f"#{case_id}" not in other.wait_for_message().content
    other.send_command("report", str(case_id))
    other.wait_for_message(has(f"#{case_id}", "不属于"))
    # Forged button data on one of the bot's messages to them: refused, no draft.
    last = other.messages()[-1]
    answer = answer_of(sandbox, other.press(last, data=f"rp:c:{case_id}"))
    assert "不属于" in answer
    assert one(bot, "SELECT count(*) FROM reports WHERE case_id = ?", case_id) == 0
    liaison.send_command("cases")
    listing = liaison.wait_for_message(has(f"#{case_id}"))
    assert "校舍维修工程" in listing.content and "🟢" in listing.content


@pytest.mark.fast_chats
def test_report_draft_survives_sigkill(sandbox: SandboxServer, rectbot: Factory) -> None:
    bot, _sup1, _sup2, liaison, _other = setup(sandbox, rectbot)
    case_id = insert_case(bot, "县教育局", "2026-03-31", "农村公路养护")
    liaison.send_command("report")
    liaison.wait_for_message(has(f"#{case_id}"))
    liaison.send_text("一、完成路面修补3.2公里。")
    liaison.wait_for_message(has("下一步"))
    wait_db(bot, "SELECT measures FROM reports WHERE case_id = ?", "一、完成路面修补3.2公里。", case_id)
    bot.kill()
    bot.start()
    # Whatever PTB remembered, the next message still lands in the draft…
    liaison.send_text("二、建立养护巡查台账。")
    liaison.wait_for_message(has("下一步"))
    wait_db(bot, "SELECT measures FROM reports WHERE case_id = ?", "一、完成路面修补3.2公里。\n二、建立养护巡查台账。",
            case_id)
    bot.kill()
    bot.start()
    # …and /report resumes it where it stood.
    liaison.send_command("report")
    resumed = liaison.wait_for_message(has("继续"))
    assert "农村公路养护" in resumed.content and "一、完成路面修补3.2公里。\n二、建立养护巡查台账。" in resumed.content
    liaison.press(resumed, "下一步")
    liaison.press(liaison.wait_for_message(has("整改情况如何")), "部分整改")
    liaison.wait_for_message(has("理由"))
    liaison.send_text("部分路段需等待雨季结束")
    liaison.press(liaison.wait_for_message(has("佐证材料")), "跳过")
    liaison.press(liaison.wait_for_message(has("提交")), "提交")
    liaison.wait_for_message(has("已提交"))
    assert one(bot, "SELECT state FROM reports WHERE case_id = ?", case_id) == "submitted"


@pytest.mark.fast_chats
def test_extension_late_refused_timely_approved_moves_deadline_and_reminders(
    sandbox: SandboxServer, rectbot: Factory
) -> None:
    bot, sup1, _sup2, liaison, _other = setup(sandbox, rectbot)
    late = insert_case(bot, "县教育局", "2026-02-27", "图书馆建设")
    timely = insert_case(bot, "县教育局", "2026-03-04", "教师培训经费")
    # The reminder for 4 March goes out first (the test waits for it, so the extension below cannot
    # overtake it and supersede it before it is sent).
    assert liaison.wait_for_message(has("教师培训经费", "2026年3月4日"), timeout=20)

    liaison.send_command("extend", str(late))
    liaison.wait_for_message(has(f"#{late}", "已过"))
    assert one(bot, "SELECT count(*) FROM extension_requests") == 0

    liaison.send_command("extend", str(timely))
    liaison.wait_for_message(has("理由"))
    liaison.send_text("培训机构调整，需重新招标")
    liaison.wait_for_message(has("延至"))
    liaison.send_text("4月3日")
    liaison.press(liaison.wait_for_message(has("请核对延期申请", "2026年4月3日（星期五）")), "提交")
    liaison.wait_for_message(has("已提交延期申请"))
    request = sup1.wait_for_message(has("延期申请", f"#{timely}"), timeout=20)
    sup1.press(request, "同意")
    sup1.wait_for_message(has("2026年3月4日", "2026年4月3日"))
    assert one(bot, "SELECT due_on FROM cases WHERE id = ?", timely) == "2026-04-03"
    assert one(bot, "SELECT previous_due_on FROM extension_requests") == "2026-03-04"
    liaison.wait_for_message(has("延期", "2026年4月3日"), timeout=20)

    # The reminders follow the new deadline: the one for 4 March went out before; the sweep now plans the
    # next one for 10 working days before 3 April (20 March, 00:00 in Shanghai).
    wait_db(bot, "SELECT next_action_at FROM cases WHERE id = ?", "2026-03-19T16:00:00+00:00", timely, timeout=30)
    keys = [r[0] for r in db(bot).execute("SELECT key FROM outbox WHERE case_id = ? AND kind = 'reminder'",
                                          (timely,)).fetchall()]
    assert keys and all(":2026-03-04:" in k for k in keys)  # nothing new until the new schedule's first step
    history = [r[0] for r in db(bot).execute(
        "SELECT action FROM audit_log WHERE entity = 'case' AND entity_id = ? ORDER BY id", (timely,)).fetchall()]
    assert history[-2:] == ["extension.request", "extension.approve"]


def request_extension(liaison: SandboxUser, case_id: int, reason: str, until: str) -> None:
    liaison.send_command("extend", str(case_id))
    liaison.wait_for_message(has("理由"))
    liaison.send_text(reason)
    liaison.wait_for_message(has("延至"))
    liaison.send_text(until)
    liaison.press(liaison.wait_for_message(has("请核对延期申请")), "提交")
    liaison.wait_for_message(has("已提交延期申请"))


def test_extension_granted_for_another_date_or_refused_with_a_reason(
    sandbox: SandboxServer, rectbot: Factory
) -> None:
    """The two typed decisions: another date than proposed (bad date asked again), and a refusal."""
    bot, sup1, _sup2, liaison, _other = setup(sandbox, rectbot)
    other_date = insert_case(bot, "县教育局", "2026-03-04", "校舍维修")
    refused = insert_case(bot, "县教育局", "2026-03-05", "课后服务补助")

    request_extension(liaison, other_date, "施工单位变更", "4月30日")
    card = sup1.wait_for_message(has("延期申请", f"#{other_date}"), timeout=20)
    sup1.press(card, "另定日期")
    sup1.wait_for_message(has("延至哪一天"))
    sup1.send_text("过几天吧")
    sup1.wait_for_message(has("过几天吧"))  # not a date: asked again, nothing decided
    assert one(bot, "SELECT state FROM extension_requests WHERE case_id = ?", other_date) == "pending"
    sup1.send_text("4月15日")
    sup1.wait_for_message(has(f"#{other_date}", "2026年4月15日"))
    assert one(bot, "SELECT due_on FROM cases WHERE id = ?", other_date) == "2026-04-15"
    liaison.wait_for_message(has("延期", "2026年4月15日"), timeout=20)

    request_extension(liaison, refused, "资金未到位", "5月8日")
    card = sup1.wait_for_message(has("延期申请", f"#{refused}"), timeout=20)
    sup1.press(card, "不同意")
    sup1.wait_for_message(has("不同意", "理由"))
    sup1.send_text("理由不充分，请按期完成")
    sup1.wait_for_message(has(f"#{refused}", "未同意", "2026年3月5日"))
    assert one(bot, "SELECT state FROM extension_requests WHERE case_id = ?", refused) == "refused"
    assert one(bot, "SELECT due_on FROM cases WHERE id = ?", refused) == "2026-03-05"
    assert sandbox.violations.total == 0

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82")


@pytest.mark.fast_chats
def test_evidence_in_chat_voice_hint_refused_types_budget_and_spot_check(
    sandbox: SandboxServer, rectbot: Factory
) -> None:
    bot, sup1, _sup2, liaison, _other = setup(sandbox, rectbot)
    case_id = insert_case(bot, "县教育局", "2026-03-05", "课后服务补助")
    reminder = liaison.wait_for_message(has("课后服务补助"), timeout=30)
    # Replying to the reminder with a document (and a caption) starts the report with both.
    liaison.send_document("整改情况说明.pdf", PDF, "application/pdf", caption="整改情况详见附件。", reply_to=reminder)
    liaison.wait_for_message(has(f"#{case_id}"))
    liaison.wait_for_message(has("整改情况说明.pdf"))
    assert one(bot, "SELECT measures FROM reports WHERE case_id = ?", case_id) == "整改情况详见附件。"
    liaison.send_voice(b"OggS\x00fake-voice")
    liaison.wait_for_message(has("语音"))
    liaison.send_document("setup.exe", b"MZ\x90\x00\x03", "application/x-msdownload")
    liaison.wait_for_message(has("无法接收", "PDF"))
    liaison.send_document("报告.pdf", b"MZ\x90\x00 not really a pdf", "application/pdf")
    liaison.wait_for_message(has("不是有效的 PDF"))
    liaison.send_photo(PNG)
    liaison.wait_for_message(has("已收到"))
    rows = db(bot).execute("SELECT mime_type, size, sha256, path FROM evidence_files ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ["application/pdf", "image/png"]  # the photo's bytes decide its type
    assert [r[3] for r in rows] == [f"{case_id}/{rows[0][2]}.pdf", f"{case_id}/{rows[1][2]}.png"]
    assert rows[0][1] == len(PDF)

    # /budget: the grade 中 case is listed for a budget cut, and the spreadsheet comes along.
    sup1.send_command("budget")
    sup1.wait_for_message(has("课后服务补助", "核减"))
    sheet = sup1.wait_for_message(lambda m: m.document is not None)
    assert (sheet.document.file_name or "").endswith(".xlsx")  # type: ignore[union-attr]

    # /spotcheck 1 on the only closed case: a spot_check case for its department, seed in the audit log.
    conn = db(bot)
    conn.execute("UPDATE cases SET status = 'closed' WHERE id = ?", (case_id,))
    conn.close()
    sup1.send_command("spotcheck", "1")
    sup1.wait_for_message(has("随机种子", f"#{case_id}"))
    assert one(bot, "SELECT count(*) FROM cases WHERE source = 'spot_check' AND origin_case_id = ?", case_id) == 1
    assert one(bot, "SELECT count(*) FROM audit_log WHERE action = 'spotcheck.draw'") == 1
    liaison.wait_for_message(has("抽查复核", f"#{case_id}"), timeout=20)
    liaison.send_command("spotcheck", "1")
    liaison.wait_for_message(has("无权"))
