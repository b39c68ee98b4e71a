"""The to-do's queries (bot/todo.py): per section a COUNT and one LIMITed page, never every open case.

A section is a plain name here (storage does not import bot.todo); each is one FROM/WHERE over indexed
columns (reports_state, extension_one_pending, cases_department_status) and one ORDER BY, so the page
asked for is the only thing read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import aiosqlite

from bot.domain import TodoItem, WatchedItem
from storage.db import Conn, fetchall, fetchone

# The running deadline of a case, as bot.reminders.target_of picks it: the report deadline of an
# open case, else the bureau's own feedback deadline of an evaluation whose feedback is not sent.
TARGET_DUE = (
    "CASE WHEN c.status IN ('in_progress', 'returned') THEN c.due_on"
    " WHEN c.status = 'pending_feedback' AND c.source = 'evaluation' AND c.feedback_sent_on IS NULL"
    " THEN c.feedback_due_on END"
)
TARGET_PROVISIONAL = (
    "CASE WHEN c.status IN ('in_progress', 'returned') THEN c.due_provisional ELSE c.feedback_due_provisional END"
)
# Counting needs no department name, and every case has its department (a NOT NULL foreign key), so a
# COUNT leaves the join out: one lookup fewer per counted row (the bureau's "due" section at 100k counts
# ~70k rows: the to-do's counts ~80 → ~55 ms, and the daily digest pays them).
_DEPARTMENT_JOIN = " JOIN departments d ON d.id = c.department_id"
_CASES = " FROM cases c" + _DEPARTMENT_JOIN

# section -> (ref id, the date shown, provisional flag, FROM … WHERE …, ORDER BY); `?today` marks today.
_SECTIONS: dict[str, tuple[str, str, str, str, str]] = {
    "review": ("r.id", "r.submitted_on", "0",
               " FROM reports r JOIN cases c ON c.id = r.case_id" + _DEPARTMENT_JOIN +
               " WHERE r.state = 'submitted'", "r.submitted_at, r.id"),
    # CROSS JOIN: the pending requests first (a few), each case by its key; with a plain JOIN the
    # planner walked every case's index entry to probe for a request (~8 ms at 100k, for none pending).
    "extension": ("e.id", "e.proposed_due_on", "0",
                  " FROM extension_requests e CROSS JOIN cases c ON c.id = e.case_id"
                  + _DEPARTMENT_JOIN + " WHERE e.state = 'pending'", "e.created_at, e.id"),
    "feedback": ("c.id", "c.feedback_sent_on", "0",
                 _CASES + " WHERE c.status = 'pending_feedback' AND c.feedback_sent_on IS NOT NULL"
                 " AND c.feedback_received_on IS NULL", "c.feedback_sent_on, c.id"),
    "overdue": ("c.id", TARGET_DUE, TARGET_PROVISIONAL,
                _CASES + " WHERE c.status IN ('in_progress', 'returned', 'pending_feedback')"
                f" AND ({TARGET_DUE}) < ?today", f"{TARGET_DUE}, c.id"),
    "due": ("c.id", "c.due_on", "c.due_provisional",
            _CASES + " WHERE c.status = 'in_progress' AND c.due_on IS NOT NULL", "c.due_on, c.id"),
    "returned": ("c.id", "c.due_on", "c.due_provisional",
                 _CASES + " WHERE c.status = 'returned'", "c.due_on IS NULL, c.due_on, c.id"),
}
SECTIONS = tuple(_SECTIONS)
# The bureau's overdue page is the start of cases_target_due's range, read in order (LIMIT 10: ~0 ms).
# Named, because on the bench's 100k statistics the planner otherwise chose cases_open_deadlines and
# sorted all ~10k overdue cases for each page (~30 ms, paid by every daily digest).
_BUREAU_OVERDUE_FROM = " FROM cases c INDEXED BY cases_target_due"


def _where(section: str, today: date, department_id: int | None, *, counting: bool = False,
           ) -> tuple[str, list[Any]]:
    body = _SECTIONS[section][3]
    if counting:
        body = body.replace(_DEPARTMENT_JOIN, "")
    params: list[Any] = [today.isoformat()] * body.count("?today")
    body = body.replace("?today", "?")
    if department_id is not None:
        body += " AND c.department_id = ?"
        params.append(department_id)
    return body, params


async def count(conn: Conn, section: str, *, today: date, department_id: int | None = None) -> int:
    body, params = _where(section, today, department_id, counting=True)
    row = await fetchone(conn, "SELECT COUNT(*)" + body, params)
    return int(row[0]) if row else 0


async def items(conn: Conn, section: str, *, today: date, limit: int, offset: int,
                department_id: int | None = None) -> list[TodoItem]:
    """One slice of a section, in its order (oldest waiting first, soonest deadline first)."""
    sql, params = items_sql(section, today, department_id)
    return [_item(section, r) for r in await fetchall(conn, sql, [*params, limit, offset])]


def items_sql(section: str, today: date, department_id: int | None) -> tuple[str, list[Any]]:
    """The page query of a section (LIMIT and OFFSET are its last two parameters, left to the caller)."""
    ref, on, provisional, _body, order = _SECTIONS[section]
    body, params = _where(section, today, department_id)
    if section == "overdue" and department_id is None:
        body = body.replace(" FROM cases c", _BUREAU_OVERDUE_FROM, 1)
    return (f"SELECT {ref}, c.id, d.name, c.project, c.confidential, {on}, {provisional}" + body
            + f" ORDER BY {order} LIMIT ? OFFSET ?", params)


def _item(section: str, r: aiosqlite.Row) -> TodoItem:
    return TodoItem(section=section, ref_id=int(r[0]), case_id=int(r[1]), department_name=str(r[2]),
                    project=str(r[3]), confidential=bool(r[4]), on=date.fromisoformat(r[5]) if r[5] else None,
                    provisional=bool(r[6]))


async def overdue_before(conn: Conn, cutoffs: Sequence[date], *, today: date,
                         department_id: int | None = None) -> list[int]:
    """How many overdue cases have a deadline before each cutoff (the escalation levels' dates)."""
    if not cutoffs:
        return []
    body, params = _where("overdue", today, department_id, counting=True)
    sums = ", ".join(f"COALESCE(SUM(({TARGET_DUE}) < ?), 0)" for _ in cutoffs)
    row = await fetchone(conn, f"SELECT {sums}" + body, [*(c.isoformat() for c in cutoffs), *params])
    return [int(v) for v in row] if row else [0] * len(cutoffs)


# ---------------------------------------------------------------- the digest's lists and /overdue

# The cases whose deadline runs (bot.reminders.target_of). The status term is cases_target_due's own
# WHERE, so a range of running deadlines is a range of that index.
_WATCHED = _CASES + f" WHERE c.status IN ('in_progress', 'returned', 'pending_feedback') AND ({TARGET_DUE}) IS NOT NULL"
# list order -> ORDER BY: by department (confidential ones last, apart; most overdue first), by
# deadline, or by case number.
WATCHED_ORDERS = {
    "department": f"c.confidential, d.name, {TARGET_DUE}, c.id",
    "due": f"{TARGET_DUE}, c.id",
    "id": "c.id",
}
DateRanges = Sequence[tuple[date | None, date]]


def watched_where(ranges: DateRanges | None, provisional_only: bool = False) -> tuple[str, list[Any]]:
    """FROM/WHERE of the cases whose running deadline falls in one of `ranges` (inclusive; a None
    start is open below; None: any deadline), only provisional ones if asked."""
    body, params = _WATCHED, []
    if provisional_only:
        body += f" AND ({TARGET_PROVISIONAL}) = 1"
    if ranges is not None:
        terms = []
        for start, end in ranges:
            if start is None:
                terms.append(f"({TARGET_DUE}) <= ?")
            else:
                terms.append(f"({TARGET_DUE}) BETWEEN ? AND ?")
                params.append(start.isoformat())
            params.append(end.isoformat())
        body += " AND (" + (" OR ".join(terms) or "0") + ")"
    return body, params


async def count_watched(conn: Conn, ranges: DateRanges | None, *, provisional_only: bool = False) -> int:
    body, params = watched_where(ranges, provisional_only)
    body = body.replace(_DEPARTMENT_JOIN, "")
    row = await fetchone(conn, "SELECT COUNT(*)" + body, params)
    return int(row[0]) if row else 0


async def watched_page(conn: Conn, ranges: DateRanges | None, *, order: str, limit: int, offset: int,
                       provisional_only: bool = False) -> list[WatchedItem]:
    """One page of those cases in the list's order (WATCHED_ORDERS)."""
    body, params = watched_where(ranges, provisional_only)
    found = await fetchall(
        conn, f"SELECT c.id, d.name, c.project, c.confidential, {TARGET_DUE}, {TARGET_PROVISIONAL},"
        " c.status IN ('in_progress', 'returned')" + body + f" ORDER BY {WATCHED_ORDERS[order]} LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    return [WatchedItem(case_id=int(r[0]), department_name=str(r[1]), project=str(r[2]), confidential=bool(r[3]),
                        due=date.fromisoformat(r[4]), provisional=bool(r[5]), report=bool(r[6])) for r in found]
