"""The scripted story of `rectbot demo`: the people, the chapters, the summary.

The story runs on simulated time from Monday 2 March 2026 to Saturday 9 May 2026 (a make-up working
day after the Labour Day holiday, in the State Council schedule of `chinesecalendar`). Chapters are
functions, so the interactive mode plays the opening and then hands over.
"""

from __future__ import annotations

import io
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

import openpyxl

from bot.demo.world import BEIJING, DemoError, Transcript, World, button, demo_translator, has
from bot.i18n import N_
from bot.sandbox import SandboxUser, SentMessage

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <</Type /Catalog>> endobj\ntrailer <<>>\n%%EOF\n"
EDU, HEALTH, WATER = "县教育局", "县卫健局", "县水利局"     # the bureau's own data: Chinese in both languages
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
START = datetime(2026, 3, 2, 9, 30, tzinfo=BEIJING)

# The people (names shown in the transcript and sent as their Telegram first names).
ADMIN, SUP1, SUP2 = N_("Admin Li"), N_("Supervisor Wang"), N_("Supervisor Chen")
EDU_L, HEALTH_L, WATER_L = N_("Zhang (Education liaison)"), N_("Liu (Health liaison)"), N_("Zhao (Water liaison)")
ROLES = {"admin": ADMIN, "supervisor": SUP1, "liaison": EDU_L}   # whom the interactive player plays


def at(month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BEIJING)


def ledger_xlsx() -> bytes:
    """The ledger (整改台账) the bureau keeps in Excel: enough cases for 卫健局 and 水利局 to be ranked
    (ranking.min_cases reports due by the bulletin), and one 教育局 case due just after Labour Day."""
    rows = [
        (HEALTH, "基本公共卫生服务补助", "中", "绩效目标不明确", "细化绩效指标", "15", "2026-01-05", "2026-03-04"),
        (WATER, "农村饮水安全工程", "良", "项目档案不全", "补齐验收资料", "16", "2026-01-10", "2026-04-30"),
        (HEALTH, "家庭医生签约服务经费", "中", "资金使用率低", "加快资金支出", "17", "2026-01-05", "2026-03-04"),
        (HEALTH, "医疗设备购置项目", "良", "设备闲置", "提高使用效率", "18", "2026-01-06", "2026-03-05"),
        (HEALTH, "妇幼保健服务补助", "中", "绩效目标偏低", "调高目标值", "23", "2026-01-06", "2026-03-06"),
        (WATER, "小型水库除险加固", "中", "工程进度滞后", "倒排工期", "19", "2026-01-08", "2026-03-05"),
        (WATER, "河道综合治理", "良", "绩效指标缺失", "补充产出指标", "20", "2026-01-08", "2026-03-06"),
        (WATER, "水土保持补助", "中", "资金拨付滞后", "按进度拨付", "21", "2026-01-09", "2026-03-06"),
        (EDU, "校舍维修改造工程", "良", "验收资料不全", "补齐验收资料", "22", "2026-03-02", "2026-05-11"),
    ]
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["部门", "项目名称", "来源", "评价等级", "存在问题", "整改建议", "反馈文号", "收到反馈日期",
                  "整改期限"])
    for dept, project, grade, findings, suggestion, number, received, due in rows:
        sheet.append([dept, project, "绩效评价", grade, findings, suggestion, f"海财绩〔2026〕{number}号",
                      received, due])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def ledger_file(name: str) -> bool:
    """The exported ledger, not the bulletin's sheet nor evidence files sent earlier."""
    return name.endswith(".xlsx") and "通报" not in name and "ulletin" not in name


@dataclass
class Cast:
    admin: SandboxUser
    sup1: SandboxUser
    sup2: SandboxUser
    edu: SandboxUser
    health: SandboxUser
    water: SandboxUser

    def by_name(self, name: str) -> SandboxUser:
        return {ADMIN: self.admin, SUP1: self.sup1, EDU_L: self.edu}[name]


def label(m: SentMessage, wanted: str) -> str:
    """The button's exact label: as written, else ignoring case, else the first that starts so."""
    labels = [text for text, _ in m.buttons]
    for candidate in (wanted, wanted.lower()):
        for text in labels:
            if text == candidate or text.lower() == candidate:
                return text
    for text in labels:
        if text.lower().startswith(wanted.lower()):
            return text
    return wanted


def button_for(data: str) -> Callable[[SentMessage], bool]:
    return lambda m: any(d == data for _, d in m.buttons)


def data_label(m: SentMessage, data: str) -> str:
    """The label of the button carrying `data` (the same button in either language)."""
    return next(text for text, d in m.buttons if d == data)


