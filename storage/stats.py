"""Counts for the bureau's overview (issue 11): set-based aggregates, one query per view."""

from __future__ import annotations

from datetime import date

from bot.domain import DepartmentCounts
from storage.db import Conn, fetchall, to_date

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
