"""Queries of the reminder sweep and the digests (cases by next_action_at, open cases, reachability)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime

import aiosqlite

from bot.clock import iso
from bot.domain import Case, CaseStatus, PendingReview, Source, SweepCase
from storage.cases import CASE_SQL, case_from_row
from storage.db import Conn, Database, fetchall, fetchone

# Statuses whose deadlines the sweep and the digests look at (open report clock, or the bureau's
# own feedback clock). Kept here as plain strings so storage does not import the domain.
WATCHED_STATUSES = ("in_progress", "returned", "pending_feedback")


# Only the columns of the running deadline (bot.reminders.target_of), no department join: the sweep
# reads them through cases_next_action in due order.
DUE_SQL = ("SELECT id, department_id, status, source, due_on, due_provisional, feedback_sent_on, feedback_due_on,"
           " feedback_due_provisional FROM cases WHERE next_action_at IS NOT NULL AND next_action_at <= ?"
           " ORDER BY next_action_at, id LIMIT ?")

_STATUSES = {s.value: s for s in CaseStatus}
_SOURCES = {s.value: s for s in Source}


def _day(text: str | None, parsed: dict[str, date]) -> date | None:
    if text is None:
        return None
    day = parsed.get(text)
    if day is None:
        day = parsed[text] = date.fromisoformat(text)
    return day


async def cases_due_for_action(db: Conn, until: datetime, *, limit: int = 500) -> list[SweepCase]:
    """Cases whose next_action_at has come (the indexed column: cost follows due items), as the light
    rows the policy needs; the due cases of a batch share few deadlines, so each date text is parsed once."""
    parsed: dict[str, date] = {}
    return [SweepCase(r[0], r[1], _STATUSES[r[2]], _SOURCES[r[3]], _day(r[4], parsed), bool(r[5]),
                      _day(r[6], parsed), _day(r[7], parsed), bool(r[8]))
            for r in await fetchall(db, DUE_SQL, (iso(until), limit))]


async def set_next_action(conn: aiosqlite.Connection, case_id: int, at: datetime | None) -> None:
    """Only the sweep writes a future instant here; other features set it to `now` on any change."""
    await conn.execute("UPDATE cases SET next_action_at = ? WHERE id = ?", (iso(at) if at else None, case_id))


async def set_next_actions(conn: aiosqlite.Connection, plans: Iterable[tuple[int, datetime | None]]) -> None:
    """The sweep's new plans for a whole batch, in one executemany (case id, next instant or None)."""
    stamps: dict[datetime, str] = {}  # a batch's plans share few instants: each is formatted once
    rows: list[tuple[str | None, int]] = []
    for case_id, at in plans:
        if at is not None and at not in stamps:
            stamps[at] = iso(at)
        rows.append((stamps[at] if at is not None else None, case_id))
    await conn.executemany("UPDATE cases SET next_action_at = ? WHERE id = ?", rows)


LIAISONS_BY_DEPARTMENT_SQL = (
    "SELECT department_id, id FROM people WHERE role = 'liaison' AND active = 1 AND reachable = 1"
    " AND department_id IN (SELECT value FROM json_each(?)) ORDER BY department_id, id"
)


async def reachable_liaisons_by_department(db: Conn, department_ids: Iterable[int]) -> dict[int, tuple[int, ...]]:
    """Reachable liaisons of many departments in one query (every asked department is a key)."""
    wanted = sorted(set(department_ids))
    found: dict[int, list[int]] = {d: [] for d in wanted}
    for r in await fetchall(db, LIAISONS_BY_DEPARTMENT_SQL, (json.dumps(wanted),)):
        found[int(r[0])].append(int(r[1]))
    return {d: tuple(ids) for d, ids in found.items()}


async def watched_cases(db: Conn) -> list[Case]:
    """Cases with a running deadline (report or the bureau's feedback), for digests and /overdue."""
    marks = ",".join("?" * len(WATCHED_STATUSES))
    found = await fetchall(db, CASE_SQL + f" WHERE c.status IN ({marks}) ORDER BY c.id", WATCHED_STATUSES)
    return [case_from_row(r) for r in found]




