"""The hot queries (issue 14) read through indexes: EXPLAIN QUERY PLAN never shows a full SCAN of cases.

The database is the benchmark's own shape (bench/data.py) at a few thousand cases, analysed like
a production database after migration 0009.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from bench import data
from bot import digests
from bot.i18n import translator_for_locale
from bot.settings import Settings
from bot.sweep import sweep
from bot.workcalendar import WorkCalendar
from storage import outbox, reminders, todo
from storage.db import Database

NOW = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


@pytest.fixture
async def db(tmp_path: Path) -> Any:
    await data.build(tmp_path / "hot.db", data.Shape(3000), NOW)
    database = await Database.open(tmp_path / "hot.db")
    yield database
    await database.close()


async def plan(db: Database, sql: str, params: Sequence[Any]) -> list[str]:
    return [str(r[3]) for r in await db.fetchall("EXPLAIN QUERY PLAN " + sql, params)]


def no_case_scan(steps: list[str]) -> bool:
    return not any(s.startswith("SCAN c") or s.startswith("SCAN cases") for s in steps)


async def test_sweep_queries_use_indexes(db: Database) -> None:
    due = await plan(db, reminders.DUE_SQL, ["2026-12-01T01:00:00Z", 200])
    assert no_case_scan(due) and any("cases_next_action" in s for s in due), due
    keys = await plan(db, outbox.KEYS_FOR_CASES_SQL, [json.dumps([1, 2, 3])])
    assert any("outbox_case" in s for s in keys), keys
    drop = await plan(db, outbox.DROP_PENDING_IDS_SQL, ["superseded", json.dumps([1, 2, 3])])
    assert any("outbox USING INTEGER PRIMARY KEY" in s for s in drop) and not any(s.startswith("SCAN outbox")
                                                                                  for s in drop), drop
    people = await plan(db, reminders.LIAISONS_BY_DEPARTMENT_SQL, [json.dumps([1, 2])])
    assert any("people_department" in s for s in people), people


@pytest.mark.parametrize("section", todo.SECTIONS)
@pytest.mark.parametrize("department", [None, 7])
async def test_todo_counts_and_pages_use_indexes(db: Database, section: str, department: int | None) -> None:
    body, params = todo._where(section, date(2026, 12, 1), department)
    ref, _on, _prov, _body, order = todo._SECTIONS[section]
    counted = await plan(db, "SELECT COUNT(*)" + body, params)
    paged = await plan(db, f"SELECT {ref}" + body + f" ORDER BY {order} LIMIT 10", params)
    assert no_case_scan(counted), counted
    assert no_case_scan(paged), paged


async def test_bureau_overdue_page_reads_the_running_deadline_index(db: Database) -> None:
    """The bureau's overdue list (every department) is a range of cases_target_due, read in order."""
    body, params = todo._where("overdue", date(2026, 12, 1), None)
    ref, _on, _prov, _body, order = todo._SECTIONS["overdue"]
    paged = await plan(db, f"SELECT {ref}" + body + f" ORDER BY {order} LIMIT 10", params)
    assert any("cases_target_due" in s for s in paged), paged
    assert not any("TEMP B-TREE" in s for s in paged), paged


async def test_digest_groups_read_the_covering_index_only(db: Database) -> None:
    """Both parts read cases_open_deadlines alone; the report clocks (nearly every open case) are
    grouped in the index's order: a temporary B-tree only for the few unsent evaluations after UNION ALL."""
    steps = await plan(db, reminders.TARGET_GROUPS_SQL, [])
    reads = [s for s in steps if s.startswith(("SEARCH", "SCAN"))]
    assert len(reads) == 2 and all("COVERING INDEX cases_open_deadlines" in s for s in reads), steps
    assert no_case_scan(steps), steps
    sorts = [i for i, s in enumerate(steps) if "TEMP B-TREE" in s]
    assert all(i > steps.index("UNION ALL") for i in sorts) and len(sorts) <= 1, steps


async def test_bureau_overdue_items_query_reads_the_running_deadline_index(db: Database) -> None:
    """The to-do's (and the digest's) overdue page as `todo.items` sends it, with all its columns."""
    sql, params = todo.items_sql("overdue", date(2026, 12, 1), None)
    steps = await plan(db, sql, [*params, 10, 0])
    assert any("cases_target_due" in s for s in steps), steps
    assert not any("TEMP B-TREE" in s for s in steps), steps


@pytest.mark.parametrize("department", [None, 7])
async def test_extension_count_starts_from_the_pending_requests(db: Database, department: int | None) -> None:
    body, params = todo._where("extension", date(2026, 12, 1), department, counting=True)
    steps = await plan(db, "SELECT COUNT(*)" + body, params)
    assert "extension_one_pending" in steps[0] and no_case_scan(steps), steps