def tap(w: World, user: SandboxUser, m: SentMessage, wanted: str, *parts: str | object) -> SentMessage:
    return w.tap(user, m, label(m, wanted), *parts)  # type: ignore[arg-type]


def opening(w: World, out: Path) -> Cast:
    """Day one: set-up, invitations, /new, the ledger import and 确认收到 (also the interactive mode's start)."""
    t, _ = w.t, w.tr._
    L = w.L
    codes = w.setup((EDU, HEALTH, WATER), [("admin", None), ("supervisor", None), ("supervisor", None),
                                           ("liaison", EDU), ("liaison", HEALTH), ("liaison", WATER)])
    t.chapter(_("Day one, Monday 2 March 2026: invitations and registration"))
    t.note(_("The administrator added three departments ({names}) and made six one-time invitation codes "
             "(rectbot department add, rectbot invite), handed over in person").format(
        names=w.tr._(", ").join((EDU, HEALTH, WATER))))
    w.start()
    cast = Cast(*(w.person(_(name)) for name in (ADMIN, SUP1, SUP2, EDU_L, HEALTH_L, WATER_L)))
    people = (cast.admin, cast.sup1, cast.sup2, cast.edu, cast.health, cast.water)
    for user, code in zip(people, codes, strict=True):
        w.say(user, f"/start {code}", "欢迎")         # the bot speaks Chinese until told otherwise
        if w.lang == "en":
            w.say(user, "/lang en", "Language set to English")

    t.chapter(_("Registering cases: /new and an imported ledger"))
    sup1, edu = cast.sup1, cast.edu
    ask = w.say(sup1, "/new", L("哪个单位", "Which department"))
    tap(w, sup1, ask, EDU, L("项目名称", "Project name"))
    ask = w.say(sup1, L("义务教育均衡发展补助", "Compulsory education subsidy"), L("来源", "Source"))
    ask = tap(w, sup1, ask, L("绩效评价", "performance evaluation"), L("评价等级", "grade"))
    tap(w, sup1, ask, "中", L("存在问题", "Problems found"))
    w.say(sup1, L("1. 资金拨付滞后\n2. 绩效目标不明确", "1. Funds paid out late\n2. Performance targets unclear"),
          L("整改建议", "Suggested measures"))
    w.say(sup1, L("加快拨付进度，细化绩效目标", "Pay out faster, set precise targets"),
          L("反馈文号", "document number"))
    w.say(sup1, "海财绩〔2026〕12号", L("评价工作", "evaluation work end"))
    w.say(sup1, L("1月20日", "2026-01-20"), L("反馈是哪天发出", "feedback sent"))
    ask = w.say(sup1, L("上周五", "2026-02-27"), L("涉密", "confidential"))
    summary = tap(w, sup1, ask, L("否", "No"), L("请核对", "Please check"))
    tap(w, sup1, summary, L("确认", "Confirm"), L("已登记", "Registered"))
    card = w.wait(edu, has(L("整改反馈", "Feedback")))
    tap(w, edu, card, L("确认收到", "Confirm receipt"), L("已确认收到", "Receipt of"))
    ledger = out / "整改台账-导入.xlsx"
    ledger.write_bytes(ledger_xlsx())
    t.note(_("Supervisor Wang sends the Excel ledger into the chat to import it (nine more cases)"))
    w.upload(sup1, "整改台账.xlsx", ledger.read_bytes(), XLSX, L("读取", "read"))
    w.edited(sup1, L("已导入", "Imported"))
    w.settle()
    return cast


def items(w: World) -> tuple[str, str]:
    return w.L("第1条（共2条）", "Item 1 of 2"), w.L("第2条（共2条）", "Item 2 of 2")


def first_report(w: World, cast: Cast) -> None:
    """The liaison's first report, item by item with a PDF (also played before a bureau player's turn)."""
    t, _, L = w.t, w.tr._, w.L
    edu = cast.edu
    item1, item2 = items(w)
    t.chapter(_("Reporting the rectification (item by item, with a PDF)"))
    ask = w.say(edu, "/report", button_for("rp:c:1"))
    w.tap(edu, ask, data_label(ask, "rp:c:1"), item1)
    text1, text2 = L("已拨付全部补助资金", "All subsidy funds paid out"), L("已修订绩效目标", "Targets revised")
    ask = w.say(edu, text1, item1, text1)
    tap(w, edu, ask, L("已完成", "completed"), item2)
    ask = w.say(edu, text2, item2, text2)
    tap(w, edu, ask, L("已完成", "completed"), L("佐证材料", "evidence"))
    ask = w.upload(edu, "拨付凭证.pdf", PDF, "application/pdf", "拨付凭证.pdf")
    summary = tap(w, edu, ask, L("完成", "Done"), L("请核对", "Please check"))
    tap(w, edu, summary, L("提交", "Submit"), L("已提交", "submitted"))


