"""Rectification cases (整改事项): rows of `cases` in and out as bot.domain.Case.

Repository functions take either the Database (reads) or the transaction's connection (reads
and writes inside `async with db.transaction() as conn`). Dates are stored as ISO strings.
"""

from __future__ import annotations

import functools
import itertools
import json
import operator
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import aiosqlite

from bot.clock import iso
from bot.domain import AuditEntry, Case, CaseStatus, Decision, Grade, LedgerExtras, NewCase, Source
from storage.db import Conn, fetchall, fetchone, to_date, to_ts

CASE_COLUMNS = (
    "department_id", "project", "source", "grade", "findings", "suggestions", "feedback_doc_no",
    "evaluation_ended_on", "feedback_sent_on", "feedback_received_on", "period", "explicit_due_on",
    "feedback_due_on", "feedback_due_provisional", "feedback_due_rule", "due_on", "due_provisional",
    "due_rule", "confidential", "status", "next_action_at", "origin_case_id", "received_by", "received_at",
    "created_by", "created_at", "updated_at",
)
_DATE_FIELDS = frozenset({"evaluation_ended_on", "feedback_sent_on", "feedback_received_on", "explicit_due_on",
                          "feedback_due_on", "due_on"})
_BOOL_FIELDS = frozenset({"feedback_due_provisional", "due_provisional", "confidential"})
_TS_FIELDS = frozenset({"next_action_at", "received_at", "created_at", "updated_at"})

CASE_SQL = "SELECT c.*, d.name AS department_name FROM cases c JOIN departments d ON d.id = c.department_id"



def to_db(field: str, value: Any) -> Any:
    """A Python value as stored in column `field`."""
    if value is None:
        return None
    if field in _DATE_FIELDS:
        return value.isoformat() if isinstance(value, date) else str(value)
    if field in _BOOL_FIELDS:
        return int(bool(value))
    if field in _TS_FIELDS and isinstance(value, datetime):
        return iso(value)
    if isinstance(value, str):
        return str(value)  # StrEnum members are stored as their plain value
    return value


def case_from_row(row: aiosqlite.Row | Mapping[str, Any]) -> Case:
    created = to_ts(row["created_at"])
    updated = to_ts(row["updated_at"])
    assert created is not None and updated is not None
    return Case(
        id=row["id"], department_id=row["department_id"], department_name=row["department_name"],
        project=row["project"], source=Source(row["source"]), grade=Grade(row["grade"]) if row["grade"] else None,
        findings=row["findings"],
        suggestions=row["suggestions"], feedback_doc_no=row["feedback_doc_no"],
        evaluation_ended_on=to_date(row["evaluation_ended_on"]), feedback_sent_on=to_date(row["feedback_sent_on"]),
        feedback_received_on=to_date(row["feedback_received_on"]), period=row["period"],
        explicit_due_on=to_date(row["explicit_due_on"]), feedback_due_on=to_date(row["feedback_due_on"]),
        feedback_due_provisional=bool(row["feedback_due_provisional"]), due_on=to_date(row["due_on"]),
        due_provisional=bool(row["due_provisional"]), due_rule=row["due_rule"],
        confidential=bool(row["confidential"]), status=CaseStatus(row["status"]),
        next_action_at=to_ts(row["next_action_at"]), origin_case_id=row["origin_case_id"],
        created_by=row["created_by"], created_at=created, updated_at=updated,
        feedback_due_rule=row["feedback_due_rule"], received_by=row["received_by"],
        received_at=to_ts(row["received_at"]),
    )


async def get_case(conn: Conn, case_id: int) -> Case | None:
    row = await fetchone(conn, CASE_SQL + " WHERE c.id = ?", (case_id,))
    return case_from_row(row) if row else None


async def list_cases(conn: Conn, *, department_id: int | None = None) -> list[Case]:
    if department_id is None:
        rows = await fetchall(conn, CASE_SQL + " ORDER BY c.id")
    else:
        rows = await fetchall(conn, CASE_SQL + " WHERE c.department_id = ? ORDER BY c.id", (department_id,))
    return [case_from_row(r) for r in rows]


# A department's cases of some statuses in deadline order (no deadline last): read in the order of
# index cases_department_due (migration 0011), which carries the status too, so a page reads only
# the index entries before it and the rows it shows.
_DEPARTMENT_ORDER = " ORDER BY c.due_on IS NULL, c.due_on, c.id"