async def test_digest_counts_match_its_lists_and_the_payload_stays_small(db: Database) -> None:
    """The enqueued digest counts by SQL groups (one standing per distinct deadline) and carries no
    lists; its figures are the lengths of the lists `build_digest` makes for the buttons' pages."""
    settings = Settings(escalation={"levels": [1, 10]})
    calendar = WorkCalendar()
    now = NOW
    counted = await digests.build_digest_counts(db, calendar, settings, now)
    listed = await digests.build_digest(db, calendar, settings, now)
    assert counted.counts == {s: len(getattr(listed, s)) for s in digests.SECTIONS}
    assert counted.risky == sum(1 for i in listed.overdue if i.risk)
    assert counted.counts is not None and counted.counts["overdue"] > 100
    payload = json.dumps(counted.to_payload(), ensure_ascii=False).encode()
    assert len(payload) < 2_000
    again = digests.Digest.from_payload(json.loads(payload))
    assert again.counts == counted.counts and again.risky == counted.risky
    t = translator_for_locale("zh_CN")
    assert digests.render_digest(t, again).text == digests.render_digest(t, listed).text


# --- import and the sweep after it (issue 14, items 1, 6, 7) ------------------------------------


async def test_import_plans_each_case_so_the_first_sweep_finds_only_what_is_due(tmp_path: Path) -> None:
    """A quarter of the imported ledger is overdue: those are due at once, the rest wait for their
    reminder day; the first sweep after the import handles the due ones only, and they get their
    reminders exactly once (a second sweep finds nothing)."""
    from bench import inproc

    result = await inproc.import_then_sweep(tmp_path / "import.db", 600, NOW)
    assert result["rows"] == 600
    assert 0 < result["first_sweep_cases"] < 600
    database = await Database.open(tmp_path / "import.db")
    try:
        audits = await database.fetchone("SELECT COUNT(*) FROM audit_log WHERE action = 'case.import'")
        assert audits is not None and audits[0] == 600
        overdue = await database.fetchone("SELECT COUNT(*) FROM cases WHERE due_on < ?", ("2026-12-01",))
        assert overdue is not None and overdue[0] <= result["first_sweep_cases"]
        later = await database.fetchone("SELECT MIN(next_action_at) FROM cases WHERE next_action_at IS NOT NULL")
        assert later is not None and later[0] > "2026-12-01T01:01:00"   # nothing left due after the first sweep
    finally:
        await database.close()


