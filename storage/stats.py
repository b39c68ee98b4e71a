"""Counts for the bureau's overview (issue 11): set-based aggregates, one query per view."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import aiosqlite

from bot.domain import DepartmentCounts, DepartmentTally, DueCase, FirstReport
from storage.db import Conn, Database, fetchall, to_date


async def _named(conn: Conn, sql: str, params: Mapping[str, Any]) -> list[aiosqlite.Row]:
    """fetchall with named parameters (storage.db.fetchall takes positional ones)."""
    raw = conn.conn if isinstance(conn, Database) else conn
    async with raw.execute(sql, dict(params)) as cur:
        return list(await cur.fetchall())

# The stages as /status counts them (CaseStatus values; the measures' words in the comments).
_RECTIFYING = "('in_progress', 'returned')"   # 整改中 (also rework after 退回补充)


async def department_counts(conn: Conn, today: date, department_id: int | None = None) -> list[DepartmentCounts]:
    """Every department (or one) with its cases counted by stage; overdue = rectifying past `today`'s date."""
    where, params = ("WHERE d.id = ?", [today.isoformat(), department_id]) if department_id is not None \
        else ("", [today.isoformat()])
    rows = await fetchall(
        conn,
        "SELECT d.id, d.name,"
        " COUNT(CASE WHEN c.status = 'pending_feedback' THEN 1 END),"
        f" COUNT(CASE WHEN c.status IN {_RECTIFYING} THEN 1 END),"
        " COUNT(CASE WHEN c.status = 'reported' THEN 1 END),"
        f" COUNT(CASE WHEN c.status IN {_RECTIFYING} AND c.due_on < ? THEN 1 END),"
        " COUNT(CASE WHEN c.status = 'closed' THEN 1 END),"
        f" MIN(CASE WHEN c.status IN {_RECTIFYING} THEN c.due_on END)"
        " FROM departments d LEFT JOIN cases c ON c.department_id = d.id "
        f"{where} GROUP BY d.id ORDER BY d.name",
        params,
    )
    return [DepartmentCounts(int(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5]), int(r[6]),
                             to_date(r[7])) for r in rows]


# The latest submitted report of each case: the one that answers the case's current deadline.
_LATEST = ("LEFT JOIN reports l ON l.id = (SELECT MAX(r2.id) FROM reports r2"
           " WHERE r2.case_id = c.id AND r2.submitted_on IS NOT NULL)")
_DUE = "c.status != 'pending_feedback' AND c.due_on BETWEEN :start AND :end"
_ON_TIME = "l.state IN ('submitted', 'accepted') AND l.submitted_on <= c.due_on"


async def period_tallies(conn: Conn, *, start: date, end: date, from_ts: str, to_ts: str,
                         department_id: int | None = None) -> list[DepartmentTally]:
    """Every department's counts for the period [start, end] (timestamps: [from_ts, to_ts) in UTC)."""
    params = {"start": start.isoformat(), "end": end.isoformat(), "from_ts": from_ts, "to_ts": to_ts,
              "dept": department_id}
    rows = await _named(
        conn,
        "SELECT d.id, d.name,"
        " COUNT(CASE WHEN c.created_at >= :from_ts AND c.created_at < :to_ts THEN 1 END),"
        f" COUNT(CASE WHEN {_DUE} THEN 1 END),"
        f" COUNT(CASE WHEN {_DUE} AND {_ON_TIME} THEN 1 END),"
        f" COUNT(CASE WHEN {_DUE} AND c.status = 'closed' THEN 1 END)"
        f" FROM departments d LEFT JOIN cases c ON c.department_id = d.id {_LATEST}"
        " WHERE :dept IS NULL OR d.id = :dept GROUP BY d.id ORDER BY d.name",
        params,
    )
    decisions = await _named(
        conn,
        "SELECT c.department_id, v.decision, COUNT(*) FROM reviews v JOIN reports r ON r.id = v.report_id"
        " JOIN cases c ON c.id = r.case_id WHERE v.decided_at >= :from_ts AND v.decided_at < :to_ts"
        " AND (:dept IS NULL OR c.department_id = :dept) GROUP BY c.department_id, v.decision",
        params,
    )
    by: dict[tuple[int, str], int] = {(int(r[0]), str(r[1])): int(r[2]) for r in decisions}
    return [DepartmentTally(
        int(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5]),
        by.get((int(r[0]), "return_for_rework"), 0), by.get((int(r[0]), "refused"), 0),
        by.get((int(r[0]), "inadequate"), 0), by.get((int(r[0]), "falsely_reported"), 0),
    ) for r in rows]


async def due_cases(conn: Conn, *, start: date, end: date, department_id: int | None = None) -> list[DueCase]:
    """The cases whose report fell due in [start, end], with their latest submitted report."""
    rows = await _named(
        conn,
        f"SELECT c.id, c.department_id, c.due_on, l.state, l.submitted_on FROM cases c {_LATEST}"
        f" WHERE {_DUE} AND (:dept IS NULL OR c.department_id = :dept) ORDER BY c.id",
        {"start": start.isoformat(), "end": end.isoformat(), "dept": department_id},
    )
    out = []
    for r in rows:
        due = to_date(r[2])
        assert due is not None
        out.append(DueCase(int(r[0]), int(r[1]), due, r[3], to_date(r[4])))
    return out


async def first_reports(conn: Conn, *, start: date, end: date, department_id: int | None = None) -> list[FirstReport]:
    """Cases whose first report was submitted in [start, end], with the day the feedback was received."""
    rows = await _named(
        conn,
        "SELECT c.id, c.department_id, c.feedback_received_on, MIN(r.submitted_on) AS first FROM cases c"
        " JOIN reports r ON r.case_id = c.id AND r.submitted_on IS NOT NULL"
        " WHERE c.feedback_received_on IS NOT NULL AND (:dept IS NULL OR c.department_id = :dept)"
        " GROUP BY c.id HAVING first BETWEEN :start AND :end ORDER BY c.id",
        {"start": start.isoformat(), "end": end.isoformat(), "dept": department_id},
    )
    out = []
    for r in rows:
        received, submitted = to_date(r[2]), to_date(r[3])
        assert received is not None and submitted is not None
        out.append(FirstReport(int(r[0]), int(r[1]), received, submitted))
    return out
