"""The 督办 ladder's history: one row per colour change of a case (migration 0007)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import aiosqlite

from bot.clock import iso
from bot.domain import LadderChange
from storage.db import Conn, fetchall, to_date, to_ts


def _change(row: aiosqlite.Row) -> LadderChange:
    at = to_ts(row["changed_at"])
    on = to_date(row["changed_on"])
    assert at is not None and on is not None
    return LadderChange(case_id=row["case_id"], colour=row["colour"], previous=row["previous"],
                        due_on=to_date(row["due_on"]), changed_on=on, changed_at=at)


async def current_colours(conn: Conn) -> dict[int, str]:
    """Each case's colour as last recorded (cases never recorded are absent: colour 'none')."""
    rows = await fetchall(conn, "SELECT case_id, colour FROM ladder_changes WHERE id IN"
                                " (SELECT MAX(id) FROM ladder_changes GROUP BY case_id)")
    return {int(r[0]): str(r[1]) for r in rows}


async def changes_of(conn: Conn, case_id: int) -> list[LadderChange]:
    """A case's colour changes, oldest first."""
    rows = await fetchall(conn, "SELECT * FROM ladder_changes WHERE case_id = ? ORDER BY id", (case_id,))
    return [_change(r) for r in rows]


async def latest_changes(conn: Conn, case_ids: Iterable[int] | None = None) -> dict[int, LadderChange]:
    """The latest change of each case (of `case_ids`, or of every case)."""
    rows = await fetchall(conn, "SELECT * FROM ladder_changes WHERE id IN"
                                " (SELECT MAX(id) FROM ladder_changes GROUP BY case_id)")
    wanted = None if case_ids is None else set(case_ids)
    return {r["case_id"]: _change(r) for r in rows if wanted is None or r["case_id"] in wanted}


async def insert_changes(conn: aiosqlite.Connection, changes: Iterable[LadderChange]) -> None:
    await conn.executemany(
        "INSERT INTO ladder_changes (case_id, colour, previous, due_on, changed_on, changed_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [(c.case_id, c.colour, c.previous, c.due_on.isoformat() if c.due_on else None, c.changed_on.isoformat(),
          iso(c.changed_at)) for c in changes],
    )



async def ladder_candidates(conn: Conn, open_statuses: list[str]) -> list[tuple[int, str, date | None]]:
    """(case id, status, report deadline) of every case that may have or had a colour: the cases being
    rectified, and those whose recorded colour is not 'none' yet (closed or reported since)."""
    marks = ",".join("?" * len(open_statuses))
    rows = await fetchall(
        conn,
        f"SELECT id, status, due_on FROM cases WHERE status IN ({marks}) OR id IN ("
        " SELECT case_id FROM ladder_changes WHERE id IN (SELECT MAX(id) FROM ladder_changes GROUP BY case_id)"
        "  AND colour != 'none')",
        open_statuses,
    )
    return [(int(r[0]), str(r[1]), to_date(r[2])) for r in rows]
