"""The 督办 ladder's history: one row per colour change of a case (migration 0007)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

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


async def changes_of(conn: Conn, case_id: int) -> list[LadderChange]:
    """A case's colour changes, oldest first."""
    rows = await fetchall(conn, "SELECT * FROM ladder_changes WHERE case_id = ? ORDER BY id", (case_id,))
    return [_change(r) for r in rows]


async def latest_changes(conn: Conn, case_ids: Iterable[int]) -> dict[int, LadderChange]:
    """The latest change of each of `case_ids` (index `ladder_changes_case`: a probe per case)."""
    ids = list(case_ids)
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = await fetchall(conn, f"SELECT * FROM ladder_changes WHERE id IN (SELECT MAX(id) FROM ladder_changes"
                                f" WHERE case_id IN ({marks}) GROUP BY case_id)", ids)
    return {r["case_id"]: _change(r) for r in rows}


@dataclass(frozen=True)
class Thresholds:
    """The latest report deadline that is 红, 黄 and 蓝 today (None: no deadline is): the ladder's colour
    is monotone in the deadline, so three dates say it for every case."""

    red: date | None
    yellow: date | None
    blue: date | None


_COLOUR_SQL = ("CASE WHEN status NOT IN ({open}) OR due_on IS NULL THEN 'none'"
               " WHEN due_on <= ?1 THEN 'red' WHEN due_on <= ?2 THEN 'yellow'"
               " WHEN due_on <= ?3 THEN 'blue' ELSE 'none' END")  # ?1-?3: the last 红, 黄, 蓝 day
_NEVER = "0000-00-00"  # before every date: "no deadline is this colour today"


def colour_changes_sql(open_statuses: list[str]) -> str:
    """The query of `colour_changes` (tests/test_hot_paths.py checks its plan); ?1-?3: the thresholds."""
    statuses = ",".join(f"'{s}'" for s in open_statuses)  # the enum's own values, never user input
    colour = _COLOUR_SQL.format(open=statuses)
    return (f"SELECT id, {colour} AS colour, ladder_colour, due_on FROM cases"
            f" WHERE ladder_colour = 'none' AND status IN ({statuses}) AND due_on <= ?3 AND {colour} <> ladder_colour"
            f" UNION SELECT id, {colour}, ladder_colour, due_on FROM cases"
            f" WHERE ladder_colour <> 'none' AND {colour} <> ladder_colour")


async def colour_changes(conn: Conn, open_statuses: list[str], limits: Thresholds) -> list[LadderChange]:
    """Every case whose colour today differs from the one on record, without reading the others: the
    uncoloured cases being rectified with a deadline up to the last 蓝 day (partial index
    `cases_uncoloured_due`, a range) and the coloured cases (partial index `cases_ladder`).
    `changed_on`/`changed_at` are filled in by the caller."""
    params = tuple(day.isoformat() if day else _NEVER for day in (limits.red, limits.yellow, limits.blue))
    rows = await fetchall(conn, colour_changes_sql(open_statuses), params)
    epoch = datetime.min.replace(tzinfo=UTC)
    return [LadderChange(case_id=int(r[0]), colour=str(r[1]), previous=str(r[2]), due_on=to_date(r[3]),
                         changed_on=date.min, changed_at=epoch) for r in rows]


async def insert_changes(conn: aiosqlite.Connection, changes: list[LadderChange]) -> None:
    """The history rows and the cases' current colour, together (inside the caller's transaction)."""
    await conn.executemany(
        "INSERT INTO ladder_changes (case_id, colour, previous, due_on, changed_on, changed_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [(c.case_id, c.colour, c.previous, c.due_on.isoformat() if c.due_on else None, c.changed_on.isoformat(),
          iso(c.changed_at)) for c in changes],
    )
    await conn.executemany("UPDATE cases SET ladder_colour = ? WHERE id = ?", [(c.colour, c.case_id) for c in changes])