def _department_where(department_id: int, statuses: Sequence[str]) -> tuple[str, list[Any]]:
    marks = ",".join("?" * len(statuses))
    return f" WHERE c.department_id = ? AND c.status IN ({marks})", [department_id, *statuses]


async def count_department_cases(conn: Conn, department_id: int, statuses: Sequence[str]) -> int:
    """How many cases of the department have one of `statuses` (index cases_department_status only)."""
    where, params = _department_where(department_id, statuses)
    row = await fetchone(conn, "SELECT COUNT(*) FROM cases c" + where, params)
    return int(row[0]) if row else 0


DEPARTMENT_PAGE_SQL = (
    "SELECT c.*, d.name AS department_name FROM cases c INDEXED BY cases_department_due"
    " JOIN departments d ON d.id = c.department_id"
)


async def department_cases_page(conn: Conn, department_id: int, statuses: Sequence[str], *,
                                limit: int, offset: int) -> list[Case]:
    """One page of the department's cases of `statuses`, soonest deadline first (/cases, choosers)."""
    where, params = _department_where(department_id, statuses)
    rows = await fetchall(conn, DEPARTMENT_PAGE_SQL + where + _DEPARTMENT_ORDER + " LIMIT ? OFFSET ?",
                          [*params, limit, offset])
    return [case_from_row(r) for r in rows]


async def provisional_cases(conn: Conn) -> list[Case]:
    rows = await fetchall(
        conn, CASE_SQL + " WHERE c.due_provisional = 1 OR c.feedback_due_provisional = 1 ORDER BY c.id"
    )
    return [case_from_row(r) for r in rows]


async def find_by_key(conn: Conn, department_id: int, project: str, source: str, feedback_doc_no: str) -> Case | None:
    row = await fetchone(
        conn, CASE_SQL + " WHERE c.department_id = ? AND c.project = ? AND c.source = ? AND c.feedback_doc_no = ?",
        (department_id, project, source, feedback_doc_no),
    )
    return case_from_row(row) if row else None


async def existing_keys(conn: Conn, wanted: Iterable[tuple[str, str, str, str]],
                        ) -> dict[tuple[str, str, str, str], int]:
    """(department name, project, source, doc no) → case id for those of `wanted` already in the
    ledger (import dedupe): one query per chunk of keys through the ledger's UNIQUE index, so an
    import's memory follows its file, not the database (issue 14)."""
    found: dict[tuple[str, str, str, str], int] = {}
    keys = list(wanted)
    for start in range(0, len(keys), _KEY_CHUNK):
        rows = await fetchall(conn, EXISTING_KEYS_SQL, (json.dumps(keys[start:start + _KEY_CHUNK],
                                                                   ensure_ascii=False),))
        found.update({(r[1], r[2], r[3], r[4]): int(r[0]) for r in rows})
    return found


_KEY_CHUNK = 5000
# The keys asked for (a JSON array of [department, project, source, doc no]) that are in the ledger:
# per key, the department by its UNIQUE name, then the case by the ledger's UNIQUE identity.
EXISTING_KEYS_SQL = (
    "SELECT c.id, d.name, c.project, c.source, c.feedback_doc_no FROM json_each(?) k"
    " JOIN departments d ON d.name = json_extract(k.value, '$[0]')"
    " JOIN cases c ON c.department_id = d.id AND c.project = json_extract(k.value, '$[1]')"
    " AND c.source = json_extract(k.value, '$[2]')"
    " AND c.feedback_doc_no = json_extract(k.value, '$[3]')"
)


async def case_ids_with_departments(conn: Conn, wanted: Iterable[int]) -> dict[int, tuple[str, str]]:
    """case id → (department name, source) of the ids in `wanted` (the file's, not the database's):
    lets an import recognise rows of an exported ledger."""
    rows = await fetchall(conn, "SELECT c.id, d.name, c.source FROM cases c JOIN departments d"
                                " ON d.id = c.department_id WHERE c.id IN (SELECT value FROM json_each(?))",
                          (json.dumps(sorted(set(wanted))),))
    return {int(r[0]): (r[1], r[2]) for r in rows}


_INSERT_CASE = f"INSERT INTO cases ({', '.join(CASE_COLUMNS)}) VALUES ({', '.join('?' * len(CASE_COLUMNS))})"


def _new_case_values(new: NewCase) -> list[Any]:
    return [to_db(c, getattr(new, c)) for c in CASE_COLUMNS]


