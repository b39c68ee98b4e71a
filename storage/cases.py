"""Rectification cases (整改事项): rows of `cases` in and out as bot.domain.Case.

Repository functions take either the Database (reads) or the transaction's connection (reads
and writes inside `async with db.transaction() as conn`). Dates are stored as ISO strings.
"""

from __future__ import annotations

import json
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


def _bulk_case_values(rows: Sequence[NewCase]) -> list[list[Any]]:
    """`_new_case_values` for many rows (an import): the same values, but each distinct timestamp
    converted once (an import stamps every row with the same few), not four times a row."""
    stamps: dict[datetime, str] = {}

    def value(field: str, v: Any) -> Any:
        if field in _TS_FIELDS and isinstance(v, datetime):
            text = stamps.get(v)
            if text is None:
                text = stamps[v] = iso(v)
            return text
        return to_db(field, v)

    return [[value(c, getattr(new, c)) for c in CASE_COLUMNS] for new in rows]


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


async def import_cases(
    conn: aiosqlite.Connection, rows: Sequence[NewCase], *, actor: str, at: str,
) -> list[int]:
    """Insert ledger rows that are not there yet (ON CONFLICT on the ledger identity does nothing),
    each with its `case.import` audit row; returns the ids of the rows actually inserted.

    Set-based: one executemany for the cases, one query for the ids they got (inside the caller's
    transaction the new rows are exactly those above the largest id before), one executemany for
    the audit rows."""
    if not rows:
        return []
    values = _bulk_case_values(rows)
    before = await fetchone(conn, "SELECT COALESCE(MAX(id), 0) FROM cases")
    first = int(before[0]) if before else 0
    await conn.executemany(
        _INSERT_CASE + " ON CONFLICT (department_id, project, source, feedback_doc_no) DO NOTHING", values,
    )
    by_ident = {(v[0], v[1], v[2], v[6]): v for v in values}   # department_id, project, source, feedback_doc_no
    found = await fetchall(conn, "SELECT id, department_id, project, source, feedback_doc_no FROM cases"
                                 " WHERE id > ? ORDER BY id", (first,))
    ids = [int(r[0]) for r in found]
    audits = [(at, actor, "case.import", "case", int(r[0]), None,
               json.dumps(dict(zip(CASE_COLUMNS, by_ident[(r[1], r[2], r[3], r[4])], strict=True)),
                          ensure_ascii=False, default=str)) for r in found]
    if audits:
        await conn.executemany(
            "INSERT INTO audit_log (at, actor, action, entity, entity_id, before, after) VALUES (?,?,?,?,?,?,?)",
            audits,
        )
    return ids