def reports(w: World, cast: Cast) -> None:
    """The report returned keeping its deadline, resubmitted item by item, closed; a spot check."""
    t, _, L = w.t, w.tr._, w.L
    edu, sup1, sup2 = cast.edu, cast.sup1, cast.sup2
    _item1, item2 = items(w)
    t.chapter(_("Review: returned for rework (keeping its deadline)"))
    open1 = L("查看#1", "Open #1")
    listing = w.say(sup2, "/review", button(open1))
    card = w.tap(sup2, listing, open1, button(L("退回补充", "Return for rework"), after=listing))
    tap(w, sup2, card, L("退回补充", "Return for rework"), L("理由", "reason"))
    prompt = w.say(sup2, L("第2条缺少修订后的绩效目标表", "Item 2 lacks the revised target table"),
                   L("现行整改期限", "Current deadline"))
    tap(w, sup2, prompt, L("保持原期限", "Keep the current deadline"), L("整改期限不变", "Deadline unchanged"))
    w.wait(edu, has(L("退回补充", "returned for rework"), L("退回理由", "Reason for return")))

    t.chapter(_("Second submission, item by item"))
    ask = w.say(edu, "/report", button_for("rp:c:1"))
    opening_ = w.tap(edu, ask, data_label(ask, "rp:c:1"), L("第2次报送", "Submission no. 2"))
    ask = tap(w, edu, opening_, L("已完成", "completed"), item2)
    text3 = L("附修订后的绩效目标表", "Revised target table attached")
    ask = w.say(edu, text3, item2, text3)
    summary = tap(w, edu, ask, L("已完成", "completed"), L("请核对", "Please check"))
    tap(w, edu, summary, L("提交", "Submit"), L("已提交", "submitted"))

    t.chapter(_("Closing the case: a review opinion, then 'confirm closing'"))
    listing = w.say(sup2, "/review", button(open1))
    card = w.tap(sup2, listing, open1, L("第2次报送", "Submission no. 2"),
                 button(L("退回补充", "Return for rework"), after=listing))
    close = next(text for text, data in card.buttons if (data or "").startswith("rv:close:"))
    w.tap(sup2, card, close, L("请输入审核意见", "review opinion"))
    check = w.say(sup2, L("整改到位，同意销号", "Rectified in full, case closed"), L("确认对", "Close"))
    tap(w, sup2, check, L("确认销号", "Confirm closing"), L("已销号", "closed"))
    w.wait(edu, has(L("销号", "closed"), L("审核意见", "Review opinion")))
    w.settle()

    t.chapter(_("Spot check: /spotcheck"))
    w.say(sup1, "/spotcheck 1", L("随机种子", "seed"))
    w.wait(edu, has(L("抽查复核", "Spot check")))


