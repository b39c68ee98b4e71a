"""Reports (整改落实情况报告), their evidence files, reviews and extension requests.

Reads take the Database or a transaction's connection; writes take the connection of the
caller's `async with db.transaction()`. Dates are ISO strings in the table, `date` here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import aiosqlite

from bot.domain import (
    Decision,
    EvidenceFile,
    ExtensionRequest,
    ExtensionState,
    ItemStatus,
    Progress,
    Report,
    ReportItem,
    ReportState,
    Review,
    Step,
)
from bot.errors import N_, DomainError
from storage.db import Conn, fetchall, fetchone, to_date, to_ts

# --------------------------------------------------------------------------- reports




_REPORT_SQL = "SELECT r.*, p.name AS author_name FROM reports r JOIN people p ON p.id = r.author_id"
REPORT_COLUMNS = frozenset({"state", "step", "measures", "progress", "reason", "updated_at", "submitted_at",
                            "submitted_on", "on_time", "round"})


def _report(row: aiosqlite.Row) -> Report:
    created, updated = to_ts(row["created_at"]), to_ts(row["updated_at"])
    assert created is not None and updated is not None
    return Report(
        id=row["id"], case_id=row["case_id"], author_id=row["author_id"], author_name=row["author_name"],
        state=ReportState(row["state"]), step=Step(row["step"]), measures=row["measures"],
        progress=Progress(row["progress"]) if row["progress"] else None,
        reason=row["reason"], created_at=created, updated_at=updated, submitted_at=to_ts(row["submitted_at"]),
        submitted_on=to_date(row["submitted_on"]), on_time=None if row["on_time"] is None else bool(row["on_time"]),
        round=row["round"],
    )


async def get_report(conn: Conn, report_id: int) -> Report | None:
    row = await fetchone(conn, _REPORT_SQL + " WHERE r.id = ?", (report_id,))
    return _report(row) if row else None


async def draft_of(conn: Conn, case_id: int, author_id: int) -> Report | None:
    row = await fetchone(conn, _REPORT_SQL + " WHERE r.case_id = ? AND r.author_id = ? AND r.state = 'draft'",
                          (case_id, author_id))
    return _report(row) if row else None


async def latest_draft_of(conn: Conn, author_id: int) -> Report | None:
    """The draft this person touched last (what /report resumes)."""
    row = await fetchone(
        conn, _REPORT_SQL + " WHERE r.author_id = ? AND r.state = 'draft' ORDER BY r.updated_at DESC, r.id DESC"
        " LIMIT 1", (author_id,),
    )
    return _report(row) if row else None


async def submitted_report_of_case(conn: Conn, case_id: int) -> Report | None:
    row = await fetchone(conn, _REPORT_SQL + " WHERE r.case_id = ? AND r.state = 'submitted' ORDER BY r.id DESC"
                          " LIMIT 1", (case_id,))
    return _report(row) if row else None


async def awaiting_review(conn: Conn) -> list[Report]:
    rows = await fetchall(conn, _REPORT_SQL + " WHERE r.state = 'submitted' ORDER BY r.submitted_at, r.id")
    return [_report(r) for r in rows]


async def insert_draft(conn: aiosqlite.Connection, case_id: int, author_id: int, at: str, *,
                       measures: str = "", round_no: int = 1) -> int:
    cur = await conn.execute(
        "INSERT INTO reports (case_id, author_id, state, step, measures, round, created_at, updated_at)"
        " VALUES (?, ?, 'draft', 'measures', ?, ?, ?, ?)", (case_id, author_id, measures, round_no, at, at),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


async def next_round(conn: Conn, case_id: int) -> int:
    """The number the case's next submission takes: 1 + its non-draft reports."""
    row = await fetchone(conn, "SELECT count(*) FROM reports WHERE case_id = ? AND state != 'draft'", (case_id,))
    return 1 + int(row[0]) if row else 1


async def latest_decided_report(conn: Conn, case_id: int, *, before_id: int | None = None) -> Report | None:
    """The case's last decided report (returned, non-compliant), optionally the last one before report
    `before_id`: what a resubmission starts from, and whose review explains it."""
    sql = _REPORT_SQL + " WHERE r.case_id = ? AND r.state NOT IN ('draft', 'submitted')"
    params: list[Any] = [case_id]
    if before_id is not None:
        sql += " AND r.id < ?"
        params.append(before_id)
    row = await fetchone(conn, sql + " ORDER BY r.id DESC LIMIT 1", params)
    return _report(row) if row else None


async def copy_evidence(conn: aiosqlite.Connection, from_report: int, to_report: int, at: str) -> int:
    """Reference the earlier report's files from a new draft (rows copied; the stored files are shared)."""
    cur = await conn.execute(
        "INSERT INTO evidence_files (report_id, file_name, mime_type, size, sha256, path, telegram_file_id,"
        " created_at) SELECT ?, file_name, mime_type, size, sha256, path, telegram_file_id, ? FROM evidence_files"
        " WHERE report_id = ? ORDER BY id", (to_report, at, from_report),
    )
    return cur.rowcount


