"""The import's batch path (issue 14): multi-row INSERTs, audit rows written by SQL, several
statements a transaction, the writer task, and the worker streaming its rows to the validation.
What it writes must be exactly what the per-row path (`case_values` → `to_db` → json.dumps audit) wrote."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot import ledger, sheet_reader
from bot.cases import case_values
from bot.errors import DomainError
from storage import cases as repo
from storage import people as people_repo
from tests.test_cases import World, make_world
from tests.test_ledger import BAD_ROWS, CAL, HEADER, NOW, sample_rows, xlsx_bytes


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    w = await make_world(tmp_path / "batches.db")
    yield w
    await w.db.close()


def csv_bytes(rows: list[list[Any]], header: list[str] = HEADER) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(header)
    for row in rows:
        w.writerow(["" if v is None else (v.isoformat()[:10] if hasattr(v, "isoformat") else v) for v in row])
    return out.getvalue().encode("utf-8")


async def test_batches_write_the_rows_and_audit_of_the_per_row_path(world: World) -> None:
    """1,234 rows in statements of 300 and transactions of ≥ 700 (partial last ones included): every
    stored column and every `case.import` audit row equals what `to_db` and json.dumps of the same
    `case_values` gave, ids department by department (in order of their first row) and in file order
    within each, departments created once and audited."""
    plan = await ledger.plan_import(world.db, CAL, ledger.read_table(xlsx_bytes(sample_rows(1234)), "a.xlsx"))
    result = await ledger.apply_import(world.db, CAL, plan, actor=None, now=NOW, batch_rows=300,
                                       transaction_rows=700)
    assert result.added == 1234 and len(result.departments_created) == 40
    dept_ids = {d.name: d.id for d in await people_repo.list_departments(world.db)}
    rows = await world.db.fetchall(f"SELECT id, {', '.join(repo.CASE_COLUMNS)} FROM cases ORDER BY id")
    audits = await world.db.fetchall("SELECT entity_id, actor, at, before, after FROM audit_log"
                                     " WHERE action = 'case.import' ORDER BY id")
    assert len(rows) == len(audits) == 1234
    first = list(dict.fromkeys(p.draft.department_name for p in plan.new))   # in order of first appearance
    by_department = [p for name in first for p in plan.new if p.draft.department_name == name]
    assert ledger.by_department(plan.new) == by_department != plan.new   # sample_rows interleaves them
    for planned, row, entry in zip(by_department, rows, audits, strict=True):
        new = case_values(planned.draft, department_id=dept_ids[planned.draft.department_name], calendar=CAL,
                          created_by="cli", now=NOW, received_by="import")
        expected = [repo.to_db(c, getattr(new, c)) for c in repo.CASE_COLUMNS]
        assert list(row)[1:] == expected
        assert (entry["entity_id"], entry["actor"], entry["at"], entry["before"]) == (row["id"], "cli", NOW.isoformat(),
                                                                                       None)
        assert json.loads(entry["after"]) == json.loads(json.dumps(dict(zip(repo.CASE_COLUMNS, expected, strict=True)),
                                                                   ensure_ascii=False, default=str))
    added = await world.db.fetchone("SELECT COUNT(*) FROM audit_log WHERE action = 'department.add'")
    assert added is not None and added[0] == 40
    again = await ledger.apply_import(world.db, CAL, plan, actor=None, now=NOW, batch_rows=300)
    assert (again.added, again.existing) == (0, 1234)   # ON CONFLICT: nothing twice, nothing audited twice
    assert await repo.count_cases(world.db) == 1234


async def test_a_failing_transaction_rolls_back_only_itself_and_the_import_says_so(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = await ledger.plan_import(world.db, CAL, ledger.read_table(xlsx_bytes(sample_rows(900)), "a.xlsx"))
    real = repo.import_case_rows
    calls = 0

    async def third_fails(*args: Any, **kwargs: Any) -> int:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("disk full")
        return await real(*args, **kwargs)

    monkeypatch.setattr(repo, "import_case_rows", third_fails)
    with pytest.raises(RuntimeError, match="disk full"):
        await ledger.apply_import(world.db, CAL, plan, actor=None, now=NOW, batch_rows=100, transaction_rows=200)
    assert await repo.count_cases(world.db) == 200   # the first transaction (two statements) only
    audited = await world.db.fetchone("SELECT COUNT(*) FROM audit_log WHERE action = 'case.import'")
    assert audited is not None and audited[0] == 200
    monkeypatch.setattr(repo, "import_case_rows", real)
    rest = await ledger.apply_import(world.db, CAL, plan, actor=None, now=NOW)
    assert (rest.added, rest.existing) == (700, 200)
    # The committed transaction's departments stayed; the rest are created now, each once.
    created = await world.db.fetchone("SELECT COUNT(*) FROM audit_log WHERE action = 'department.add'")
    assert created is not None and created[0] == 40 and 0 < len(rest.departments_created) < 40


async def test_validation_of_streamed_frames_matches_the_whole_table(world: World) -> None:
    """The worker's frames (2,000 rows each) validated as they come give the plan of the whole table."""
    data = csv_bytes(sample_rows(4500, BAD_ROWS))
    streamed = await ledger.plan_import(world.db, CAL, ledger.read_table(data, "a.csv"))
    whole = await ledger.plan_import(world.db, CAL, await ledger.load_table(ledger.read_table(data, "a.csv")))
    assert streamed.total == whole.total == 4500
    assert [e.row for e in streamed.bad] == [e.row for e in whole.bad] == [101, 2500]
    assert [(p.row, p.draft) for p in streamed.new] == [(p.row, p.draft) for p in whole.new]
    assert streamed.new_departments == whole.new_departments


