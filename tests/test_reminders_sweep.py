"""The sweep over a real SQLite file: enqueue once, coalesce, reschedule, drop what is no longer needed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path

import pytest

from bot.bootstrap import build_renderers, history_labels
from bot.clock import FakeClock
from bot.domain import Kind
from bot.errors import NotAuthorized
from bot.reminders import ReminderReply, record_progress_note
from bot.services import Services
from bot.settings import Settings
from bot.sweep import sweep
from storage import cases as cases_repo
from storage import outbox as repo
from storage import people as people_repo
from storage.db import Database
from tests.reminder_helpers import TZ, add_case, add_department, add_person, local


@pytest.fixture
async def svc(tmp_path: Path) -> AsyncIterator[Services]:
    db = await Database.open(tmp_path / "rectbot.db")
    yield Services(settings=Settings(), db=db, clock=FakeClock(local(date(2026, 2, 9), 0, 10)),
                   renderers=build_renderers(Path('files')), history_labels=history_labels())
    await db.close()


def clock(svc: Services) -> FakeClock:
    assert isinstance(svc.clock, FakeClock)
    return svc.clock


async def setup(svc: Services) -> tuple[int, list[int], int, int]:
    dept = await add_department(svc.db, "县教育局")
    liaisons = [await add_person(svc.db, 100 + i, "liaison", dept) for i in range(2)]
    sup = await add_person(svc.db, 200, "supervisor")
    admin = await add_person(svc.db, 300, "admin")
    await add_case(svc.db, dept, due_on=date(2026, 2, 28))
    return dept, liaisons, sup, admin


async def test_sweep_enqueues_once_and_reschedules(svc: Services) -> None:
    _dept, liaisons, _sup, _admin = await setup(svc)
    stats = await sweep(svc)
    assert stats.enqueued == 2
    rows = await repo.rows(svc.db)
    assert sorted((r.kind, r.person_id, r.payload["step"]) for r in rows) == [
        (Kind.REMINDER, liaisons[0], 10), (Kind.REMINDER, liaisons[1], 10)]
    case = await cases_repo.get_case(svc.db, rows[0].case_id or 0)
    assert case is not None and case.next_action_at == datetime(2026, 2, 25, tzinfo=TZ)
    assert svc.delivery_wakeup.is_set()
    # Overlapping / repeated sweeps: nothing new, even when forced.
    async with svc.db.transaction() as conn:
        await conn.execute("UPDATE cases SET next_action_at = '2000-01-01T00:00:00+00:00'")
    assert (await sweep(svc)).enqueued == 0
    assert len(await repo.rows(svc.db)) == 2


async def test_sweep_touches_only_due_cases(svc: Services) -> None:
    await setup(svc)
    await sweep(svc)
    clock(svc).set(local(date(2026, 2, 20)))  # before the next action instant
    assert (await sweep(svc)).cases == 0


async def test_missed_steps_pending_are_superseded_by_the_current_one(svc: Services) -> None:
    _dept, _liaisons, _sup, _admin = await setup(svc)
    await sweep(svc)  # step 10 pending (never delivered: the bot was "down")
    clock(svc).set(local(date(2026, 2, 27), 0, 5))
    await sweep(svc)
    rows = await repo.rows(svc.db)
    assert sorted((r.payload["step"], r.state) for r in rows) == [
        (1, "pending"), (1, "pending"), (10, "dropped"), (10, "dropped")]
    assert all("superseded" in (r.last_error or "") for r in rows if r.state == "dropped")


async def test_overdue_case_at_start_up_one_notice_each_and_escalations(svc: Services) -> None:
    _dept, liaisons, sup, admin = await setup(svc)
    clock(svc).set(local(date(2026, 3, 20)))
    await sweep(svc)
    rows = await repo.rows(svc.db)
    assert sorted((r.kind, r.person_id) for r in rows) == sorted(
        [(Kind.OVERDUE, liaisons[0]), (Kind.OVERDUE, liaisons[1]), (Kind.ESCALATION, sup), (Kind.ESCALATION, admin)])


async def test_closed_case_loses_its_pending_reminders_and_its_next_action(svc: Services) -> None:
    await setup(svc)
    await sweep(svc)
    async with svc.db.transaction() as conn:
        await conn.execute("UPDATE cases SET status = 'closed', next_action_at = ?", ("2026-02-08T16:00:00+00:00",))
    await sweep(svc)
    assert {r.state for r in await repo.rows(svc.db)} == {"dropped"}
    row = await svc.db.fetchone("SELECT next_action_at FROM cases")
    assert row is not None and row[0] is None


async def test_unreachable_liaisons_get_nothing(svc: Services) -> None:
    _dept, liaisons, _sup, _admin = await setup(svc)
    async with svc.db.transaction() as conn:
        await people_repo.set_reachable(conn, liaisons[0], False)
    await sweep(svc)
    assert [r.person_id for r in await repo.rows(svc.db)] == [liaisons[1]]


async def test_progress_note_only_from_the_addressee(svc: Services) -> None:
    _dept, liaisons, _sup, _admin = await setup(svc)
    await sweep(svc)
    row = (await repo.rows(svc.db))[0]
    async with svc.db.transaction() as conn:
        await repo.mark_sent(conn, row.id, 55, svc.now())
    me = await people_repo.person_by_id(svc.db, row.person_id)
    other = await people_repo.person_by_id(svc.db, liaisons[1] if row.person_id == liaisons[0] else liaisons[0])
    assert me is not None and other is not None
    reply = ReminderReply(person_id=me.id, case_id=row.case_id or 0, outbox_id=row.id, kind=row.kind, text="进展")
    note = await record_progress_note(svc.db, me, reply, now=svc.now())
    assert (await repo.notes_for_case(svc.db, row.case_id or 0))[0]["id"] == note
    with pytest.raises(NotAuthorized):  # forged: someone else's reminder
        await record_progress_note(svc.db, other, reply, now=svc.now())
    found = await repo.row_for_message(svc.db, me.id, 55)
    assert found is not None and found.id == row.id


async def test_the_drop_keeps_the_current_rows_and_leaves_other_kinds_and_sent_rows(svc: Services) -> None:
    """The sweep drops superseded reminders by id from what it read in its transaction: exactly the
    case's pending rows of the reminder kinds whose key is not current, nothing else."""
    await setup(svc)
    await sweep(svc)  # step 10 for both liaisons, pending
    first = await repo.rows(svc.db)
    async with svc.db.transaction() as conn:
        await repo.mark_sent(conn, first[0].id, 1, local(date(2026, 2, 9), 0, 11))
        await conn.execute("INSERT INTO outbox (key, person_id, case_id, kind, payload, not_before, created_at)"
                           " VALUES ('digest:x', ?, ?, 'digest', '{}', ?, ?)",
                           (first[0].person_id, first[0].case_id, "2026-02-08T16:00:00+00:00",
                            "2026-02-08T16:00:00+00:00"))
        await conn.execute("UPDATE cases SET next_action_at = '2000-01-01T00:00:00+00:00'")
    again = await sweep(svc)  # same day: the same step is current, nothing is superseded
    assert (again.enqueued, again.dropped) == (0, 0)
    clock(svc).set(local(date(2026, 2, 27), 0, 5))
    later = await sweep(svc)
    assert later.dropped == 1
    by_key = {r.key: r.state for r in await repo.rows(svc.db)}
    assert by_key[first[0].key] == "sent" and by_key[first[1].key] == "dropped" and by_key["digest:x"] == "pending"


