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
