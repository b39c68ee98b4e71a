"""The SQLite connection: WAL, foreign keys, numbered migrations, explicit transactions.

One aiosqlite connection per process. Writers serialize on an asyncio lock so that two
coroutines never interleave statements inside one BEGIN … COMMIT.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

from bot.errors import N_, StartupError

MIGRATIONS_PACKAGE = "storage.migrations"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def migrations() -> list[tuple[int, str, str]]:
    """(number, name, sql) of every NNNN_name.sql file, in order."""
    found = []
    for entry in resources.files(MIGRATIONS_PACKAGE).iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    found.sort()
    numbers = [n for n, _, _ in found]
    if len(set(numbers)) != len(numbers):
        raise RuntimeError(f"duplicate migration numbers: {numbers}")
    return found


class Database:
    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path, *, migrate: bool = True) -> Database:
        """Open (creating if needed) and bring the schema up to date.

        Raises StartupError for an unwritable location or a file that is not a healthy database.
        """
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StartupError(
                N_("Cannot create the database folder {path}: {reason}"), path=str(path.parent),
                reason=exc.strerror or str(exc),
            ) from None
        try:
            conn = await aiosqlite.connect(str(path), isolation_level=None)
        except sqlite3.Error as exc:
            raise StartupError(
                N_("Cannot open the database {path}: {reason}"), path=str(path), reason=str(exc)
            ) from None
        conn.row_factory = aiosqlite.Row
        db = cls(conn, path)
        try:
            await db._configure()
            if migrate:
                await db.upgrade()
        except sqlite3.DatabaseError as exc:
            await conn.close()
            if "readonly" in str(exc) or "unable to open" in str(exc):
                raise StartupError(
                    N_("The database {path} is not writable: {reason}"), path=str(path), reason=str(exc)
                ) from None
            raise StartupError(
                N_("The database {path} is damaged or is not a rectbot database: {reason}"),
                path=str(path), reason=str(exc),
            ) from None
        return db

    async def _configure(self) -> None:
        await self.conn.execute("PRAGMA busy_timeout = 5000")
        row = await (await self.conn.execute("PRAGMA quick_check")).fetchone()
        if row is None or row[0] != "ok":
            raise sqlite3.DatabaseError(f"integrity check failed: {row[0] if row else 'no answer'}")
        mode = await (await self.conn.execute("PRAGMA journal_mode = WAL")).fetchone()
        if mode is None or str(mode[0]).lower() != "wal":
            raise sqlite3.DatabaseError("cannot switch to WAL journal mode")
        await self.conn.execute("PRAGMA foreign_keys = ON")
        await self.conn.execute("PRAGMA synchronous = NORMAL")
        # Writability check: a throw-away write in a transaction that is rolled back.
        await self.conn.execute("BEGIN IMMEDIATE")
        await self.conn.execute("ROLLBACK")

    async def schema_version(self) -> int:
        row = await (await self.conn.execute("PRAGMA user_version")).fetchone()
        return int(row[0]) if row else 0

    async def upgrade(self) -> list[str]:
        """Apply pending migrations, each in its own transaction; returns the names applied."""
        applied = []
        current = await self.schema_version()
        for number, name, sql in migrations():
            if number <= current:
                continue
            async with self._lock:
                await self.conn.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _split_sql(sql):
                        await self.conn.execute(statement)
                    await self.conn.execute(f"PRAGMA user_version = {number:d}")
                    await self.conn.execute("COMMIT")
                except BaseException:
                    await self.conn.execute("ROLLBACK")
                    raise
            applied.append(name)
        return applied

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any error; serialized across coroutines."""
        async with self._lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            else:
                await self.conn.execute("COMMIT")

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        async with self.conn.execute(sql, tuple(params)) as cur:
            return list(await cur.fetchall())

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        async with self.conn.execute(sql, tuple(params)) as cur:
            return await cur.fetchone()

    async def close(self) -> None:
        await self.conn.close()

    async def backup(self, target: Path) -> str:
        """Online backup to `target`, then PRAGMA integrity_check on the copy; returns its verdict."""
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            target.unlink()
        dest = await aiosqlite.connect(str(target))
        try:
            await self.conn.backup(dest)
            row = await (await dest.execute("PRAGMA integrity_check")).fetchone()
            return str(row[0]) if row else "no answer"
        finally:
            await dest.close()


Tx = aiosqlite.Connection
"""The connection of an open `db.transaction()`: what repository writes take (the domain names it Tx)."""

Conn = Database | aiosqlite.Connection
"""Reads accept the Database or a transaction's connection; writes take the connection of the
caller's `async with db.transaction()`, so several repository calls commit together."""


def _raw(conn: Conn) -> aiosqlite.Connection:
    return conn.conn if isinstance(conn, Database) else conn


async def fetchall(conn: Conn, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
    async with _raw(conn).execute(sql, tuple(params)) as cur:
        return list(await cur.fetchall())


async def fetchone(conn: Conn, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
    async with _raw(conn).execute(sql, tuple(params)) as cur:
        return await cur.fetchone()


def to_date(value: str | None) -> date | None:
    """A stored ISO date (or NULL) as a date."""
    return date.fromisoformat(value) if value else None


def to_ts(value: str | None) -> datetime | None:
    """A stored ISO timestamp (or NULL) as an aware datetime."""
    return datetime.fromisoformat(value) if value else None


def _split_sql(sql: str) -> list[str]:
    """Split a migration into statements (sqlite3.complete_statement keeps triggers whole)."""
    statements, buf = [], ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                statements.append(buf.strip())
            buf = ""
    if buf.strip() and not all(ln.strip().startswith("--") or not ln.strip() for ln in buf.splitlines()):
        statements.append(buf.strip())
    return statements


async def audit(
    conn: aiosqlite.Connection,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: int | None,
    before: Any = None,
    after: Any = None,
    at: datetime | None = None,
) -> None:
    """Append to the audit log; call inside the transaction that makes the change."""
    await conn.execute(
        "INSERT INTO audit_log (at, actor, action, entity, entity_id, before, after) VALUES (?,?,?,?,?,?,?)",
        (
            (at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds"),
            actor,
            action,
            entity,
            entity_id,
            None if before is None else json.dumps(before, ensure_ascii=False, default=str),
            None if after is None else json.dumps(after, ensure_ascii=False, default=str),
        ),
    )