async def test_the_sweep_runs_in_batches_and_leaves_nothing_due(db: Database) -> None:
    from bench.inproc import _services

    await db.conn.execute("UPDATE cases SET next_action_at = ? WHERE status = 'in_progress'", ("2026-12-01T00:00:00Z",))
    await db.conn.commit()
    due = await db.fetchone("SELECT COUNT(*) FROM cases WHERE next_action_at <= ?", ("2026-12-01T01:00:00Z",))
    assert due is not None and due[0] > 2000
    svc = await _services(db.path, NOW)
    try:
        stats = await sweep(svc, now=NOW, limit=500)
        assert stats.cases == due[0]
        assert stats.batches == -(-due[0] // 500)
        assert stats.enqueued > 0
        again = await sweep(svc, now=NOW, limit=500)
        assert (again.cases, again.enqueued) == (0, 0)
        keys = await svc.db.fetchone("SELECT COUNT(*), COUNT(DISTINCT key) FROM outbox")
        assert keys is not None and keys[0] == keys[1] == stats.enqueued
    finally:
        await svc.db.close()


async def test_the_full_quick_check_runs_off_the_shared_connection(db: Database) -> None:
    assert await db.quick_check() == "ok"


async def test_a_person_with_many_rows_does_not_fill_the_delivery_batch(db: Database) -> None:
    """Delivery takes at most a few rows per person per round (one query with a window function), so
    a supervisor with a hundred escalations does not hold every liaison's reminder back."""
    from bot.domain import Kind, Notification
    from storage.outbox import due_rows, enqueue

    busy, other = 1, 2
    async with db.transaction() as conn:
        await enqueue(conn, [Notification(f"t:{busy}:{i}", busy, Kind.DIGEST, {}, NOW) for i in range(10)]
                      + [Notification(f"t:{other}:{i}", other, Kind.DIGEST, {}, NOW) for i in range(2)], now=NOW)
    rows = await due_rows(db, NOW, limit=500, per_person=3)
    assert [r.person_id for r in rows].count(busy) == 3
    assert [r.person_id for r in rows].count(other) == 2
    assert [r.key for r in rows if r.person_id == busy] == [f"t:{busy}:{i}" for i in range(3)]
    assert len(await due_rows(db, NOW, limit=500)) == 12


async def test_department_cases_page_reads_its_index_in_order(db: Database) -> None:
    """/cases and the liaisons' choosers: a COUNT over cases_department_status and one page read in
    the order of cases_department_due (no sort of the department's every case)."""
    from bot.reports import REPORTABLE_STATUSES, VISIBLE_OPEN_STATUSES
    from storage import cases

    for statuses in (VISIBLE_OPEN_STATUSES, REPORTABLE_STATUSES):
        where, params = cases._department_where(7, statuses)
        counted = await plan(db, "SELECT COUNT(*) FROM cases c" + where, params)
        assert no_case_scan(counted) and any("cases_department_status" in s for s in counted), counted
        paged = await plan(db, cases.DEPARTMENT_PAGE_SQL + where + cases._DEPARTMENT_ORDER + " LIMIT 10 OFFSET 20",
                           params)
        assert any("cases_department_due" in s for s in paged), paged
        assert no_case_scan(paged) and not any("TEMP B-TREE" in s for s in paged), paged


@pytest.mark.parametrize("section", digests.SECTIONS)
async def test_digest_lists_are_paged_in_sql_with_the_texts_of_the_full_lists(db: Database, section: str) -> None:
    """The lists behind the digest's buttons and /overdue: COUNT + one page in SQL, page for page the
    texts `section_page` / `overdue_page` make from every open case (`build_digest`)."""
    settings = Settings(escalation={"levels": [1, 10]})
    calendar = WorkCalendar()
    t = translator_for_locale("zh_CN")
    listed = await digests.build_digest(db, calendar, settings, NOW)
    full = digests.section_page(t, listed, section, 1)
    for number in sorted({1, 2, full.page.pages, full.page.pages + 3}):
        paged = await digests.list_page(db, calendar, settings, NOW, t, section, number)
        expected = digests.section_page(t, listed, section, number)
        assert (paged.page.number, paged.page.pages, paged.page.total) == (
            expected.page.number, expected.page.pages, expected.page.total)
        if section == "review":  # the to-do's submission day, not the timestamp's UTC date
            assert [i.case_id for i in paged.page.items] == [i.case_id for i in expected.page.items]  # type: ignore[attr-defined]
        else:
            assert paged.text == expected.text
    if section == "overdue":
        whole = digests.overdue_page(t, listed, 1)
        assert whole.page.total > 100
        for number in (1, 2, whole.page.pages):
            assert (await digests.overdue_listing(db, calendar, settings, NOW, t, number)).text == \
                digests.overdue_page(t, listed, number).text


async def test_digest_list_queries_use_the_running_deadline_index(db: Database) -> None:
    today = date(2026, 12, 1)
    ranges = digests.section_ranges(today, WorkCalendar(), [1, 10])
    assert ranges["overdue"][0][0] is None and ranges["new"] and ranges["soon"]
    for chosen, provisional in ((ranges["overdue"], False), (ranges["soon"], False), (None, True)):
        body, params = todo.watched_where(chosen, provisional)
        counted = await plan(db, "SELECT COUNT(*)" + body, params)
        assert no_case_scan(counted), counted
    body, params = todo.watched_where(ranges["soon"])
    soon = await plan(db, "SELECT c.id" + body + f" ORDER BY {todo.WATCHED_ORDERS['due']} LIMIT 10", params)
    assert any("cases_target_due" in s for s in soon) and not any("TEMP B-TREE" in s for s in soon), soon


async def test_import_looks_up_only_the_files_keys_through_the_ledgers_unique_index(db: Database) -> None:
    """plan_import asks the database for the file's keys only (memory follows the file, not the
    database): each key is a probe of the UNIQUE ledger identity, never a SCAN of cases."""
    from storage import cases

    steps = await plan(db, cases.EXISTING_KEYS_SQL, [json.dumps([["部门001", "p", "evaluation", "d"]])])
    assert no_case_scan(steps) and any("sqlite_autoindex_cases_1" in s for s in steps), steps
    row = await db.fetchone("SELECT d.name, c.project, c.source, c.feedback_doc_no, c.id FROM cases c"
                            " JOIN departments d ON d.id = c.department_id LIMIT 1")
    assert row is not None
    key = (row[0], row[1], row[2], row[3])
    assert await cases.existing_keys(db, [key, ("无此部门", "x", "evaluation", "")]) == {key: row[4]}


async def test_department_pages_are_the_full_list_cut_in_order(db: Database) -> None:
    """The pages of /cases (COUNT + LIMIT/OFFSET) are the department's list as it was loaded whole."""
    from bot.reports import REPORTABLE_STATUSES, VISIBLE_OPEN_STATUSES
    from storage import cases
    from storage import reports as reports_repo

    for statuses in (VISIBLE_OPEN_STATUSES, REPORTABLE_STATUSES):
        whole = await reports_repo.cases_with_status(db, statuses, department_id=7)
        assert len(whole) >= 10
        assert await cases.count_department_cases(db, 7, statuses) == len(whole)
        paged = [c.id for offset in range(0, len(whole) + 6, 3)
                 for c in await cases.department_cases_page(db, 7, statuses, limit=3, offset=offset)]
        assert paged == whole


async def test_the_ladder_refresh_reads_only_cases_near_their_deadline_or_still_coloured(db: Database) -> None:
    from bot.cases import OPEN_STATUSES
    from storage import ladder as ladder_repo
    steps = await plan(db, ladder_repo.colour_changes_sql([str(s) for s in OPEN_STATUSES]),
                       ["2026-03-08", "2026-03-19", "2026-03-29"])
    # a range of the open cases' deadline index, and the partial index of the coloured cases (only
    # those rows are in it): never the whole table
    assert any(s.startswith("SEARCH cases USING INDEX cases_uncoloured_due") and "due_on<?" in s for s in steps), steps
    assert all(s == "SCAN cases USING COVERING INDEX cases_ladder" for s in steps if s.startswith("SCAN")), steps