async def insert_case(conn: aiosqlite.Connection, new: NewCase) -> int:
    cur = await conn.execute(_INSERT_CASE, _new_case_values(new))
    assert cur.lastrowid is not None
    return cur.lastrowid


async def update_case(conn: aiosqlite.Connection, case_id: int, changes: Mapping[str, Any]) -> None:
    cols = [c for c in changes if c in CASE_COLUMNS]
    if not cols:
        return
    await conn.execute(
        f"UPDATE cases SET {', '.join(f'{c} = ?' for c in cols)} WHERE id = ?",
        [*(to_db(c, changes[c]) for c in cols), case_id],
    )




async def case_history(conn: Conn, case_id: int) -> list[AuditEntry]:
    """Every audit row about this case, oldest first (the case's full history)."""
    rows = await fetchall(
        conn, "SELECT at, actor, action, before, after FROM audit_log WHERE entity = 'case' AND entity_id = ?"
        " ORDER BY id", (case_id,),
    )
    return [AuditEntry(datetime.fromisoformat(r[0]), r[1], r[2], r[3], r[4]) for r in rows]




async def feedback_sender(conn: Conn, case_id: int) -> str | None:
    """The audit actor (person:N, cli) who sent the case's feedback: with /feedback, or at registration
    (the cards go out with /new when the feedback date is given); None for imported cases."""
    row = await fetchone(
        conn, "SELECT actor FROM audit_log WHERE entity = 'case' AND entity_id = ?"
        " AND action IN ('case.feedback_sent', 'case.register') ORDER BY id DESC LIMIT 1", (case_id,),
    )
    return str(row[0]) if row else None


async def ledger_extras(conn: Conn) -> dict[int, LedgerExtras]:
    rows = await fetchall(
        conn,
        """
        SELECT r.case_id,
               MAX(r.submitted_on) AS reported_on,
               (SELECT v.decision FROM reviews v JOIN reports r2 ON r2.id = v.report_id
                 WHERE r2.case_id = r.case_id ORDER BY v.decided_at DESC, v.id DESC LIMIT 1) AS decision,
               (SELECT v.note FROM reviews v JOIN reports r2 ON r2.id = v.report_id
                 WHERE r2.case_id = r.case_id ORDER BY v.decided_at DESC, v.id DESC LIMIT 1) AS note
        FROM reports r GROUP BY r.case_id
        """,
    )
    return {int(r[0]): LedgerExtras(to_date(r[1]), Decision(r[2]) if r[2] else None, r[3]) for r in rows}


async def liaison_names_by_department(conn: Conn) -> dict[int, list[str]]:
    rows = await fetchall(
        conn, "SELECT department_id, name FROM people WHERE role = 'liaison' AND active = 1 ORDER BY id"
    )
    out: dict[int, list[str]] = {}
    for r in rows:
        out.setdefault(int(r[0]), []).append(r[1])
    return out


async def person_names(conn: Conn, person_ids: Iterable[int]) -> dict[int, str]:
    ids = sorted(set(person_ids))
    if not ids:
        return {}
    rows = await fetchall(conn, f"SELECT id, name FROM people WHERE id IN ({','.join('?' * len(ids))})", ids)
    return {int(r[0]): r[1] for r in rows}


async def count_cases(conn: Conn) -> int:
    row = await fetchone(conn, "SELECT count(*) FROM cases")
    return int(row[0]) if row else 0


class ImportRows:
    """Ledger rows as `import_case_rows` inserts them: the department's *name* first (resolved
    in SQL, so a batch can be built before its new departments exist), then CASE_COLUMNS[1:] as stored
    (`to_db`), each distinct date and timestamp converted once (an import repeats a few hundred)."""

    def __init__(self) -> None:
        self._dates: dict[date, str] = {}
        self._stamps: dict[datetime, str] = {}

    def row(self, department: str, new: NewCase, next_action_at: datetime | None) -> list[Any]:
        values: list[Any] = [department, *_IMPORT_GET(new)]
        values[_NEXT_ACTION] = next_action_at
        dates, stamps = self._dates, self._stamps
        for i in _IMPORT_DATES:
            v = values[i]
            if v is not None:
                text = dates.get(v)
                if text is None:
                    text = dates[v] = v.isoformat()
                values[i] = text
        for i in _IMPORT_STAMPS:
            v = values[i]
            if v is not None:
                text = stamps.get(v)
                if text is None:
                    text = stamps[v] = iso(v)
                values[i] = text
        for i in _IMPORT_BOOLS:
            values[i] = int(bool(values[i]))
        for i in _IMPORT_ENUMS:
            v = values[i]
            if v is not None:
                values[i] = str(v)   # StrEnum members are stored as their plain value
        return values

    def with_texts(self, template: list[Any], department: str, project: str, findings: str, suggestions: str,
                   feedback_doc_no: str) -> list[Any]:
        """A row equal to `template` (a `row` of a case with the same dates, source, grade, period and
        confidentiality) but for the department and the free texts, which nothing else is computed from."""
        values = template.copy()
        values[0] = department
        values[_PROJECT] = project
        values[_FINDINGS] = findings
        values[_SUGGESTIONS] = suggestions
        values[_DOC_NO] = feedback_doc_no
        return values


