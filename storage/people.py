"""Departments, people and invitations."""

from __future__ import annotations

import aiosqlite

from bot.domain import Department, Invitation, Person, Role
from storage.db import Conn, Database, fetchall

_PERSON_SQL = """
SELECT p.id, p.telegram_id, p.name, p.username, p.role, p.department_id, d.name AS department_name,
       p.locale, p.reachable, p.active
FROM people p LEFT JOIN departments d ON d.id = p.department_id
"""


def _person(row: aiosqlite.Row) -> Person:
    return Person(
        id=row["id"], telegram_id=row["telegram_id"], name=row["name"], username=row["username"],
        role=Role(row["role"]), department_id=row["department_id"], department_name=row["department_name"],
        locale=row["locale"], reachable=bool(row["reachable"]), active=bool(row["active"]),
    )


async def list_departments(db: Database) -> list[Department]:
    rows = await db.fetchall("SELECT id, name FROM departments ORDER BY name")
    return [Department(r["id"], r["name"]) for r in rows]


async def department_by_name(db: Database, name: str) -> Department | None:
    row = await db.fetchone("SELECT id, name FROM departments WHERE name = ?", (name,))
    return Department(row["id"], row["name"]) if row else None


async def department_by_id(db: Database, department_id: int) -> Department | None:
    row = await db.fetchone("SELECT id, name FROM departments WHERE id = ?", (department_id,))
    return Department(row["id"], row["name"]) if row else None


async def search_departments(conn: Conn, text: str, limit: int = 20) -> list[tuple[int, str]]:
    rows = await fetchall(conn, "SELECT id, name FROM departments WHERE name LIKE ? ORDER BY name LIMIT ?",
                           (f"%{text}%", limit))
    return [(int(r[0]), r[1]) for r in rows]


async def insert_department(conn: aiosqlite.Connection, name: str, created_at: str) -> Department:
    cur = await conn.execute("INSERT INTO departments (name, created_at) VALUES (?, ?)", (name, created_at))
    assert cur.lastrowid is not None
    return Department(cur.lastrowid, name)


async def person_by_telegram_id(db: Database, telegram_id: int) -> Person | None:
    row = await db.fetchone(_PERSON_SQL + " WHERE p.telegram_id = ? AND p.active = 1", (telegram_id,))
    return _person(row) if row else None


async def person_by_id(db: Database, person_id: int) -> Person | None:
    row = await db.fetchone(_PERSON_SQL + " WHERE p.id = ?", (person_id,))
    return _person(row) if row else None


async def people_with_role(db: Database, *roles: str) -> list[Person]:
    marks = ",".join("?" * len(roles))
    rows = await db.fetchall(_PERSON_SQL + f" WHERE p.active = 1 AND p.role IN ({marks}) ORDER BY p.id", roles)
    return [_person(r) for r in rows]


async def liaisons_of(db: Database, department_id: int) -> list[Person]:
    rows = await db.fetchall(
        _PERSON_SQL + " WHERE p.active = 1 AND p.role = 'liaison' AND p.department_id = ? ORDER BY p.id",
        (department_id,),
    )
    return [_person(r) for r in rows]


async def active_liaison_ids(conn: Conn, department_id: int) -> list[int]:
    """Ids of the department's active liaison officers, reachable or not (the outbox decides)."""
    rows = await fetchall(
        conn, "SELECT id FROM people WHERE role = 'liaison' AND active = 1 AND department_id = ? ORDER BY id",
        (department_id,),
    )
    return [int(r[0]) for r in rows]


