"""The notification outbox: claiming, recording and cleaning up rows (SQL only, no policy).

State machine of a row: pending → sending → sent, with sending → pending again (retry, or
recovery after a crash), and pending/sending → dropped (recipient unreachable, superseded by a
newer reminder, expired) or → failed (the channel refused the message for good). `enqueue` is
INSERT … ON CONFLICT(key) DO NOTHING, so a repeated sweep or a restart cannot enqueue one twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import aiosqlite

from bot.clock import iso
from bot.domain import Notification, OutboxRow, OutboxState
from storage.db import Conn, fetchall


async def enqueue(conn: aiosqlite.Connection, notifications: Iterable[Notification], *, now: datetime) -> int:
    """Insert inside the caller's transaction; a notification whose key is already there is ignored.

    One executemany for all of them (its rowcount sums the rows actually inserted). A payload shared
    by several notifications (one case's message to each recipient) is serialised once."""
    created = iso(now)
    notifications = list(notifications)  # kept alive while id(payload) keys the cache below
    texts: dict[int, str] = {}   # id(payload) → JSON
    stamps: dict[datetime, str] = {}
    rows = []
    for n in notifications:
        text = texts.get(id(n.payload))
        if text is None:
            text = texts[id(n.payload)] = json.dumps(dict(n.payload), ensure_ascii=False, default=str)
        stamp = stamps.get(n.not_before)
        if stamp is None:
            stamp = stamps[n.not_before] = iso(n.not_before)
        rows.append((n.key, n.person_id, n.case_id, n.kind, text, stamp, created))
    if not rows:
        return 0
    cur = await conn.executemany(
        "INSERT INTO outbox (key, person_id, case_id, kind, payload, not_before, created_at)"
        " VALUES (?,?,?,?,?,?,?) ON CONFLICT(key) DO NOTHING", rows,
    )
    return max(cur.rowcount, 0)


_ROW_SQL = (
    "SELECT o.*, p.telegram_id, p.locale, p.reachable AS reachable FROM outbox o JOIN people p ON p.id = o.person_id"
)


def _row(r: aiosqlite.Row) -> OutboxRow:
    return OutboxRow(
        id=r["id"], key=r["key"], person_id=r["person_id"], case_id=r["case_id"], kind=r["kind"],
        payload=json.loads(r["payload"] or "{}"), state=OutboxState(r["state"]),
        not_before=datetime.fromisoformat(r["not_before"]), attempts=r["attempts"], last_error=r["last_error"],
        telegram_message_id=r["telegram_message_id"], created_at=datetime.fromisoformat(r["created_at"]),
        sent_at=datetime.fromisoformat(r["sent_at"]) if r["sent_at"] else None,
        telegram_id=r["telegram_id"], locale=r["locale"], reachable=bool(r["reachable"]),
    )



async def due_rows(db: Conn, now: datetime, *, exclude_kinds: Iterable[str] = (), limit: int = 500,
                   per_person: int | None = None) -> list[OutboxRow]:
    """Pending rows whose not_before has come, oldest first (`exclude_kinds`: outside the send window).

    `per_person` keeps at most that many of each recipient's oldest rows (a window function, one
    query): a chat can take one message a second, so a person with a hundred rows must not fill
    the batch and hold everybody else's back for a hundred seconds."""
    excluded = sorted(set(exclude_kinds))
    where = " WHERE o.state = 'pending' AND o.not_before <= ?"
    params: list[Any] = [iso(now)]
    if excluded:
        where += f" AND o.kind NOT IN ({','.join('?' * len(excluded))})"
        params += excluded
    if per_person is None:
        sql = _ROW_SQL + where + " ORDER BY o.not_before, o.id LIMIT ?"
        params.append(limit)
    else:
        nth = "ROW_NUMBER() OVER (PARTITION BY o.person_id ORDER BY o.not_before, o.id) AS nth"
        sql = ("SELECT * FROM (" + _ROW_SQL.replace("SELECT o.*,", f"SELECT o.*, {nth},") + where
               + ") WHERE nth <= ? ORDER BY not_before, id LIMIT ?")
        params += [per_person, limit]
    return [_row(r) for r in await fetchall(db, sql, params)]


async def next_not_before(db: Conn, *, exclude_kinds: Iterable[str] = ()) -> datetime | None:
    """When the earliest pending row becomes due (None when nothing is pending)."""
    excluded = sorted(set(exclude_kinds))
    sql = "SELECT min(not_before) FROM outbox WHERE state = 'pending'"
    if excluded:
        sql += f" AND kind NOT IN ({','.join('?' * len(excluded))})"
    rows = await fetchall(db, sql, excluded)
    value = rows[0][0] if rows else None
    return datetime.fromisoformat(value) if value else None


async def get_row(db: Conn, outbox_id: int) -> OutboxRow | None:
    rows = await fetchall(db, _ROW_SQL + " WHERE o.id = ?", (outbox_id,))
    return _row(rows[0]) if rows else None


async def row_for_message(db: Conn, person_id: int, telegram_message_id: int) -> OutboxRow | None:
    """The notification that produced a message in a person's chat (to recognise replies to reminders)."""
    rows = await fetchall(
        db, _ROW_SQL + " WHERE o.person_id = ? AND o.telegram_message_id = ? ORDER BY o.id DESC LIMIT 1",
        (person_id, telegram_message_id),
    )
    return _row(rows[0]) if rows else None


async def rows(db: Conn, *, kind: str | None = None, state: str | None = None,
               case_id: int | None = None) -> list[OutboxRow]:
    """Rows filtered for reports and tests, in id order."""
    where, params = [], []
    for column, value in (("o.kind", kind), ("o.state", state), ("o.case_id", case_id)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    sql = _ROW_SQL + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY o.id"
    return [_row(r) for r in await fetchall(db, sql, params)]


async def keys_for_case(db: Conn, case_id: int) -> frozenset[str]:
    """Every key ever enqueued for a case, whatever became of it (the policy's "already sent")."""
    found = await fetchall(db, "SELECT key FROM outbox WHERE case_id = ?", (case_id,))
    return frozenset(r[0] for r in found)


KEYS_FOR_CASES_SQL = ("SELECT case_id, key, id, state = 'pending', kind FROM outbox"
                      " WHERE case_id IN (SELECT value FROM json_each(?))")


async def enqueued_for_cases(
    db: Conn, case_ids: Iterable[int], kinds: Iterable[str],
) -> tuple[dict[int, frozenset[str]], dict[int, list[tuple[int, str]]]]:
    """For a sweep batch, in one query: every key ever enqueued per case (the policy's "already
    sent"), and the (id, key) of each case's rows still pending of these kinds. Read inside the
    sweep's transaction, the pending rows are exactly those a drop would find, so the sweep drops
    by id and only when there is something to drop (usually nothing)."""
    wanted = sorted(set(case_ids))
    kinds_s = set(kinds)
    found: dict[int, set[str]] = {c: set() for c in wanted}
    pending: dict[int, list[tuple[int, str]]] = {}
    for case_id, key, row_id, is_pending, kind in await fetchall(db, KEYS_FOR_CASES_SQL, (json.dumps(wanted),)):
        found[case_id].add(key)
        if is_pending and kind in kinds_s:
            pending.setdefault(case_id, []).append((row_id, key))
    return {c: frozenset(keys) for c, keys in found.items()}, pending


# `+state`: the rows are found by id; the planner would otherwise read every pending row through outbox_pending.
DROP_PENDING_IDS_SQL = ("UPDATE outbox SET state = 'dropped', last_error = ? WHERE +state = 'pending'"
                        " AND id IN (SELECT value FROM json_each(?))")


async def drop_pending_ids(conn: aiosqlite.Connection, ids: Iterable[int], reason: str) -> int:
    """pending → dropped for these rows (the sweep's superseded or no longer needed reminders)."""
    wanted = sorted(set(ids))
    if not wanted:
        return 0
    cur = await conn.execute(DROP_PENDING_IDS_SQL, (reason, json.dumps(wanted)))
    return cur.rowcount


async def claim(conn: aiosqlite.Connection, outbox_id: int) -> bool:
    """pending → sending, counting the attempt; False when someone else took or dropped it."""
    cur = await conn.execute(
        "UPDATE outbox SET state = 'sending', attempts = attempts + 1 WHERE id = ? AND state = 'pending'",
        (outbox_id,),
    )
    return cur.rowcount == 1


# The person's own pending rows (a handful, or a supervisor's hundred), never every due row: the
# planner would otherwise take outbox_pending (state, not_before), which after a sweep holds thousands.
CLAIM_GROUP_SQL = (
    "UPDATE outbox INDEXED BY outbox_pending_person SET state = 'sending', attempts = attempts + 1"
    " WHERE person_id = ? AND state = 'pending' AND kind = ? AND created_at = ? AND not_before <= ? RETURNING id"
)


async def claim_group(conn: aiosqlite.Connection, person_id: int, kind: str, created_at: datetime,
                      now: datetime) -> list[int]:
    """pending → sending for every due row of one person, kind and sweep (rows enqueued together share
    created_at), counting the attempt; the ids claimed, in id order (empty when someone else took them).

    One message then carries them all (issue 14: one message per person per sweep); each row keeps
    its own key, so each case's step is still recorded exactly once."""
    found = await fetchall(conn, CLAIM_GROUP_SQL, (person_id, kind, iso(created_at), iso(now)))
    return sorted(int(r[0]) for r in found)


async def sending_rows_of_group(db: Conn, person_id: int, kind: str, created_at: datetime) -> list[OutboxRow]:
    """The rows of one person, kind and sweep caught `sending` (to retry them after an unexpected error)."""
    return [_row(r) for r in await fetchall(
        db, _ROW_SQL + " WHERE o.person_id = ? AND o.kind = ? AND o.created_at = ? AND o.state = 'sending'"
        " ORDER BY o.id", (person_id, kind, iso(created_at)),
    )]


async def rows_by_ids(db: Conn, ids: Iterable[int]) -> list[OutboxRow]:
    """The rows with these ids, in id order (one query)."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    sql = _ROW_SQL + " WHERE o.id IN (SELECT value FROM json_each(?)) ORDER BY o.id"
    return [_row(r) for r in await fetchall(db, sql, (json.dumps(wanted),))]


async def rows_for_message(db: Conn, person_id: int, telegram_message_id: int) -> list[OutboxRow]:
    """Every notification one message in a person's chat carried (several when it listed many cases)."""
    return [_row(r) for r in await fetchall(
        db, _ROW_SQL + " WHERE o.person_id = ? AND o.telegram_message_id = ? ORDER BY o.id",
        (person_id, telegram_message_id),
    )]


async def mark_sent_many(conn: aiosqlite.Connection, ids: Iterable[int], message_id: int | None,
                         now: datetime) -> None:
    """Every row one message carried → sent with that message's id (one statement)."""
    await conn.execute(
        "UPDATE outbox SET state = 'sent', telegram_message_id = ?, sent_at = ?, last_error = NULL"
        " WHERE id IN (SELECT value FROM json_each(?))",
        (message_id, iso(now), json.dumps(sorted(set(ids)))),
    )


async def mark_retry_many(conn: aiosqlite.Connection, ids: Iterable[int], not_before: datetime, error: str) -> None:
    """`mark_retry` for every row of one message."""
    await conn.execute(
        "UPDATE outbox SET state = 'pending', not_before = ?, last_error = ?"
        " WHERE id IN (SELECT value FROM json_each(?))",
        (iso(not_before), error[:500], json.dumps(sorted(set(ids)))),
    )


async def mark_final_many(conn: aiosqlite.Connection, ids: Iterable[int], state: str, reason: str) -> None:
    """`mark_final` for every row of one message."""
    assert state in ("dropped", "failed")
    await conn.execute("UPDATE outbox SET state = ?, last_error = ? WHERE id IN (SELECT value FROM json_each(?))",
                       (state, reason[:500], json.dumps(sorted(set(ids)))))


async def mark_sent(conn: aiosqlite.Connection, outbox_id: int, message_id: int | None, now: datetime) -> None:
    await conn.execute(
        "UPDATE outbox SET state = 'sent', telegram_message_id = ?, sent_at = ?, last_error = NULL WHERE id = ?",
        (message_id, iso(now), outbox_id),
    )


async def mark_retry(conn: aiosqlite.Connection, outbox_id: int, not_before: datetime, error: str) -> None:
    """Back to pending for a later attempt (the attempt was already counted by claim)."""
    await conn.execute(
        "UPDATE outbox SET state = 'pending', not_before = ?, last_error = ? WHERE id = ?",
        (iso(not_before), error[:500], outbox_id),
    )


async def mark_final(conn: aiosqlite.Connection, outbox_id: int, state: str, reason: str) -> None:
    """dropped (we chose not to send) or failed (Telegram refused it for good)."""
    assert state in ("dropped", "failed")
    await conn.execute("UPDATE outbox SET state = ?, last_error = ? WHERE id = ?", (state, reason[:500], outbox_id))


async def recover_sending(conn: aiosqlite.Connection) -> int:
    """After a crash: rows caught mid-send go back to pending (at most one duplicate each, never a loss)."""
    cur = await conn.execute(
        "UPDATE outbox SET state = 'pending', last_error = 'interrupted while sending' WHERE state = 'sending'"
    )
    return cur.rowcount


async def drop_pending_for_person(conn: aiosqlite.Connection, person_id: int, reason: str) -> int:
    cur = await conn.execute(
        "UPDATE outbox SET state = 'dropped', last_error = ? WHERE person_id = ? AND state = 'pending'",
        (reason, person_id),
    )
    return cur.rowcount


async def drop_pending_for_case(
    conn: aiosqlite.Connection, case_id: int, kinds: Iterable[str], reason: str, *, keep: Iterable[str] = (),
    person_id: int | None = None,
) -> int:
    """Drop a case's pending rows of these kinds except the keys in `keep` (coalescing, closed cases)."""
    kinds_l, keep_l = sorted(set(kinds)), sorted(set(keep))
    if not kinds_l:
        return 0
    sql = (f"UPDATE outbox SET state = 'dropped', last_error = ? WHERE case_id = ? AND state = 'pending'"
           f" AND kind IN ({','.join('?' * len(kinds_l))})")
    params: list[Any] = [reason, case_id, *kinds_l]
    if keep_l:
        sql += f" AND key NOT IN ({','.join('?' * len(keep_l))})"
        params += keep_l
    if person_id is not None:
        sql += " AND person_id = ?"
        params.append(person_id)
    cur = await conn.execute(sql, params)
    return cur.rowcount


async def state_counts(db: Conn) -> dict[str, int]:
    found = await fetchall(db, "SELECT state, count(*) FROM outbox GROUP BY state")
    return {r[0]: int(r[1]) for r in found}


# ----------------------------------------------------------------------------- case notes

async def insert_note(
    conn: aiosqlite.Connection, *, case_id: int, author_id: int, outbox_id: int | None, text: str,
    file_name: str | None, mime_type: str | None, file_size: int | None, telegram_file_id: str | None,
    now: datetime,
) -> int:
    """A progress note sent in reply to a reminder."""
    cur = await conn.execute(
        "INSERT INTO case_notes (case_id, author_id, outbox_id, text, file_name, mime_type, file_size,"
        " telegram_file_id, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
        (case_id, author_id, outbox_id, text, file_name, mime_type, file_size, telegram_file_id, iso(now)),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


async def notes_for_case(db: Conn, case_id: int) -> list[dict[str, Any]]:
    found = await fetchall(db, "SELECT * FROM case_notes WHERE case_id = ? ORDER BY id", (case_id,))
    return [dict(r) for r in found]


# ----------------------------------------------------------------------------- job state

async def get_job_state(db: Conn, name: str) -> str | None:
    found = await fetchall(db, "SELECT value FROM job_state WHERE name = ?", (name,))
    return str(found[0][0]) if found else None


async def set_job_state(conn: aiosqlite.Connection, name: str, value: str) -> None:
    await conn.execute(
        "INSERT INTO job_state (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
        (name, value),
    )
