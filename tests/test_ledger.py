"""The ledger: import (XLSX, CSV in UTF-8 ± BOM and GBK), row validation, dedupe, export round trip."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import openpyxl
import pytest

from bot import ledger
from bot.cases import CaseDraft, register_case
from bot.errors import DomainError, NotAuthorized
from bot.i18n import translator_for_locale
from bot.workcalendar import WorkCalendar
from storage import cases as repo
from storage import people as people_repo
from storage.db import Database
from tests.test_cases import World, make_world

CAL = WorkCalendar()
ZH = translator_for_locale("zh_CN")
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
TODAY = date(2026, 3, 2)

HEADER = ["部门", "项目名称", "来源", "评价等级", "存在问题", "整改建议", "反馈文号", "评价结束日期", "反馈日期",
          "收到反馈日期", "整改期限", "期限", "涉密"]
SOURCES = ["绩效评价", "事前绩效评估", "绩效目标审核", "绩效运行监控", "抽查复核", "考核排名"]
BAD_ROWS = {101: "bad date", 2500: "bad source", 5001: "no project"}  # spreadsheet row numbers (header = 1)


def sample_rows(n: int, bad: dict[int, str] | None = None) -> list[list[object]]:
    """n data rows over 40 departments; rows listed in `bad` (sheet row numbers) are broken on purpose."""
    rows: list[list[object]] = []
    for i in range(n):
        sheet_row = i + 2
        source = SOURCES[i % len(SOURCES)]
        received: object = date(2026, 1, 5) if i % 3 == 0 else None
        row: list[object] = [
            f"县第{i % 40}局", f"项目{i:05d}", source, "优良中差"[i % 4], f"问题{i}", f"建议{i}",
            f"盐财绩〔2026〕{i}号", date(2025, 12, 1) if source == "绩效评价" else None,
            datetime(2025, 12, 20) if i % 2 else "2025/12/20", received, None,
            None if source == "绩效评价" else ("15日" if i % 5 == 0 else None), "是" if i % 97 == 0 else "否",
        ]
        kind = (bad or {}).get(sheet_row)
        if kind == "bad date":
            row[8] = "下个月吧"
        elif kind == "bad source":
            row[2] = "审计"
        elif kind == "no project":
            row[1] = ""
        rows.append(row)
    return rows


def xlsx_bytes(rows: Sequence[Sequence[object]], header: list[str] = HEADER) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(header)
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    w = await make_world(tmp_path / "ledger.db")
    yield w
    await w.db.close()


async def import_bytes(db: Database, data: bytes, name: str, *, skip: bool = False) -> ledger.ImportResult:
    plan = await ledger.plan_import(db, CAL, ledger.read_table(data, name))
    return await ledger.apply_import(db, CAL, plan, actor=None, now=NOW, skip_invalid=skip)


# --------------------------------------------------------------------------- the big file


async def test_5000_rows_with_3_bad_then_reimport_then_export_roundtrip(world: World) -> None:
    data = xlsx_bytes(sample_rows(5000, BAD_ROWS))
    plan = await ledger.plan_import(world.db, CAL, ledger.read_table(data, "台账.xlsx"))
    assert plan.total == 5000 and len(plan.new) == 4997
    assert [e.row for e in plan.bad] == sorted(BAD_ROWS)
    report = ledger.describe_plan(ZH, plan)
    assert "第101行" in report and "下个月吧" in report and "第2500行" in report and "审计" in report
    assert "第5001行" in report and "项目名称" in report
    assert report.splitlines()[0] == "共读取 5000 行：新增 4997 行，台账中已有 0 行，有问题 3 行。"

    progress: list[tuple[int, int]] = []

    async def record(done: int, total: int) -> None:
        progress.append((done, total))

    with pytest.raises(DomainError):
        await ledger.apply_import(world.db, CAL, plan, actor=None, now=NOW, progress=record)
    assert await repo.count_cases(world.db) == 0 and progress == []

    result = await ledger.apply_import(world.db, CAL, plan, actor=None, now=NOW, skip_invalid=True,
                                       progress=record)
    assert (result.added, result.skipped_bad) == (4997, 3)
    assert await repo.count_cases(world.db) == 4997
    assert progress[-1] == (4997, 4997) and len(progress) == -(-4997 // ledger.TRANSACTION_ROWS)  # after each commit
    assert sorted(result.departments_created) == sorted(f"县第{i}局" for i in range(40))
    audit_rows = await world.db.fetchone("SELECT count(*) FROM audit_log WHERE action = 'case.import'")
    assert audit_rows is not None and audit_rows[0] == 4997

    again = await import_bytes(world.db, data, "台账.xlsx", skip=True)
    assert again.added == 0 and await repo.count_cases(world.db) == 4997

    exported, count = await ledger.export_ledger(world.db, CAL, TODAY)
    assert count == 4997
    before = await world.db.fetchall("SELECT * FROM cases ORDER BY id")
    plan2 = await ledger.plan_import(world.db, CAL, ledger.read_table(exported, "export.xlsx"))
    assert plan2.bad == [] and plan2.new == [] and plan2.existing == 4997
    result2 = await ledger.apply_import(world.db, CAL, plan2, actor=None, now=NOW)
    assert result2.added == 0
    assert [tuple(r) for r in await world.db.fetchall("SELECT * FROM cases ORDER BY id")] == [
        tuple(r) for r in before]


# --------------------------------------------------------------------------- encodings and forms


GBK_CSV = (
    "部门,项目名称,来源,评价等级,存在问题,整改建议,反馈文号,评价结束日期,反馈日期,收到反馈日期,整改期限,期限,涉密\r\n"
    "县教育局,学生营养餐补助,绩效评价,中,资金使用效率低,完善绩效管理,盐财绩〔2026〕3号,2026年1月20日,2026/2/26,"
    "2026-02-27,,,否\r\n"
    "县农业农村局,高标准农田建设,绩效运行监控,,进度滞后,,盐财监〔2026〕1号,,2026-03-02,2026-03-02,,10个工作日,是\r\n"
)


async def test_gbk_csv_with_chinese_headers(world: World) -> None:
    data = GBK_CSV.encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    result = await import_bytes(world.db, data, "台账.csv")
    assert result.added == 2 and result.departments_created == ["县农业农村局"]
    cases = await repo.list_cases(world.db)
    edu = next(c for c in cases if c.department_name == "县教育局")
    assert (edu.project, edu.grade, edu.findings, edu.feedback_doc_no) == (
        "学生营养餐补助", "fair", "资金使用效率低", "盐财绩〔2026〕3号")
    assert edu.evaluation_ended_on == date(2026, 1, 20) and edu.feedback_due_on == date(2026, 2, 24)
    assert edu.feedback_received_on == date(2026, 2, 27) and edu.due_on == date(2026, 4, 27)  # a Monday
    assert edu.status == "in_progress" and edu.received_by == "import"
    farm = next(c for c in cases if c.department_name == "县农业农村局")
    assert (farm.source, farm.period, farm.due_on, farm.confidential) == ("monitoring", "10wd", date(2026, 3, 16),
                                                                          True)
    dept = await people_repo.department_by_name(world.db, "县农业农村局")
    assert dept is not None
    row = await world.db.fetchone("SELECT actor FROM audit_log WHERE action = 'department.add' AND entity_id = ?",
                                  (dept.id,))
    assert row is not None and row[0] == "cli"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"])
async def test_utf8_csv_with_and_without_bom_and_english_headers(world: World, encoding: str) -> None:
    text = ("department, project ,source,grade,feedback_doc_no,feedback_received_on,due_on,confidential\n"
            "县教育局,校舍维修,spot_check,good,,2026-03-02,2026-04-30,no\n")
    result = await import_bytes(world.db, text.encode(encoding), "ledger.csv")
    assert result.added == 1
    (case,) = await repo.list_cases(world.db)
    assert (case.source, case.grade, case.explicit_due_on, case.due_on, case.due_rule) == (
        "spot_check", "good", date(2026, 4, 30), date(2026, 4, 30), "explicit")


async def test_bad_rows_are_reported_with_reasons_and_block_the_import(world: World) -> None:
    rows = [
        ["县教育局", "甲", "绩效评价", "A", "", "", "", "2026-13-01", "", "", "", "", "否"],
        ["县教育局", "乙", "绩效评价", "", "", "", "", "", "", "", "", "3m", "也许"],
        ["县教育局", "丙", "绩效运行监控", "", "", "", "", "", "2026-03-05", "2026-03-01", "", "", ""],
        ["县教育局", "丁", "绩效运行监控", "", "", "", "", "", "", "", "", "", ""],
    ]
    plan = await ledger.plan_import(world.db, CAL, ledger.read_table(xlsx_bytes(rows), "x.xlsx"))
    assert [e.row for e in plan.bad] == [2, 3, 4] and len(plan.new) == 1
    text = ledger.describe_plan(ZH, plan)
    assert "第2行" in text and "2026-13-01" in text and "“A”" in text
    assert "第3行" in text and "也许" in text
    assert "第4行" in text and "早于" in text
    with pytest.raises(DomainError):
        await ledger.apply_import(world.db, CAL, plan, actor=None, now=NOW)
    assert await repo.count_cases(world.db) == 0
    with pytest.raises(NotAuthorized):
        await ledger.apply_import(world.db, CAL, plan, actor=world.liaison, now=NOW, skip_invalid=True)


async def test_missing_required_column_and_wrong_files(world: World) -> None:
    with pytest.raises(DomainError) as err:
        await ledger.plan_import(world.db, CAL, ledger.read_table("部门,来源\n县教育局,绩效评价\n".encode(), "a.csv"))
    assert "项目名称" in err.value.render(ZH)
    for data, name in ((b"", "a.csv"), (b"not a zip", "a.xlsx"), (b"x", "a.pdf"), (b"\xff\xfe\x00\xd8", "a.csv")):
        with pytest.raises(DomainError):
            ledger.read_table(data, name)


async def test_same_case_twice_in_one_file_is_imported_once(world: World) -> None:
    row = ["县教育局", "甲", "抽查复核", "", "", "", "A1", "", "", "", "", "", ""]
    result = await import_bytes(world.db, xlsx_bytes([row, row]), "x.xlsx")
    assert (result.added, result.duplicates) == (1, 1)


# --------------------------------------------------------------------------- export


async def test_export_layout_dates_highlight_and_redaction(world: World) -> None:
    overdue, _ = await register_case(world.db, CAL, CaseDraft(
        "县教育局", "校舍维修", "monitoring", grade="poor", feedback_received_on=date(2026, 2, 2), period="10wd",
        feedback_doc_no="盐财监〔2026〕2号"), actor=None, now=NOW)  # due 2026-02-14, a make-up working Saturday
    await register_case(world.db, CAL, CaseDraft(
        "县卫生健康局", "涉密项目", "evaluation", findings="机密", feedback_sent_on=date(2026, 2, 26),
        confidential=True), actor=None, now=NOW)
    content, n = await ledger.export_ledger(world.db, CAL, TODAY)
    wb = openpyxl.load_workbook(io.BytesIO(content))
    ws = wb.active
    assert n == 2 and ws.freeze_panes == "A2"
    header = [c.value for c in ws[1]]
    assert header[0] == "编号" and header[1:14] == HEADER and header[14:] == [
        "反馈期限", "期限状态", "状态", "督办等级", "报告日期", "逾期工作日", "审核结果", "预算建议", "联络员"]
    row = {h: c for h, c in zip(header, ws[2], strict=True)}
    assert row["编号"].value == overdue.id and row["状态"].value == "逾期"
    assert row["整改期限"].value == datetime(2026, 2, 14) and row["整改期限"].is_date
    # 2026-02-14 → 03-02: 02-24..27, 02-28 (make-up Saturday) and 03-02 are working days: 6
    assert row["逾期工作日"].value == 6
    assert row["预算建议"].value == "核减" and row["联络员"].value == "张联络、陈联络"
    assert row["部门"].fill.start_color.rgb == "FFF4CCCC"
    assert row["督办等级"].value == "黄" and row["督办等级"].fill.start_color.rgb == "FFFFE699"  # 6 wd: level 1
    assert ws.column_dimensions["C"].width >= 20
    secret = {h: c.value for h, c in zip(header, ws[3], strict=True)}
    assert secret["项目名称"] == "涉密项目" and secret["涉密"] == "是" and secret["状态"] == "待反馈"
    red, _ = await ledger.export_ledger(world.db, CAL, TODAY, redact_confidential=True)
    text = " ".join(str(c.value) for r in openpyxl.load_workbook(io.BytesIO(red)).active.iter_rows() for c in r)
    assert "涉密项目" not in text and "机密" not in text and "校舍维修" in text


async def test_export_into_a_fresh_database_keeps_computed_deadlines_computed(world: World, tmp_path: Path) -> None:
    await register_case(world.db, CAL, CaseDraft("县教育局", "校舍维修", "monitoring",
                                                 feedback_received_on=date(2026, 3, 2)), actor=None, now=NOW)
    await register_case(world.db, CAL, CaseDraft("县教育局", "操场", "monitoring",
                                                 feedback_received_on=date(2026, 3, 2),
                                                 explicit_due_on=date(2026, 6, 1)), actor=None, now=NOW)
    content, _ = await ledger.export_ledger(world.db, CAL, TODAY)
    fresh = await Database.open(tmp_path / "fresh.db")
    try:
        result = await import_bytes(fresh, content, "export.xlsx")
        assert result.added == 2
        by_project = {c.project: c for c in await repo.list_cases(fresh)}
        assert by_project["校舍维修"].explicit_due_on is None and by_project["校舍维修"].due_on == date(2026, 3, 16)
        assert by_project["操场"].explicit_due_on == date(2026, 6, 1)
    finally:
        await fresh.close()


# --------------------------------------------------------------------------- the command line


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for key in [k for k in __import__("os").environ if k.startswith("RECTBOT_")]:
        monkeypatch.delenv(key)
    path = tmp_path / "rectbot.toml"
    path.write_text(f'[storage]\ndatabase = "{tmp_path / "r.db"}"\n', encoding="utf-8")
    return path


def test_cli_import_skip_invalid_and_export(cfg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    rows = sample_rows(30, {5: "bad source"})
    src = tmp_path / "台账.xlsx"
    src.write_bytes(xlsx_bytes(rows))
    assert main(["--config", str(cfg), "import", str(src)]) == 2
    captured = capsys.readouterr()
    assert "第5行" in captured.out and "--skip-invalid" in captured.err
    db = sqlite3.connect(tmp_path / "r.db")
    assert db.execute("SELECT count(*) FROM cases").fetchone() == (0,)
    assert main(["--config", str(cfg), "import", str(src), "--skip-invalid"]) == 0
    assert "29" in capsys.readouterr().out
    assert db.execute("SELECT count(*) FROM cases").fetchone() == (29,)
    out = tmp_path / "out" / "ledger.xlsx"
    assert main(["--config", str(cfg), "export", "-o", str(out)]) == 0
    assert "29" in capsys.readouterr().out
    assert main(["--config", str(cfg), "import", str(out)]) == 0
    assert db.execute("SELECT count(*) FROM cases").fetchone() == (29,)
    assert main(["--config", str(cfg), "import", str(tmp_path / "missing.xlsx")]) == 2
    assert main(["--config", str(cfg), "export", "-o", str(tmp_path / "x.pdf")]) == 2
    db.close()