@pytest.mark.parametrize("isolate", [True, False])
async def test_a_refusal_after_some_frames_wins_over_the_missing_columns(world: World, isolate: bool) -> None:
    """Too many rows is found only after frames went out; it is still the answer, as when the whole
    file was read before the header was looked at."""
    limits = sheet_reader.Limits(rows=2500)
    frames: list[int] = []

    async def count(rows: list[sheet_reader.Row]) -> None:
        frames.append(len(rows))

    data = csv_bytes([r[:2] for r in sample_rows(3000)], header=HEADER[:2])   # no 来源 column either
    with pytest.raises(DomainError) as refused:
        await sheet_reader.read_rows(data, sheet_reader.CSV, "a.csv", limits, isolate=isolate, on_rows=count)
    assert refused.value.msgid == sheet_reader.TOO_MANY_ROWS
    if isolate:
        assert frames == [2000]   # the worker sent a frame before it found the file too long
    with pytest.raises(DomainError) as planned:
        await ledger.plan_import(world.db, CAL, ledger.read_table(data, "a.csv", limits=limits), isolate=isolate)
    assert planned.value.msgid == sheet_reader.TOO_MANY_ROWS
    ok = csv_bytes([r[:2] for r in sample_rows(10)], header=HEADER[:2])
    with pytest.raises(DomainError) as missing:
        await ledger.plan_import(world.db, CAL, ledger.read_table(ok, "b.csv"), isolate=isolate)
    assert "来源" in str(missing.value.params)


async def test_a_ledger_kept_by_department_is_numbered_in_its_row_order(world: World) -> None:
    """by_department moves a row only past rows of departments that first appear after its own."""
    # Grouped by department, as a ledger is kept, in an order that is not the names'.
    rows = sorted(sample_rows(300), key=lambda r: r[0], reverse=True)
    plan = await ledger.plan_import(world.db, CAL, ledger.read_table(xlsx_bytes(rows), "a.xlsx"))
    assert ledger.by_department(plan.new) == plan.new
    await ledger.apply_import(world.db, CAL, plan, actor=None, now=NOW, batch_rows=70, transaction_rows=140)
    stored = await world.db.fetchall("SELECT project FROM cases ORDER BY id")
    assert [r["project"] for r in stored] == [p.draft.project for p in plan.new]