# The watched cases grouped by their running deadline (bot.reminders.target_of): the digest's counts
# need only these groups (a few hundred). Two grouped reads of the covering index cases_open_deadlines
# (status, due_on, due_provisional, …), each GROUP BY a prefix of it, so SQLite groups in index order
# with no temporary B-tree: the report clocks (~80k rows at 100k cases, one group per (status, day,
# provisional)) and the unsent evaluations' feedback clocks.
# One GROUP BY over all six columns sorted every open case first: ~95 ms at 100k against ~17 ms.
TARGET_GROUPS_SQL = (
    "SELECT 1, due_on, due_provisional, COUNT(*) FROM cases"
    " WHERE status IN ('in_progress', 'returned') AND due_on IS NOT NULL GROUP BY status, due_on, due_provisional"
    " UNION ALL"
    " SELECT 0, feedback_due_on, feedback_due_provisional, COUNT(*) FROM cases"
    " WHERE status = 'pending_feedback' AND source = 'evaluation' AND feedback_sent_on IS NULL"
    " AND feedback_due_on IS NOT NULL GROUP BY feedback_due_on, feedback_due_provisional"
)


async def target_groups(db: Conn) -> list[tuple[date, bool, bool, int]]:
    """(running deadline, provisional, report clock (else the bureau's feedback clock), cases) of open
    cases: the report deadline of an open case, else the feedback deadline of an evaluation whose
    feedback is not sent (storage/todo.TARGET_DUE, bot.reminders.target_of); one tuple per distinct
    (deadline, provisional, clock), in no particular order."""
    found: dict[tuple[date, bool, bool], int] = {}
    for report, due, provisional, n in await fetchall(db, TARGET_GROUPS_SQL):
        group = (date.fromisoformat(due), bool(provisional), bool(report))
        found[group] = found.get(group, 0) + int(n)  # in_progress and returned share a day's group
    return [(*group, n) for group, n in found.items()]


async def count_reports_awaiting_review(db: Conn) -> int:
    row = await fetchone(db, "SELECT COUNT(*) FROM reports WHERE state = 'submitted'")
    return int(row[0]) if row else 0


async def reports_awaiting_review(db: Conn) -> list[PendingReview]:
    found = await fetchall(
        db,
        "SELECT r.id, r.case_id, d.name, c.project, c.confidential, r.submitted_at FROM reports r"
        " JOIN cases c ON c.id = r.case_id JOIN departments d ON d.id = c.department_id"
        " WHERE r.state = 'submitted' ORDER BY r.submitted_at, r.id",
    )
    return [PendingReview(r[0], r[1], r[2], r[3], bool(r[4]), r[5]) for r in found]


async def departments_without_reachable_liaison(db: Conn) -> list[tuple[int, str]]:
    """Departments where no active liaison can be reached (none registered, or all blocked the bot)."""
    found = await fetchall(
        db,
        "SELECT d.id, d.name FROM departments d WHERE NOT EXISTS (SELECT 1 FROM people p"
        " WHERE p.department_id = d.id AND p.role = 'liaison' AND p.active = 1 AND p.reachable = 1)"
        " ORDER BY d.name",
    )
    return [(int(r[0]), str(r[1])) for r in found]


async def reachable_people_by_role(db: Database | aiosqlite.Connection, role: str) -> list[int]:
    found = await fetchall(
        db, "SELECT id FROM people WHERE role = ? AND active = 1 AND reachable = 1 ORDER BY id", (role,),
    )
    return [int(r[0]) for r in found]


async def reachable_liaisons(db: Conn, department_id: int) -> list[int]:
    found = await fetchall(
        db, "SELECT id FROM people WHERE role = 'liaison' AND department_id = ? AND active = 1 AND reachable = 1"
        " ORDER BY id", (department_id,),
    )
    return [int(r[0]) for r in found]