def later(w: World, cast: Cast, out: Path) -> None:
    """Days pass: overdue, escalation, the digest; an extension; the ranked bulletin; Labour Day."""
    t, _, L = w.t, w.tr._, w.L
    sup1, water, edu = cast.sup1, cast.water, cast.edu
    w.drain()  # the day's last messages belong to the chapter they were sent in
    t.chapter(_("Three days later, Thursday 5 March 2026: overdue, escalation and today's to-do"))
    t.note(_("The simulated clock jumps forward; the bot keeps running and its sweep notices the new day"))
    w.travel(at(3, 5))
    w.wait(cast.health, has(L("逾期", "overdue")))
    w.wait(sup1, has(L("每日汇总", "Daily digest")))
    w.say(sup1, L("今日待办", "Today's to-do"), L("今日待办", "to-do"))
    w.settle()

    t.chapter(_("An extension asked and granted"))
    w.say(water, "/extend 6", L("理由", "reason"))   # 农村饮水安全工程: the import numbers by department
    w.say(water, L("验收专家组延期到场", "The acceptance experts arrive later"), L("延至", "deadline"))
    check = w.say(water, L("5月29日", "2026-05-29"), L("请核对延期申请", "Please check your extension"))
    tap(w, water, check, L("提交", "Submit"), L("已提交延期申请", "Extension request sent"))
    card = w.wait(sup1, has(L("延期申请", "xtension"), "#6"))
    tap(w, sup1, card, L("同意延期", "Approve"), "#6")
    w.wait(water, has(L("延期申请已获同意", "was approved")))

    w.drain()  # the day's last messages belong to the chapter they were sent in
    t.chapter(_("Next Monday, 9 March 2026: the weekly bulletin ranks the departments"))
    t.note(_("{health} and {water} each had at least three reports due by Sunday, so both are ranked; "
             "{edu} had too few and is listed without a rank").format(health=HEALTH, water=WATER, edu=EDU))
    w.travel(at(3, 9))
    bulletin = w.wait(sup1, has(L("整改工作周通报", "Weekly bulletin")))
    if bulletin.document is not None:
        (out / "整改工作周通报.png").write_bytes(bulletin.document.data)
    w.settle()

    t.chapter(_("Exporting the ledger"))
    sheet = w.say(sup1, "/export", lambda m: m.document is not None and ledger_file(m.document.file_name or ""))
    if sheet.document is not None:
        (out / "整改台账-导出.xlsx").write_bytes(sheet.document.data)

    w.drain()  # the day's last messages belong to the chapter they were sent in
    t.chapter(_("Labour Day: a holiday and a make-up working Saturday"))
    w.say(sup1, L("/deadline 2026-04-30 5个工作日", "/deadline 2026-04-30 5wd"),
          L("期限届满日：2026年5月11日", "Deadline: 2026-05-11"))
    t.note(_("Five working days from Thursday 30 April: 1–5 May are the Labour Day holiday and do not count; "
             "Saturday 9 May is a make-up working day and counts, so the deadline is Monday 11 May"))
    t.note(_("The clock jumps to Saturday 9 May. No reminders went out during the holiday; today is a "
             "working day, so {edu} is reminded that its case falls due on Monday 11 May").format(edu=EDU))
    w.travel(at(5, 9, 9, 5))
    w.wait(edu, has("⏰", L("2026年5月11日", "2026-05-11")))
    w.settle()


def figures(w: World) -> dict[str, int]:
    """The summary's figures, read from what the bot said."""
    texts = [m.content for m in w.sandbox.messages()]
    L = w.L
    case = re.compile(r"(?:#|No\. )(\d+)")      # 整改事项#3 · Case No. 3
    return {
        "messages": len(texts),
        "cases": len({n for x in texts for n in case.findall(x)}),
        "closed": sum(L("该事项已销号", "the case is closed") in x for x in texts),
        "on_time": sum(x.startswith(L("整改报告已提交", "Report on")) and L("（按期）", "(on time)") in x
                       for x in texts),
        "overdue": len({n for x in texts if L("已逾期", "overdue") in x for n in case.findall(x)}),
        "extended": sum(L("延期申请已获同意", "was approved") in x for x in texts),
    }


def play(w: World, out: Path) -> dict[str, int]:
    """The whole story; returns the figures of the summary."""
    cast = opening(w, out)
    first_report(w, cast)
    reports(w, cast)
    later(w, cast, out)
    result = figures(w)
    w.stop()
    return result


@contextmanager
def workspace(out: Path | None) -> Iterator[Path]:
    """--out DIR is kept (a previous demo's database, evidence and log there are replaced: the story
    starts on a fresh world); otherwise a temporary folder removed at the end."""
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for name in ("rectbot.db", "rectbot.db-wal", "rectbot.db-shm", "rectbot.db.state", "rectbot.log", "clock"):
            (out / name).unlink(missing_ok=True)
        shutil.rmtree(out / "files", ignore_errors=True)
        yield out
        return
    tmp = Path(tempfile.mkdtemp(prefix="rectbot-demo-"))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(out: Path | None, *, speed: float = 0.0, color: bool = True, lang: str = "zh_CN",
        stream: TextIO | None = None) -> int:
    """Play the story; 0 when it went through, 1 (with the bot's log) when the bot did not answer."""
    stream = stream or sys.stdout
    began = time.monotonic()
    t = demo_translator(lang)
    with workspace(out) as workdir:
        transcript = Transcript(stream, color, speed, t)
        try:
            with World(workdir, transcript, START, lang) as world:
                numbers = play(world, workdir)
        except DemoError as exc:
            stream.write(t._("The demo stopped: {error}").format(error=exc) + "\n")
            return 1
        transcript.chapter(t._("Summary"))
        transcript.note(t._("{cases} cases (a spot check and the bulletins' explanation cases among them), "
                            "{closed} closed; {on_time} report(s) on time, {overdue} case(s) overdue, "
                            "{extended} extension(s) granted").format(**numbers))
        transcript.note(t._("The bot sent {messages} messages; the demo took {seconds:.0f} seconds").format(
            messages=numbers["messages"], seconds=time.monotonic() - began))
        transcript.save(workdir / "transcript.txt")
    return 0