_PROJECT, _FINDINGS, _SUGGESTIONS, _DOC_NO = (CASE_COLUMNS.index(c)
                                              for c in ("project", "findings", "suggestions", "feedback_doc_no"))
_IMPORT_GET = operator.attrgetter(*CASE_COLUMNS[1:])
_NEXT_ACTION = CASE_COLUMNS.index("next_action_at")
_IMPORT_DATES = tuple(i for i, c in enumerate(CASE_COLUMNS) if c in _DATE_FIELDS)
_IMPORT_STAMPS = tuple(i for i, c in enumerate(CASE_COLUMNS) if c in _TS_FIELDS)
_IMPORT_BOOLS = tuple(i for i, c in enumerate(CASE_COLUMNS) if c in _BOOL_FIELDS)
_IMPORT_ENUMS = tuple(CASE_COLUMNS.index(c) for c in ("source", "grade", "status"))

# Rows a statement: one INSERT … VALUES of many rows is one sqlite3_step with the GIL released
# throughout (an executemany takes the GIL back for every row, so it waits on the event loop's
# Python between rows; json_each with a json_extract a column cost SQLite 14 µs a row more).
# 27 parameters a row: 1,000 rows stay under SQLite's 32,766 parameters a statement.
IMPORT_STATEMENT_ROWS = 1000


@functools.lru_cache(maxsize=4)
def import_cases_sql(rows: int) -> str:
    """The INSERT of `rows` ImportRows rows: the department by its UNIQUE name, ON CONFLICT on the
    ledger identity doing nothing (the same text for every full batch: SQLite's statement cache keeps it)."""
    one = "((SELECT d.id FROM departments d WHERE d.name = ?), " + ", ".join("?" * (len(CASE_COLUMNS) - 1)) + ")"
    return (f"INSERT INTO cases ({', '.join(CASE_COLUMNS)}) VALUES " + ", ".join([one] * rows)
            + " ON CONFLICT (department_id, project, source, feedback_doc_no) DO NOTHING")


# Each inserted case's `case.import` audit row: its columns as stored, as one JSON object (the
# same keys and values the per-row json.dumps wrote; SQLite's JSON has no spaces after , and :).
IMPORT_AUDIT_SQL = (
    "INSERT INTO audit_log (at, actor, action, entity, entity_id, before, after)"
    " SELECT ?, ?, 'case.import', 'case', id, NULL, json_object("
    + ", ".join(f"'{c}', {c}" for c in CASE_COLUMNS)
    + ") FROM cases WHERE id > ? ORDER BY id"
)


async def import_case_rows(conn: aiosqlite.Connection, rows: Sequence[Sequence[Any]], *, actor: str, at: str,
                           ) -> int:
    """Insert ledger rows that are not there yet (`ImportRows` rows), each with its
    `case.import` audit row; returns how many were actually inserted.

    Set-based: one INSERT … VALUES a `IMPORT_STATEMENT_ROWS` cases, one INSERT … SELECT for their audit
    rows (inside the caller's transaction the new rows are exactly those above the largest id before),
    whose count is the answer: few round trips, as each waits for the event loop's next turn."""
    before = await fetchone(conn, "SELECT COALESCE(MAX(id), 0) FROM cases")
    first = int(before[0]) if before else 0
    for start in range(0, len(rows), IMPORT_STATEMENT_ROWS):
        part = rows[start:start + IMPORT_STATEMENT_ROWS]
        await conn.execute(import_cases_sql(len(part)), list(itertools.chain.from_iterable(part)))
    audited = await conn.execute(IMPORT_AUDIT_SQL, (at, actor, first))
    return audited.rowcount