async def update_report(conn: aiosqlite.Connection, report_id: int, changes: Mapping[str, Any]) -> None:
    cols = [c for c in changes if c in REPORT_COLUMNS]
    if not cols:
        return
    values = []
    for c in cols:
        v = changes[c]
        if isinstance(v, date) and not isinstance(v, datetime):
            v = v.isoformat()
        elif isinstance(v, bool):
            v = int(v)
        values.append(v)
    await conn.execute(f"UPDATE reports SET {', '.join(f'{c} = ?' for c in cols)} WHERE id = ?",
                       [*values, report_id])


async def delete_draft(conn: aiosqlite.Connection, report_id: int) -> None:
    """A cancelled draft leaves nothing behind but its audit row (and files shared by content)."""
    await conn.execute("DELETE FROM evidence_files WHERE report_id = ?", (report_id,))
    await conn.execute("DELETE FROM report_items WHERE report_id = ?", (report_id,))
    await conn.execute("DELETE FROM reports WHERE id = ? AND state = 'draft'", (report_id,))


# --------------------------------------------------------------------------- items (逐条整改)


def _item(row: aiosqlite.Row) -> ReportItem:
    return ReportItem(report_id=row["report_id"], item_no=row["item_no"], measures=row["measures"],
                      status=ItemStatus(row["status"]) if row["status"] else None)


async def items_of(conn: Conn, report_id: int) -> list[ReportItem]:
    rows = await fetchall(conn, "SELECT * FROM report_items WHERE report_id = ? ORDER BY item_no", (report_id,))
    return [_item(r) for r in rows]


async def insert_items(conn: aiosqlite.Connection, report_id: int, measures: list[str]) -> None:
    """One row per numbered finding, item 1 first, with the measures a resubmission starts from."""
    await conn.executemany("INSERT INTO report_items (report_id, item_no, measures) VALUES (?, ?, ?)",
                           [(report_id, n, text) for n, text in enumerate(measures, start=1)])


async def update_item(conn: aiosqlite.Connection, report_id: int, item_no: int, *, measures: str,
                      status: str | None) -> None:
    await conn.execute("UPDATE report_items SET measures = ?, status = ? WHERE report_id = ? AND item_no = ?",
                       (measures, status, report_id, item_no))


async def clear_item_statuses(conn: aiosqlite.Connection, report_id: int) -> None:
    await conn.execute("UPDATE report_items SET status = NULL WHERE report_id = ?", (report_id,))


# --------------------------------------------------------------------------- evidence




def _evidence(row: aiosqlite.Row) -> EvidenceFile:
    created = to_ts(row["created_at"])
    assert created is not None
    return EvidenceFile(
        id=row["id"], report_id=row["report_id"], file_name=row["file_name"], mime_type=row["mime_type"],
        size=row["size"], sha256=row["sha256"], path=row["path"], telegram_file_id=row["telegram_file_id"],
        created_at=created,
    )