async def upsert_person(
    conn: aiosqlite.Connection,
    *,
    telegram_id: int,
    name: str,
    username: str | None,
    role: str,
    department_id: int | None,
    locale: str,
    created_at: str,
) -> int:
    """Bind a Telegram account to a role; an account that had another role takes the new one."""
    row = await (await conn.execute("SELECT id FROM people WHERE telegram_id = ?", (telegram_id,))).fetchone()
    if row:
        await conn.execute(
            "UPDATE people SET name=?, username=?, role=?, department_id=?, active=1, reachable=1 WHERE id=?",
            (name, username, role, department_id, row["id"]),
        )
        return int(row["id"])
    cur = await conn.execute(
        "INSERT INTO people (telegram_id, name, username, role, department_id, locale, created_at)"
        " VALUES (?,?,?,?,?,?,?)",
        (telegram_id, name, username, role, department_id, locale, created_at),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


async def set_locale(conn: aiosqlite.Connection, person_id: int, locale: str) -> None:
    await conn.execute("UPDATE people SET locale = ? WHERE id = ?", (locale, person_id))


async def set_name(conn: aiosqlite.Connection, person_id: int, name: str) -> None:
    await conn.execute("UPDATE people SET name = ? WHERE id = ?", (name, person_id))


async def set_reachable(conn: aiosqlite.Connection, person_id: int, reachable: bool) -> None:
    await conn.execute("UPDATE people SET reachable = ? WHERE id = ?", (int(reachable), person_id))


async def insert_invitation(
    conn: aiosqlite.Connection,
    *,
    code_hash: str,
    role: str,
    department_id: int | None,
    created_by: str,
    created_at: str,
    expires_at: str,
) -> int:
    cur = await conn.execute(
        "INSERT INTO invitations (code_hash, role, department_id, created_by, created_at, expires_at)"
        " VALUES (?,?,?,?,?,?)",
        (code_hash, role, department_id, created_by, created_at, expires_at),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


async def invitation_by_hash(conn: aiosqlite.Connection, code_hash: str) -> Invitation | None:
    row = await (
        await conn.execute(
            "SELECT i.*, d.name AS department_name FROM invitations i"
            " LEFT JOIN departments d ON d.id = i.department_id WHERE i.code_hash = ?",
            (code_hash,),
        )
    ).fetchone()
    if row is None:
        return None
    return Invitation(
        id=row["id"], role=Role(row["role"]), department_id=row["department_id"],
        department_name=row["department_name"], created_by=row["created_by"], created_at=row["created_at"],
        expires_at=row["expires_at"], used_at=row["used_at"], used_by=row["used_by"],
    )


async def mark_invitation_used(conn: aiosqlite.Connection, invitation_id: int, person_id: int, at: str) -> bool:
    """Consume the invitation; False if someone else consumed it first (single use under races)."""
    cur = await conn.execute(
        "UPDATE invitations SET used_at = ?, used_by = ? WHERE id = ? AND used_at IS NULL",
        (at, person_id, invitation_id),
    )
    return cur.rowcount == 1


# --- redemption throttle (failed invitation codes per Telegram account) -----------------------------

async def redeem_blocked_until(conn: Conn, telegram_id: int, now: str) -> str | None:
    """When the sender's cooling-off ends, if it has not ended by `now` (ISO UTC, as stored)."""
    rows = await fetchall(
        conn, "SELECT blocked_until FROM redeem_blocks WHERE telegram_id = ? AND blocked_until > ?", (telegram_id, now)
    )
    return str(rows[0][0]) if rows else None


async def record_redeem_failure(
    conn: aiosqlite.Connection, telegram_id: int, *, at: str, reason: str, window_start: str
) -> int:
    """Store one failed redemption; returns the sender's failures since `window_start` (older ones are deleted)."""
    await conn.execute("DELETE FROM redeem_failures WHERE telegram_id = ? AND at < ?", (telegram_id, window_start))
    await conn.execute("INSERT INTO redeem_failures (telegram_id, at, reason) VALUES (?, ?, ?)",
                       (telegram_id, at, reason))
    rows = await fetchall(conn, "SELECT count(*) FROM redeem_failures WHERE telegram_id = ?", (telegram_id,))
    return int(rows[0][0])


async def block_redeeming(conn: aiosqlite.Connection, telegram_id: int, *, at: str, until: str) -> None:
    """Start the sender's cooling-off; their counted failures are spent by it."""
    await conn.execute(
        "INSERT INTO redeem_blocks (telegram_id, blocked_at, blocked_until) VALUES (?, ?, ?)"
        " ON CONFLICT(telegram_id) DO UPDATE SET blocked_at = excluded.blocked_at,"
        " blocked_until = excluded.blocked_until",
        (telegram_id, at, until),
    )
    await conn.execute("DELETE FROM redeem_failures WHERE telegram_id = ?", (telegram_id,))


async def clear_redeem_throttle(conn: aiosqlite.Connection, telegram_id: int) -> None:
    """A successful redemption forgets the sender's earlier failures and any ended cooling-off."""
    await conn.execute("DELETE FROM redeem_failures WHERE telegram_id = ?", (telegram_id,))
    await conn.execute("DELETE FROM redeem_blocks WHERE telegram_id = ?", (telegram_id,))