async def test_the_sweeps_light_rows_have_the_running_deadline_of_the_full_cases(tmp_path: Path) -> None:
    """`SweepCase` (the columns the sweep reads) gives the policy the same running deadline as `Case`."""
    from bench import data
    from bot.reminders import target_of
    from storage import reminders as reminders_repo

    now = datetime(2026, 12, 1, 1, 0, tzinfo=TZ)
    await data.build(tmp_path / "b.db", data.Shape(2000), now)
    db = await Database.open(tmp_path / "b.db")
    try:
        async with db.transaction() as conn:
            await conn.execute("UPDATE cases SET next_action_at = '2000-01-01T00:00:00+00:00'")
            await conn.execute("UPDATE cases SET status = 'pending_feedback', source = 'evaluation',"
                               " feedback_due_on = due_on, feedback_due_provisional = id % 2 WHERE id % 7 = 0")
        light = await reminders_repo.cases_due_for_action(db, now, limit=5000)
        assert len(light) == len(await cases_repo.list_cases(db))
        full = {c.id: c for c in await cases_repo.list_cases(db)}
        assert [target_of(c) for c in light] == [target_of(full[c.id]) for c in light]
        assert {c.department_id for c in light} == {c.department_id for c in full.values()}
        assert sum(target_of(c) is not None and target_of(c).name == "feedback" for c in light) > 100  # type: ignore[union-attr]
    finally:
        await db.close()
