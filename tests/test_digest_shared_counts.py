"""The daily digest reads the open cases' running deadlines once (storage/reminders.target_groups) and
shares them with the bureau's to-do: the same figures as each counting on its own (issue 14: the
digest at 100k ≤ 200 ms)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bench import data
from bot import digests, todo
from bot.reminders import local_today
from bot.settings import Settings
from bot.workcalendar import WorkCalendar
from storage import reminders
from storage.db import Database
from tests.reminder_helpers import add_case, add_department, local

NOW = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


@pytest.fixture
async def bench_db(tmp_path: Path) -> AsyncIterator[Database]:
    await data.build(tmp_path / "bench.db", data.Shape(2000), NOW)
    db = await Database.open(tmp_path / "bench.db")
    yield db
    await db.close()


@pytest.mark.parametrize("levels", [None, [1, 10], [3, 5]])
async def test_shared_counts_equal_the_todos_own(bench_db: Database, levels: list[int] | None) -> None:
    settings = Settings() if levels is None else Settings(escalation={"levels": levels})
    calendar = WorkCalendar()
    today = local_today(settings, NOW)
    own = await todo.build(bench_db, calendar, settings, audience=todo.BUREAU, today=today)
    digest, shared = await digests.digest_and_todo(bench_db, calendar, settings, NOW)
    assert shared == own
    assert own.counts["overdue"] > 50
    if levels == [1, 10]:  # every overdue case is at level 1 or 2, and some at 2
        assert sum(own.levels) == own.counts["overdue"] and own.levels[1] > 0
    assert digest == await digests.build_digest_counts(bench_db, calendar, settings, NOW)


async def test_no_overdue_case_means_no_levels(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "r.db")
    try:
        dept = await add_department(db, "县教育局")
        await add_case(db, dept, project="还早", due_on=date(2026, 5, 29))
        settings, calendar, now = Settings(), WorkCalendar(), local(date(2026, 3, 20), 8, 30)
        today = local_today(settings, now)
        groups = await reminders.target_groups(db)
        shared = await todo.build(db, calendar, settings, audience=todo.BUREAU, today=today,
                                  deadlines=[(due, n) for due, _p, _r, n in groups])
        assert shared.counts["overdue"] == 0 and shared.levels == (0, 0)
        assert shared == await todo.build(db, calendar, settings, audience=todo.BUREAU, today=today)
    finally:
        await db.close()


async def test_target_groups_cover_both_clocks(tmp_path: Path) -> None:
    """Report clocks (in progress and returned share a day's group) and the feedback clock of an
    evaluation whose feedback is not sent; nothing for a sent feedback, a closed case or no deadline."""
    db = await Database.open(tmp_path / "g.db")
    try:
        dept = await add_department(db, "县教育局")
        day, other = date(2026, 3, 19), date(2026, 3, 24)
        await add_case(db, dept, project="a", due_on=day)
        await add_case(db, dept, project="b", due_on=day, status="returned")
        await add_case(db, dept, project="c", due_on=day, due_provisional=True)
        await add_case(db, dept, project="d", due_on=None)
        await add_case(db, dept, project="e", due_on=day, status="closed")
        await add_case(db, dept, project="f", status="pending_feedback", due_on=day, feedback_due_on=other,
                       feedback_due_provisional=True)
        await add_case(db, dept, project="g", status="pending_feedback", due_on=day, feedback_due_on=other,
                       feedback_sent_on=date(2026, 3, 1))
        await add_case(db, dept, project="h", status="pending_feedback", source="monitoring", due_on=day,
                       feedback_due_on=other)
        found = sorted(await reminders.target_groups(db))
        assert found == [(day, False, True, 2), (day, True, True, 1), (other, True, False, 1)]
        settings, calendar, now = Settings(), WorkCalendar(), local(date(2026, 3, 20), 8, 30)
        counted = await digests.build_digest_counts(db, calendar, settings, now)
        listed = await digests.build_digest(db, calendar, settings, now)
        assert counted.counts == {s: len(getattr(listed, s)) for s in digests.SECTIONS}
    finally:
        await db.close()