async def insert_evidence(
    conn: aiosqlite.Connection, *, report_id: int, file_name: str, mime_type: str, size: int, sha256: str,
    path: str, telegram_file_id: str | None, at: str,
) -> int:
    cur = await conn.execute(
        "INSERT INTO evidence_files (report_id, file_name, mime_type, size, sha256, path, telegram_file_id,"
        " created_at) VALUES (?,?,?,?,?,?,?,?)",
        (report_id, file_name, mime_type, size, sha256, path, telegram_file_id, at),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


async def evidence_of(conn: Conn, report_id: int) -> list[EvidenceFile]:
    rows = await fetchall(conn, "SELECT * FROM evidence_files WHERE report_id = ? ORDER BY id", (report_id,))
    return [_evidence(r) for r in rows]


async def delete_evidence(conn: aiosqlite.Connection, report_id: int) -> int:
    cur = await conn.execute("DELETE FROM evidence_files WHERE report_id = ?", (report_id,))
    return cur.rowcount


# --------------------------------------------------------------------------- reviews




_REVIEW_SQL = "SELECT v.*, p.name AS reviewer_name FROM reviews v JOIN people p ON p.id = v.reviewer_id"


def _review(row: aiosqlite.Row) -> Review:
    decided = to_ts(row["decided_at"])
    assert decided is not None
    return Review(id=row["id"], report_id=row["report_id"], reviewer_id=row["reviewer_id"],
                  reviewer_name=row["reviewer_name"], decision=Decision(row["decision"]), note=row["note"],
                  new_due_on=to_date(row["new_due_on"]), decided_at=decided)


async def review_of(conn: Conn, report_id: int) -> Review | None:
    row = await fetchone(conn, _REVIEW_SQL + " WHERE v.report_id = ?", (report_id,))
    return _review(row) if row else None


async def reviews_of_case(conn: Conn, case_id: int) -> list[Review]:
    rows = await fetchall(conn, _REVIEW_SQL + " JOIN reports r ON r.id = v.report_id WHERE r.case_id = ?"
                                               " ORDER BY v.id", (case_id,))
    return [_review(r) for r in rows]


async def insert_review(
    conn: aiosqlite.Connection, *, report_id: int, reviewer_id: int, decision: str, note: str,
    new_due_on: date | None, at: str,
) -> int:
    """The UNIQUE(report_id) constraint is the real guard of "the first decision counts"."""
    try:
        cur = await conn.execute(
            "INSERT INTO reviews (report_id, reviewer_id, decision, note, new_due_on, decided_at)"
            " VALUES (?,?,?,?,?,?)",
            (report_id, reviewer_id, decision, note, new_due_on.isoformat() if new_due_on else None, at),
        )
    except sqlite3.IntegrityError:
        raise DomainError(N_("This report was already decided.")) from None
    assert cur.lastrowid is not None
    return cur.lastrowid


# --------------------------------------------------------------------------- extension requests




_EXT_SQL = "SELECT e.*, p.name AS requester_name FROM extension_requests e JOIN people p ON p.id = e.requester_id"


def _extension(row: aiosqlite.Row) -> ExtensionRequest:
    created, proposed = to_ts(row["created_at"]), to_date(row["proposed_due_on"])
    assert created is not None and proposed is not None
    return ExtensionRequest(
        id=row["id"], case_id=row["case_id"], requester_id=row["requester_id"],
        requester_name=row["requester_name"], reason=row["reason"], proposed_due_on=proposed,
        previous_due_on=to_date(row["previous_due_on"]), state=ExtensionState(row["state"]),
        decided_by=row["decided_by"],
        granted_due_on=to_date(row["granted_due_on"]), decision_note=row["decision_note"], created_at=created,
        decided_at=to_ts(row["decided_at"]),
    )


async def get_extension(conn: Conn, request_id: int) -> ExtensionRequest | None:
    row = await fetchone(conn, _EXT_SQL + " WHERE e.id = ?", (request_id,))
    return _extension(row) if row else None


async def pending_extension_of(conn: Conn, case_id: int) -> ExtensionRequest | None:
    row = await fetchone(conn, _EXT_SQL + " WHERE e.case_id = ? AND e.state = 'pending'", (case_id,))
    return _extension(row) if row else None


async def extensions_of_case(conn: Conn, case_id: int) -> list[ExtensionRequest]:
    rows = await fetchall(conn, _EXT_SQL + " WHERE e.case_id = ? ORDER BY e.id", (case_id,))
    return [_extension(r) for r in rows]


async def insert_extension(
    conn: aiosqlite.Connection, *, case_id: int, requester_id: int, reason: str, proposed_due_on: date,
    previous_due_on: date | None, at: str,
) -> int:
    cur = await conn.execute(
        "INSERT INTO extension_requests (case_id, requester_id, reason, proposed_due_on, previous_due_on, state,"
        " created_at) VALUES (?,?,?,?,?, 'pending', ?)",
        (case_id, requester_id, reason, proposed_due_on.isoformat(),
         previous_due_on.isoformat() if previous_due_on else None, at),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


async def decide_extension(
    conn: aiosqlite.Connection, request_id: int, *, state: str, decided_by: int, granted_due_on: date | None,
    note: str | None, at: str,
) -> bool:
    """Record the decision; False when someone decided first (only a pending request can be decided)."""
    cur = await conn.execute(
        "UPDATE extension_requests SET state = ?, decided_by = ?, granted_due_on = ?, decision_note = ?,"
        " decided_at = ? WHERE id = ? AND state = 'pending'",
        (state, decided_by, granted_due_on.isoformat() if granted_due_on else None, note, at, request_id),
    )
    return cur.rowcount == 1


# --------------------------------------------------------------------------- lookups for other features


async def case_of_message(conn: Conn, person_id: int, telegram_message_id: int) -> int | None:
    """The case a bot message to this person was about (a reminder, a feedback card…), if any; None
    too when the message listed several cases (one message per sweep, issue 14): the reply then
    gets a case chooser instead of a guess."""
    found = await fetchall(
        conn, "SELECT DISTINCT case_id FROM outbox WHERE person_id = ? AND telegram_message_id = ?"
        " AND case_id IS NOT NULL LIMIT 2", (person_id, telegram_message_id),
    )
    return int(found[0][0]) if len(found) == 1 else None


async def spot_check_candidates(conn: Conn) -> list[int]:
    """Closed cases that are not spot checks themselves and were never drawn, by id."""
    rows = await fetchall(
        conn, "SELECT c.id FROM cases c WHERE c.status = 'closed' AND c.source != 'spot_check'"
        " AND NOT EXISTS (SELECT 1 FROM cases s WHERE s.origin_case_id = c.id) ORDER BY c.id",
    )
    return [int(r[0]) for r in rows]


async def cases_with_status(conn: Conn, statuses: Iterable[str], *, department_id: int | None = None) -> list[int]:
    marks = list(statuses)
    sql = f"SELECT id FROM cases WHERE status IN ({','.join('?' * len(marks))})"
    params: list[Any] = list(marks)
    if department_id is not None:
        sql += " AND department_id = ?"
        params.append(department_id)
    rows = await fetchall(conn, sql + " ORDER BY due_on IS NULL, due_on, id", params)
    return [int(r[0]) for r in rows]
