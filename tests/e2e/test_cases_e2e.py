"""Issue 4, as users would: /new with Chinese dates, the feedback card and 确认收到, /case per department,
a draft that survives a restart, and the ledger uploaded and exported in chat.

The bot's clock starts on Monday 2026-03-02 10:00 in Haiyan. Worked by hand from the 2026 schedule:
evaluation ended 2026-01-20 + 1 month = 02-20, inside the Spring Festival block (02-15..02-23), so the
bureau's feedback deadline is Tuesday 02-24; received 03-02 + 2 months = 05-02, inside the Labour Day
block (05-01..05-05), so the report deadline is Wednesday 2026-05-06.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable

import openpyxl
import pytest

from bot.sandbox import SandboxServer, SandboxUser
from tests.e2e.harness import RectbotProcess
from tests.e2e.helpers import has

pytestmark = [pytest.mark.e2e, pytest.mark.fast_chats]  # what is said, not pacing (conftest)

CLOCK = {"testing": {"clock_start": "2026-03-02T10:00:00+08:00"}}


def setup(sandbox: SandboxServer, rectbot: Callable[..., RectbotProcess]) -> tuple[
        RectbotProcess, SandboxUser, SandboxUser, SandboxUser]:
    bot = rectbot(CLOCK)
    bot.add_department("县教育局")
    bot.add_department("县卫生健康局")
    bot.start()
    supervisor = sandbox.create_user(first_name="王督办")
    liaison = sandbox.create_user(first_name="张联络")
    stranger_dept = sandbox.create_user(first_name="赵联络")
    bot.register(supervisor, "supervisor")
    bot.register(liaison, "liaison", "县教育局")
    bot.register(stranger_dept, "liaison", "县卫生健康局")
    return bot, supervisor, liaison, stranger_dept


def test_register_with_new_acknowledge_and_view(sandbox: SandboxServer,
                                                rectbot: Callable[..., RectbotProcess]) -> None:
    bot, supervisor, liaison, other = setup(sandbox, rectbot)

    supervisor.send_command("new")
    ask = supervisor.wait_for_message(has("哪个单位"))
    supervisor.press(ask, "县教育局")
    supervisor.wait_for_message(has("项目名称"))
    supervisor.send_text("义务教育补助资金")
    supervisor.press(supervisor.wait_for_message(has("来源")), "绩效评价")
    supervisor.press(supervisor.wait_for_message(has("评价等级")), "中")
    supervisor.wait_for_message(has("存在问题"))
    supervisor.send_text("资金拨付滞后")
    supervisor.wait_for_message(has("整改建议"))
    supervisor.send_text("加快拨付进度")
    supervisor.wait_for_message(has("反馈文号"))
    supervisor.send_text("盐财绩〔2026〕12号")
    supervisor.wait_for_message(has("评价工作"))
    supervisor.send_text("下个月吧")  # garbage: asked again
    supervisor.wait_for_message(has("看不懂日期"))
    supervisor.send_text("1月20日")
    supervisor.wait_for_message(has("2026年1月20日（星期二）"))
    supervisor.wait_for_message(has("反馈是哪天发出"))
    supervisor.send_text("上周五")
    supervisor.wait_for_message(has("2026年2月27日（星期五）"))
    supervisor.press(supervisor.wait_for_message(has("涉密")), "否")
    summary = supervisor.wait_for_message(has("请核对"))
    assert "反馈期限（财政局）：2026年2月24日（星期二）" in summary.content
    assert "义务教育补助资金" in summary.content and "收到反馈之日起2个月" in summary.content
    supervisor.press(summary, "确认")
    done = supervisor.wait_for_message(has("已登记"))
    assert "整改事项#1" in done.content and "1 名联络员" in done.content

    card = liaison.wait_for_message(has("整改反馈"), timeout=20)
    for part in ("义务教育补助资金", "资金拨付滞后", "加快拨付进度", "盐财绩〔2026〕12号", "2个月"):
        assert part in card.content
    assert other.messages()[-1].content.count("义务教育补助资金") == 0
    liaison.press(card, "确认收到")
    answer = liaison.wait_for_message(has("已确认收到"))
    assert "2026年3月2日（星期一）" in answer.content
    assert "整改期限：2026年5月6日（星期三）" in answer.content and "暂定" not in answer.content

    # A second tap (e.g. a stale card) is idempotent and says when it was acknowledged.
    query = liaison.press(card.message_id, data="case:ack:1")
    liaison.wait_for_message(has("无需重复确认"))
    answered = sandbox.callback_answer(query)
    assert answered is not None and "2026年3月2日" in (answered.text or "")

    liaison.send_command("case", "1")
    view = liaison.wait_for_message(has("整改事项#1"))
    assert "义务教育补助资金" in view.content and "2026年5月6日（星期三）" in view.content
    assert "办理记录" in view.content and "王督办" in view.content and "张联络" in view.content

    other.send_command("case", "1")
    # issue 13: the same words as for a case number that does not exist, so numbers cannot be enumerated
    refusal = other.wait_for_message(has("整改事项#1不属于您所在部门"))
    assert "义务教育补助资金" not in refusal.content
    other.send_command("case", "999")
    assert other.wait_for_message(has("#999")).content == refusal.content.replace("#1", "#999")
    # A forged 确认收到 from another department's liaison changes nothing.
    forged = other.press(refusal.message_id, data="case:ack:1")
    deadline = time.monotonic() + 10
    while sandbox.callback_answer(forged) is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    refused = sandbox.callback_answer(forged)
    assert refused is not None and refused.show_alert and "不属于您所在部门" in (refused.text or "")
    liaison.send_command("case", "1")
    history = liaison.wait_for_message(has("办理记录")).content
    assert history.count("确认收到反馈") == 1  # neither the second tap nor the forged one changed anything
    bot.stop()


def test_new_draft_survives_restart_and_cancel(sandbox: SandboxServer,
                                               rectbot: Callable[..., RectbotProcess]) -> None:
    bot, supervisor, _liaison, _other = setup(sandbox, rectbot)
    supervisor.send_command("new")
    supervisor.send_text("卫生")  # type to search: one match selects it
    supervisor.wait_for_message(has("单位：县卫生健康局"))
    supervisor.send_text("基层医疗机构运行补助")
    source = supervisor.wait_for_message(has("来源"))
    bot.restart()
    supervisor.press(source, "绩效运行监控")
    supervisor.press(supervisor.wait_for_message(has("评价等级"), timeout=15), "跳过")
    supervisor.press(supervisor.wait_for_message(has("存在问题")), "跳过")
    supervisor.press(supervisor.wait_for_message(has("整改建议")), "跳过")
    supervisor.press(supervisor.wait_for_message(has("反馈文号")), "跳过")
    supervisor.press(supervisor.wait_for_message(has("反馈是哪天发出")), "尚未发出")
    supervisor.wait_for_message(has("个工作日"))
    supervisor.send_text("15日")
    supervisor.press(supervisor.wait_for_message(has("涉密")), "是")
    summary = supervisor.wait_for_message(has("请核对"))
    assert "基层医疗机构运行补助" not in summary.content  # confidential: not echoed
    assert "2026年3月17日（星期二）" in summary.content  # 03-02 + 15 days
    supervisor.send_command("cancel")
    supervisor.wait_for_message(has("已取消"))
    supervisor.press(summary, "确认")  # stale button after /cancel
    supervisor.send_command("case", "1")
    supervisor.wait_for_message(has("没有整改事项#1"))
    bot.stop()


def test_ledger_upload_with_bad_row_confirm_and_export(sandbox: SandboxServer,
                                                       rectbot: Callable[..., RectbotProcess]) -> None:
    bot, supervisor, liaison, _other = setup(sandbox, rectbot)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["部门", "项目名称", "来源", "评价等级", "收到反馈日期", "期限", "涉密"])
    ws.append(["县教育局", "校舍维修", "绩效运行监控", "", "2026-02-02", "10个工作日", "否"])
    ws.append(["县文化广电旅游局", "文化惠民工程", "审计", "", "", "", "否"])
    ws.append(["县文化广电旅游局", "图书馆建设", "绩效评价", "良", "2026/2/27", "", "否"])
    buf = io.BytesIO()
    wb.save(buf)
    supervisor.send_command("whoami")  # make sure the bot knows this supervisor (filter cache)
    supervisor.wait_for_message()
    supervisor.send_command("export")
    empty = supervisor.wait_for_message(lambda m: m.document is not None)
    assert "0" in empty.content

    supervisor.send_document("台账.xlsx", buf.getvalue())
    report = supervisor.wait_for_message(has("读取"), timeout=15)
    # The report is one message edited as the work goes: poll its final text.
    deadline = time.monotonic() + 15
    while "尚未导入" not in (sandbox.message(supervisor, report.message_id).text or ""):
        assert time.monotonic() < deadline, sandbox.message(supervisor, report.message_id).text
        time.sleep(0.1)
    text = sandbox.message(supervisor, report.message_id).text or ""
    assert "第3行" in text and "审计" in text
    bot_cli = bot.cli("export", "-o", str(bot.workdir / "before.xlsx"))
    assert "0 件" in bot_cli.stdout  # nothing imported before the confirmation
    supervisor.press(sandbox.message(supervisor, report.message_id), "导入")
    deadline = time.monotonic() + 15
    while "已导入 2 件" not in (sandbox.message(supervisor, report.message_id).text or ""):
        assert time.monotonic() < deadline, sandbox.message(supervisor, report.message_id).text
        time.sleep(0.1)
    assert len(sandbox.message(supervisor, report.message_id).edits) >= 2  # one message edited as it goes

    supervisor.send_command("export")
    doc = supervisor.wait_for_message(lambda m: m.document is not None and "2" in m.content)
    sheet = openpyxl.load_workbook(io.BytesIO(doc.document_bytes)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "编号" and len(rows) == 3
    overdue = rows[1]
    assert overdue[2] == "校舍维修" and "逾期" in overdue
    liaison.send_command("export")
    liaison.wait_for_message(has("无权使用"))
    bot.stop()


def test_cli_gbk_import_then_feedback_receipt_and_deadline_change_in_chat(
        sandbox: SandboxServer, rectbot: Callable[..., RectbotProcess]) -> None:
    bot, supervisor, liaison, _other = setup(sandbox, rectbot)
    csv_path = bot.workdir / "台账.csv"
    csv_path.write_bytes(("部门,项目名称,来源,存在问题,反馈文号,期限,涉密\r\n"
                          "县教育局,涉密装备采购,绩效运行监控,采购程序不规范,盐财监〔2026〕7号,10个工作日,是\r\n")
                         .encode("gbk"))
    out = bot.cli("import", str(csv_path)).stdout
    assert "已导入 1 件" in out

    supervisor.send_command("feedback", "1")
    supervisor.wait_for_message(has("1 名联络员"))
    card = liaison.wait_for_message(has("整改事项#1"), timeout=20)
    assert "涉密" in card.content and "正式渠道" in card.content
    for secret in ("涉密装备采购", "采购程序不规范"):
        assert secret not in card.content

    supervisor.send_command("received", "1 昨天")  # before the feedback was sent today: refused
    supervisor.wait_for_message(has("早于"))
    supervisor.send_command("received", "1 今天")  # Monday 2026-03-02 + 10 working days = Monday 03-16
    assert "2026年3月16日（星期一）" in supervisor.wait_for_message(has("整改期限")).content
    told = liaison.wait_for_message(has("财政局已登记"), timeout=20)
    assert "2026年3月2日（星期一）" in told.content and "2026年3月16日（星期一）" in told.content

    supervisor.send_command("changedue", "1 2026-06-30")  # no reason: refused
    supervisor.wait_for_message(has("用法"))
    supervisor.send_command("changedue", "1 6月30日 单位申请延期，经局领导同意")
    supervisor.wait_for_message(has("2026年6月30日（星期二）"))
    changed = liaison.wait_for_message(has("调整了"), timeout=20)
    assert "2026年6月30日（星期二）" in changed.content and "2026年3月16日（星期一）" in changed.content
    assert "单位申请延期" in changed.content and "涉密装备采购" not in changed.content
    bot.stop()
