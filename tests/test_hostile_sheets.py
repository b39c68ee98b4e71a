"""Issue #13: hostile spreadsheets and text, each finding replayed.

Formula injection in every export, spreadsheet bombs (a lying <dimension>, a zip bomb, wide rows,
a 200 KB CSV field), a confidential case's review note in 审核结果, control characters that broke
every export, Latin-1 CSV imported as mojibake, and parsing that stalled the event loop. The
hostile files are built here by hand (zipfile, bytes), so nothing binary is checked in.
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import openpyxl
import pytest

from bot import budget, ledger
from bot import sheet_reader as reader
from bot.cases import CaseDraft, register_case
from bot.errors import DomainError
from bot.i18n import translator_for_locale
from bot.sheets import XlsxSheet, csv_bytes, safe_csv_value, unescape_csv_value
from bot.text import clean_text
from bot.workcalendar import WorkCalendar
from storage import cases as repo
from tests.test_cases import World, make_world
from tests.test_ledger import import_bytes, sample_rows, xlsx_bytes

CAL = WorkCalendar()
ZH = translator_for_locale("zh_CN")
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
TODAY = date(2026, 3, 2)
MIB = 1024 * 1024

FORMULAS = ['=HYPERLINK("http://x","点击")', "+1", "-1", "@SUM(A1)", "\t=1+1", "\r=1+1"]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    w = await make_world(tmp_path / "hostile.db")
    yield w
    await w.db.close()


async def refused(world: World, data: bytes, name: str) -> str:
    """Import must refuse with a DomainError (rendered in Chinese) and write nothing."""
    before = await world.db.fetchone("SELECT (SELECT count(*) FROM cases), (SELECT count(*) FROM departments)")
    with pytest.raises(DomainError) as err:
        await import_bytes(world.db, data, name)
    after = await world.db.fetchone("SELECT (SELECT count(*) FROM cases), (SELECT count(*) FROM departments)")
    assert before is not None and after is not None and tuple(after) == tuple(before)
    return err.value.render(ZH)


# --------------------------------------------------------------------------- hand-made workbooks


def _inline(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def handmade_xlsx(sheet_rows: str, *, dimension: str = "A1:XFD1048576",
                  extra: dict[str, bytes] | None = None) -> bytes:
    """A minimal valid workbook written with zipfile: one sheet whose XML we control completely."""
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/'
            'workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.worksheet+xml"/></Types>'),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
            '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
        "xl/workbook.xml": (
            '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/'
            'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            '<sheets><sheet name="台账" sheetId="1" r:id="rId1"/></sheets></workbook>'),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
            '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'),
        "xl/worksheets/sheet1.xml": (
            '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
            f'spreadsheetml/2006/main"><dimension ref="{dimension}"/><sheetData>{sheet_rows}</sheetData>'
            '</worksheet>'),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in parts.items():
            zf.writestr(name, text)
        for name, blob in (extra or {}).items():
            zf.writestr(name, blob)
    return buf.getvalue()


HEADER_ROW = '<row r="1">' + _inline("A1", "部门") + _inline("B1", "项目名称") + _inline("C1", "来源") + "</row>"
DATA_ROW = '<row r="2">' + _inline("A2", "县教育局") + _inline("B2", "校舍维修") + _inline("C2", "抽查复核") + "</row>"


def dimension_bomb() -> bytes:
    """1.7 KB declaring 16,384 columns × 1,048,576 rows, with one styled blank cell in the last row:
    openpyxl padded every row up to it to the declared width (50,001 rows × 16,384 cells before the row
    limit stopped it, over 4 GB)."""
    return handmade_xlsx(HEADER_ROW + DATA_ROW + '<row r="1048576"><c r="A1048576" s="0"/></row>')


async def test_dimension_bomb_is_read_as_its_real_cells_with_little_memory(world: World) -> None:
    data = dimension_bomb()
    assert len(data) < 3000
    sheet = await reader.read_rows(data, reader.XLSX, "bomb.xlsx")   # in the capped worker process
    assert [cells for _n, cells in sheet.rows] == [["部门", "项目名称", "来源"], ["县教育局", "校舍维修", "抽查复核"]]
    assert 0 < sheet.peak_rss_kb < 300 * 1024, sheet.peak_rss_kb   # measured: about 40 MB
    in_thread = await reader.read_rows(data, reader.XLSX, "bomb.xlsx", isolate=False)   # the fallback path
    assert in_thread.rows == sheet.rows and in_thread.peak_rss_kb == 0
    result = await import_bytes(world.db, data, "bomb.xlsx")
    assert result.added == 1


async def test_zip_bombs_are_refused_from_the_zip_directory(world: World) -> None:
    # A part unpacking far beyond the per-part limit (150 MB of zeros, about 150 KB packed).
    big = handmade_xlsx(HEADER_ROW + DATA_ROW, extra={"xl/media/image1.bin": bytes(150 * MIB)})
    assert len(big) < 1 * MIB
    text = await refused(world, big, "bomb.xlsx")
    assert "xl/media/image1.bin" in text and "150 MB" in text and "100 MB" in text
    # Below the size limits but compressed 1,000 to 1.
    dense = handmade_xlsx(HEADER_ROW + DATA_ROW, extra={"xl/media/image1.bin": bytes(20 * MIB)})
    text = await refused(world, dense, "bomb.xlsx")
    assert "压缩比" in text and "100:1" in text and "压缩炸弹" in text
    # The total over all parts (checked with a small limit: real parts that big would not fit 20 MB).
    with pytest.raises(DomainError) as err:
        ledger.read_table(dense, "bomb.xlsx", limits=reader.Limits(total_bytes=10 * MIB))
    assert err.value.render(ZH) == "该工作簿解压后共 20 MB，最多只接受 10 MB。"
    # Thousands of parts.
    many = handmade_xlsx(HEADER_ROW, extra={f"x/{i}.xml": b"<a/>" for i in range(1500)})
    assert "1505 个内部部件" in await refused(world, many, "many.xlsx")
    # The upload itself.
    assert "超过了导入上限 20 MB" in await refused(world, b"a" * (21 * MIB), "huge.csv")


async def test_rows_wider_than_the_ledger_are_refused_or_trimmed(world: World) -> None:
    # Data in column 70 (BR): refused, naming the row, the column and the limit.
    wide = handmade_xlsx(HEADER_ROW + DATA_ROW.replace("</row>", _inline("BR2", "多出来的") + "</row>"))
    assert await refused(world, wide, "wide.xlsx") == "第2行第70列有数据；台账最多 64 列。"
    # A blank (styled) cell far right, as Excel writes: trimmed, imported.
    styled = handmade_xlsx(HEADER_ROW + DATA_ROW.replace("</row>", '<c r="XFD2" s="0"/></row>'))
    assert (await import_bytes(world.db, styled, "styled.xlsx")).added == 1
    text = "部门,项目名称,来源" + "," * 97 + "\n县教育局,操场,抽查复核" + "," * 97 + "x\n"
    assert await refused(world, text.encode(), "wide.csv") == "第2行第100列有数据；台账最多 64 列。"


async def test_a_huge_csv_field_is_a_clear_refusal_not_a_traceback(world: World) -> None:
    for size in (200_000, 40_000):   # beyond the csv module's own 128 KB limit, and beyond Excel's cell limit
        text = f'部门,项目名称,来源,存在问题\n县教育局,操场,抽查复核,"{"长" * size}"\n'
        assert await refused(world, text.encode(), "long.csv") == "第2行有单元格超过 32767 个字符。"


async def test_too_many_rows_are_refused_before_anything_is_written(world: World) -> None:
    lines = ["部门,项目名称,来源"] + [f"县教育局,项目{i},抽查复核" for i in range(50_001)]
    text = await refused(world, "\n".join(lines).encode(), "rows.csv")
    assert text == "文件超过 50000 行，请拆分成几个小文件再导入。"


async def test_latin1_csv_is_refused_not_imported_as_mojibake(world: World) -> None:
    latin1 = "department,project,source\nDépartement Müller,Fédération Générale,spot_check\n".encode("latin-1")
    latin1.decode("gb18030")   # the old rule "GB18030 when not UTF-8" accepted this as Chinese
    text = await refused(world, latin1, "latin1.csv")
    assert "Latin-1" in text and "CSV UTF-8" in text
    text = await refused(world, "department,project\nCafé, Müller\n".encode("latin-1"), "c.csv")
    assert "UTF-8" in text and "GBK" in text
    # Real GBK passes, a rare character in a name included.
    gbk = "部门,项目名称,来源\n县教育局,王喆负责的校舍维修,抽查复核\n".encode("gbk")
    assert not reader.looks_like_mojibake(gbk.decode("gb18030"))
    assert (await import_bytes(world.db, gbk, "gbk.csv")).added == 1


async def test_utf16_text_from_excel_is_read() -> None:
    data = "部门\t项目名称\t来源\r\n县教育局\t操场\t抽查复核\r\n".encode("utf-16")
    table = await ledger.load_table(ledger.read_table(data, "unicode.txt"))
    assert table.headers == ["部门", "项目名称", "来源"] and table.rows[0][1] == ["县教育局", "操场", "抽查复核"]


async def test_damaged_workbook_and_broken_worker_are_refusals(world: World) -> None:
    truncated = dimension_bomb()[:-30]
    assert "不是可以读取的 Excel 工作簿" in await refused(world, truncated, "x.xlsx")
    bad_xml = handmade_xlsx('<row r="1"><c r="A1" t="inlineStr"><is><t>部门</t></is></row>')
    assert "不是可以读取的 Excel 工作簿" in await refused(world, bad_xml, "x.xlsx")
    with pytest.raises(DomainError) as err:   # the memory cap itself (too small even to start openpyxl)
        await reader.read_rows(dimension_bomb(), reader.XLSX, "x.xlsx", reader.Limits(memory_bytes=16 * MIB))
    assert err.value.msgid in (reader.OUT_OF_MEMORY, reader.WORKER_FAILED)


# --------------------------------------------------------------------------- the event loop


async def test_the_event_loop_keeps_ticking_while_a_big_file_is_parsed(world: World) -> None:
    data = xlsx_bytes(sample_rows(5000))
    gaps: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        last = time.monotonic()
        while not done.is_set():
            await asyncio.sleep(0.05)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    started = time.monotonic()
    plan = await ledger.plan_import(world.db, CAL, ledger.read_table(data, "big.xlsx"))
    elapsed = time.monotonic() - started
    done.set()
    await ticker
    assert len(plan.new) == 5000
    assert elapsed > 0.5 and len(gaps) >= 5   # it really took a while
    # Relative, not absolute (the machine is shared): work done on the loop in one go shows up as one
    # gap nearly as long as the whole parse; batches that yield leave only short gaps.
    assert max(gaps) < elapsed / 4, (max(gaps), elapsed)


# --------------------------------------------------------------------------- exports: no formulas


def formulas_in(content: bytes) -> tuple[int, bool]:
    """(cells of type formula after reopening, whether any sheet XML has an <f> element)."""
    wb = openpyxl.load_workbook(io.BytesIO(content))
    n = sum(1 for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.data_type == "f")
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        xml = any(b"<f>" in zf.read(n_) or b"<f " in zf.read(n_) for n_ in zf.namelist() if n_.endswith(".xml"))
    return n, xml


async def hostile_world(world: World) -> None:
    """Formula text in every kind of field, and data stored before the sanitiser (tab, CR, controls)."""
    async with world.db.transaction() as conn:
        await conn.execute("UPDATE departments SET name = ? WHERE id = ?", (FORMULAS[0], world.edu))
        await conn.execute("UPDATE people SET name = ? WHERE telegram_id = 3", ("=cmd|' /C calc'!A0",))
        await conn.execute("UPDATE people SET name = ? WHERE telegram_id = 4", ("@SUM(1+1)*cmd",))
    for i, text in enumerate(FORMULAS[:4]):
        await register_case(world.db, CAL, CaseDraft(
            FORMULAS[0], f"{text}项目{i}", "spot_check", findings=text, suggestions=text, feedback_doc_no=text,
            feedback_received_on=date(2026, 2, 2), grade="poor"), actor=None, now=NOW)
    case, _ = await register_case(world.db, CAL, CaseDraft("县卫生健康局", "旧数据", "spot_check",
                                                            feedback_received_on=date(2026, 2, 2)), actor=None, now=NOW)
    async with world.db.transaction() as conn:   # as stored before this fix
        await conn.execute("UPDATE cases SET project = ?, findings = ?, suggestions = ? WHERE id = ?",
                           ("\t=1+1", "\r=1+1 a\x07b\x00c\x9bd\x1b", "-2+3", case.id))


async def test_exports_contain_no_formulas_and_csv_cells_are_prefixed(world: World) -> None:
    await hostile_world(world)
    xlsx, n = await ledger.export_ledger(world.db, CAL, TODAY)
    assert n == 5 and formulas_in(xlsx) == (0, False)
    ws = openpyxl.load_workbook(io.BytesIO(xlsx)).active
    values = [c.value for row in ws.iter_rows() for c in row]
    assert FORMULAS[0] in values and "+1项目1" in values and "@SUM(A1)" in values
    assert "=cmd|' /C calc'!A0、@SUM(1+1)*cmd" in values and "\t=1+1" in values and "-2+3" in values
    assert "\n=1+1 abcd" in values   # the controls are gone, what Excel can hold stays
    for redact in (False, True):
        csv_data, _ = await ledger.export_ledger(world.db, CAL, TODAY, fmt="csv", redact_confidential=redact)
        cells = [c for row in csv.reader(io.StringIO(csv_data.decode("utf-8-sig"), newline="")) for c in row]
        assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
        assert "'" + FORMULAS[0] in cells and "'=cmd|' /C calc'!A0、@SUM(1+1)*cmd" in cells
        assert "'-2+3" in cells and "'\t=1+1" in cells and "'\r=1+1 abcd" in cells
    lines = await budget.budget_lines(world.db, world.supervisor)
    sheet = budget.budget_xlsx(lines, ZH)
    assert len(lines) == 4 and formulas_in(sheet) == (0, False)
    assert FORMULAS[0] in [c.value for row in openpyxl.load_workbook(io.BytesIO(sheet)).active.iter_rows() for c in row]


async def test_an_export_with_formula_text_imports_back_unchanged(world: World, tmp_path: Path) -> None:
    await hostile_world(world)
    for fmt in ("xlsx", "csv"):
        content, _ = await ledger.export_ledger(world.db, CAL, TODAY, fmt=fmt)
        plan = await ledger.plan_import(world.db, CAL, ledger.read_table(content, f"export.{fmt}"))
        assert plan.bad == [] and plan.new == [] and plan.existing == 5, fmt


def test_the_sheet_writer_and_csv_guard() -> None:
    sheet = XlsxSheet("=title")
    sheet.header(FORMULAS)
    sheet.row([*FORMULAS, "\x07bell\x00", 3, -1.5, date(2026, 3, 2), None])
    assert formulas_in(sheet.to_bytes()) == (0, False)
    assert [safe_csv_value(v) for v in (*FORMULAS, "a=b", 3, -1, None, date(2026, 3, 2))] == [
        "'" + f for f in FORMULAS] + ["a=b", 3, -1, "", "2026-03-02"]
    assert all(unescape_csv_value(str(safe_csv_value(f))) == f for f in FORMULAS)
    assert unescape_csv_value("'abc") == "'abc"
    assert csv_bytes(["=h"], [["\x00=x"]]).decode("utf-8-sig") == "'=h\r\n'=x\r\n"


# --------------------------------------------------------------------------- confidential cases


async def test_a_confidential_review_note_appears_in_no_export_column(world: World) -> None:
    case, _ = await register_case(world.db, CAL, CaseDraft(
        "县卫生健康局", "涉密工程", "spot_check", findings="机密问题", suggestions="机密建议", grade="poor",
        feedback_received_on=date(2026, 2, 2), confidential=True), actor=None, now=NOW)
    async with world.db.transaction() as conn:
        cur = await conn.execute(
            "INSERT INTO reports (case_id, author_id, state, measures, created_at, updated_at, submitted_at,"
            " submitted_on) VALUES (?, ?, 'non_compliant', '机密措施', ?, ?, ?, '2026-02-20')",
            (case.id, world.liaison.id, NOW.isoformat(), NOW.isoformat(), NOW.isoformat()))
        await conn.execute("INSERT INTO reviews (report_id, reviewer_id, decision, note, decided_at)"
                           " VALUES (?, ?, 'refused', '审核意见含机密内容', ?)",
                           (cur.lastrowid, world.supervisor.id, NOW.isoformat()))
        await conn.execute("UPDATE cases SET status = 'refused' WHERE id = ?", (case.id,))
    secrets = ("涉密工程", "机密", "审核意见")
    for fmt in ("xlsx", "csv"):
        content, _ = await ledger.export_ledger(world.db, CAL, TODAY, fmt=fmt, redact_confidential=True)
        if fmt == "xlsx":
            ws = openpyxl.load_workbook(io.BytesIO(content)).active
            text = " ".join(str(c.value) for row in ws.iter_rows() for c in row)
        else:
            text = content.decode("utf-8-sig")
        assert not [s for s in secrets if s in text], fmt
        assert "（涉密事项）" in text and "县卫生健康局" in text and "拒不整改" in text
    full, _ = await ledger.export_ledger(world.db, CAL, TODAY, fmt="csv")
    assert "拒不整改：审核意见含机密内容" in full.decode("utf-8-sig")   # the bureau's own unredacted export
    lines = await budget.budget_lines(world.db, world.supervisor)
    ws = openpyxl.load_workbook(io.BytesIO(budget.budget_xlsx(lines, ZH))).active
    row = [c.value for c in ws[2]]
    assert row[0] == "县卫生健康局" and row[2] == "涉密" and not row[3] and not row[6], row
    assert "差" not in budget.budget_text(lines, ZH)


# --------------------------------------------------------------------------- control characters


async def test_control_characters_are_stripped_on_the_way_in_and_exports_succeed(world: World) -> None:
    case, _ = await register_case(world.db, CAL, CaseDraft(
        "县教育局\x07", "校舍\x07维修\x00", "spot_check", findings="第一行\x9b\r\n第二行\u202e",
        suggestions="\x1b[31m红",
        feedback_doc_no="盐财\x00绩〔2026〕1号"), actor=None, now=NOW)
    assert (case.department_name, case.project, case.findings, case.suggestions, case.feedback_doc_no) == (
        "县教育局", "校舍维修", "第一行\n第二行", "[31m红", "盐财绩〔2026〕1号")
    data = ("部门,项目名称,来源,存在问题\n县卫生健康局,医疗\x00设备,抽查复核,\"a\x07\x00b\"\n").encode()
    assert (await import_bytes(world.db, data, "nul.csv")).added == 1
    imported = next(c for c in await repo.list_cases(world.db) if c.department_name == "县卫生健康局")
    assert (imported.project, imported.findings) == ("医疗设备", "ab")
    for fmt in ("xlsx", "csv"):
        content, n = await ledger.export_ledger(world.db, CAL, TODAY, fmt=fmt)
        assert n == 2 and content


def test_clean_text() -> None:
    assert clean_text("  a\x07 b\x00\t c\x9b ", max_len=10) == "a b c"
    assert clean_text("e\u0301", max_len=None) == "\u00e9"   # NFC
    assert clean_text("x\r\ny\rz\n\n", max_len=None, multiline=True) == "x\ny\nz"
    assert clean_text("\ud800ok\ufffe\u202e", max_len=None) == "ok"
    with pytest.raises(DomainError) as err:
        clean_text("长" * 11, max_len=10)
    assert err.value.render(ZH) == "内容太长（最多10个字）。"

