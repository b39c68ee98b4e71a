"""Queries of the reminder sweep and the digests (cases by next_action_at, open cases, reachability)."""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from bot.clock import iso
from bot.domain import Case, PendingReview
from storage.cases import CASE_SQL, case_from_row
from storage.db import Conn, Database, fetchall

# Statuses whose deadlines the sweep and the digests look at (open report clock, or the bureau's
# own feedback clock). Kept here as plain strings so storage does not import the domain.
WATCHED_STATUSES = ("in_progress", "returned", "pending_feedback")


async def cases_due_for_action(db: Conn, until: datetime, *, limit: int = 500) -> list[Case]:
    """Cases whose next_action_at has come (the indexed column: cost follows due items)."""
    found = await fetchall(
        db, CASE_SQL + " WHERE c.next_action_at IS NOT NULL AND c.next_action_at <= ?"
        " ORDER BY c.next_action_at, c.id LIMIT ?", (iso(until), limit),
    )
    return [case_from_row(r) for r in found]


async def set_next_action(conn: aiosqlite.Connection, case_id: int, at: datetime | None) -> None:
    """Only the sweep writes a future instant here; other features set it to `now` on any change."""
    await conn.execute("UPDATE cases SET next_action_at = ? WHERE id = ?", (iso(at) if at else None, case_id))


async def watched_cases(db: Conn) -> list[Case]:
    """Cases with a running deadline (report or the bureau's feedback), for digests and /overdue."""
    marks = ",".join("?" * len(WATCHED_STATUSES))
    found = await fetchall(db, CASE_SQL + f" WHERE c.status IN ({marks}) ORDER BY c.id", WATCHED_STATUSES)
    return [case_from_row(r) for r in found]




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
