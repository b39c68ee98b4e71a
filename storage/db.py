"""The SQLite connection: WAL, foreign keys, numbered migrations, explicit transactions.

One aiosqlite connection per process. Writers serialize on an asyncio lock so that two
coroutines never interleave statements inside one BEGIN … COMMIT.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import stat
import tempfile
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager, suppress
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

from bot.errors import N_, DomainError, StartupError

MIGRATIONS_PACKAGE = "storage.migrations"
CACHE_KIB = 32 * 1024  # the connection's page cache, in KiB
ANALYSIS_LIMIT = 400  # rows an ANALYZE run by PRAGMA optimize reads per index (SQLite's advice)
# SQLite checkpoints the WAL from inside a COMMIT once it passes wal_autocheckpoint pages (1,000 by
# default): a sweep of 1,000 due cases writes ~1,500 pages, so a checkpoint with its fsyncs (40-110 ms
# here) ran inside the sweep, on the one shared connection every handler waits for. The bot checkpoints
# from a connection of its own in a worker thread instead (`checkpoint`, every CHECKPOINT_SECONDS, bot.app);
# this much higher limit (~40 MB of WAL) is only the backstop should that job not run (CLI commands
# checkpoint at close, when SQLite's last connection goes).
AUTOCHECKPOINT_PAGES = 10_000


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
        # What opening cost, for the start-up log line (bot.app): none of it may grow with the data.
        self.opened: dict[str, int] = {}

    @classmethod
    async def open(cls, path: Path, *, migrate: bool = True) -> Database:
        """Open (creating if needed) and bring the schema up to date.

        Raises StartupError for an unwritable location or a file that is not a healthy database.
        """
        t0 = time.perf_counter()
        path = Path(path)
        _refuse_empty_file(path)
        wal = _size(Path(f"{path}-wal"))  # a WAL left by a crash is replayed by SQLite at the first read
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
        applied = await db.start(migrate=migrate)
        db.opened = {"db_ms": round((time.perf_counter() - t0) * 1000), "wal_kib": wal // 1024,
                     "migrated": len(applied)}
        return db

    async def start(self, *, migrate: bool = True) -> list[str]:
        """Configure, prove the file takes a committed write, migrate; a failure closes the connection.

        Returns the migrations applied. Separate from `open` so a test can hand in a connection opened
        read-only (`mode=ro`), which is how a read-only file looks even to root, who ignores permission
        bits. Nothing here reads pages that grow with the data (no quick_check, ANALYZE, optimize or
        checkpoint: the quick_check runs after polling began, and so does the checkpoint job,
        `checkpoint`), except a pending migration, which is applied once, before the bot uses the schema.
        """
        try:
            await self._check_health()
            await self._probe_write()  # before the WAL switch, which a read-only file refuses as well
            await self._configure()
            return await self.upgrade() if migrate else []
        except sqlite3.DatabaseError as exc:
            await self.conn.close()
            raise _startup_error(self.path, exc) from None

    async def _check_health(self) -> None:
        """A cheap check whatever the size: the header and the schema must read (a file that is not a
        database, or a damaged schema, stops the start). The full PRAGMA quick_check reads every page
        (seconds at 1M cases), so it runs after the bot is up, off the event loop: `quick_check`."""
        await self.conn.execute("PRAGMA busy_timeout = 5000")
        await (await self.conn.execute("SELECT COUNT(*) FROM sqlite_master")).fetchone()
        await (await self.conn.execute("PRAGMA schema_version")).fetchone()

    async def quick_check(self) -> str:
        """PRAGMA quick_check on a read-only connection of its own, in a worker thread, so neither the
        event loop nor the shared connection waits for it; "ok" or SQLite's first complaint."""
        def check() -> str:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5)
            try:
                row = conn.execute("PRAGMA quick_check").fetchone()
                return str(row[0]) if row else "no answer"
            except sqlite3.DatabaseError as exc:
                return str(exc)
            finally:
                conn.close()

        return await asyncio.to_thread(check)

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[aiosqlite.Connection]:
        """A read-only connection of its own, with its own thread, for a long aggregate (the digest's
        counts over every open case: ~0.1 s at 100k, ~1 s at 1M): it runs beside the shared connection
        instead of in front of every reply's query. In WAL mode it reads the last committed state."""
        conn = await aiosqlite.connect(f"file:{self.path}?mode=ro", uri=True)
        conn.row_factory = aiosqlite.Row
        try:
            await conn.execute("PRAGMA busy_timeout = 5000")
            yield conn
        finally:
            await conn.close()

    async def checkpoint(self) -> tuple[int, int]:
        """A PASSIVE WAL checkpoint on a connection of its own, in a worker thread: the shared connection
        and the event loop never wait for its copying and fsyncs, and it never waits for them (PASSIVE
        copies what no reader still needs and returns). (WAL frames, frames checkpointed); (-1, -1)
        when SQLite was busy or refused."""
        def run() -> tuple[int, int]:
            try:
                conn = sqlite3.connect(f"file:{self.path}?mode=rw", uri=True, timeout=1)   # never creates a file
            except sqlite3.Error:
                return (-1, -1)
            try:
                row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                return (int(row[1]), int(row[2])) if row and not row[0] else (-1, -1)
            except sqlite3.Error:
                return (-1, -1)
            finally:
                conn.close()

        return await asyncio.to_thread(run)

    async def _configure(self) -> None:
        mode = await (await self.conn.execute("PRAGMA journal_mode = WAL")).fetchone()
        if mode is None or str(mode[0]).lower() != "wal":
            raise sqlite3.DatabaseError("cannot switch to WAL journal mode")
        await self.conn.execute("PRAGMA foreign_keys = ON")
        await self.conn.execute("PRAGMA synchronous = NORMAL")
        # A 32 MB page cache (SQLite's default is 2 MB): at 100k cases and more the indexes an import
        # inserts into outgrow 2 MB, and every insert then rereads pages (~15-25 % of an import here).
        await self.conn.execute(f"PRAGMA cache_size = -{CACHE_KIB:d}")
        await self.conn.execute(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES:d}")

    async def _probe_write(self) -> None:
        """Commit one real write, so a read-only or full database stops the start, not the first action.

        A rolled-back BEGIN IMMEDIATE proves nothing: SQLite grants the lock on a read-only file, and
        a full disk only shows when pages reach the file at COMMIT.
        """
        async with self._lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                await self.conn.execute(
                    "CREATE TABLE IF NOT EXISTS write_probe (id INTEGER PRIMARY KEY CHECK (id = 1), at TEXT NOT NULL)"
                )
                await self.conn.execute(
                    "INSERT INTO write_probe (id, at) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET at = excluded.at",
                    (_now(),),
                )
                await self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.in_transaction:
                    await self.conn.execute("ROLLBACK")
                raise

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
        """PRAGMA optimize first (SQLite's advice: refreshes the planner's statistics where stale).

        With `analysis_limit` an ANALYZE it decides on reads ~400 rows an index, whatever the size,
        so closing stays cheap at 1M cases (the CLI's storage check opens and closes before polling).
        """
        with suppress(sqlite3.Error, ValueError):  # closing must not fail on a read-only or broken database
            await self.conn.execute(f"PRAGMA analysis_limit = {ANALYSIS_LIMIT:d}")
            await self.conn.execute("PRAGMA optimize")
        await self.conn.close()

    async def backup(self, target: Path, *, overwrite: bool = False) -> str:
        """Online backup to `target`; returns the copy's PRAGMA integrity_check verdict ("ok" or why not).

        The copy is made in a temporary file beside `target` and renamed over it only when the check
        says ok, so a failed backup never destroys the previous one. Whatever is at `target` is never
        deleted first: an existing target is refused unless `overwrite`, and even then only a regular
        file is replaced (a device node, a folder or a symlink is refused: DomainError).
        The copy is taken between transactions (the writers' lock), so it holds every committed row
        and nothing uncommitted.
        """
        target = Path(target)
        _check_backup_target(target, overwrite=overwrite)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            dest = await aiosqlite.connect(str(tmp))
            try:
                async with self._lock:
                    await self.conn.backup(dest)
                row = await (await dest.execute("PRAGMA integrity_check")).fetchone()
                verdict = str(row[0]) if row else "no answer"
            finally:
                await dest.close()
            if verdict != "ok":
                return verdict
            _fsync_path(tmp)
            _check_backup_target(target, overwrite=overwrite)  # nothing appeared meanwhile
            os.replace(tmp, target)
            _fsync_path(target.parent)
            return verdict
        finally:
            tmp.unlink(missing_ok=True)


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


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _refuse_empty_file(path: Path) -> None:
    """An existing 0-byte database is a truncated one: starting "fresh" on it would hide the loss."""
    try:
        found = path.stat()
    except OSError:
        return  # missing: it is created (or creating its folder reports why not)
    if found.st_size == 0 and stat.S_ISREG(found.st_mode):
        raise StartupError(
            N_("The database file {path} is empty (0 bytes), so it was probably truncated; nothing was changed. "
               "Restore it from a backup, or delete the file to start a new, empty database."),
            path=str(path),
        )


def _startup_error(path: Path, exc: sqlite3.DatabaseError) -> StartupError:
    """One line for why the database cannot be used: read-only, full, or not a (healthy) database."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    reason = str(exc)
    if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM) or (
        "readonly" in reason or "unable to open" in reason
    ):
        return StartupError(
            N_("The database {path} is read-only or its folder is not writable, so the bot could not save "
               "anything: {reason}"), path=str(path), reason=reason,
        )
    if code == sqlite3.SQLITE_FULL or "is full" in reason:
        return StartupError(
            N_("The database {path} is full (the disk or a size limit), so the bot could not save anything: "
               "{reason}"), path=str(path), reason=reason,
        )
    return StartupError(
        N_("The database {path} is damaged or is not a rectbot database: {reason}"), path=str(path), reason=reason,
    )


def _check_backup_target(target: Path, *, overwrite: bool) -> None:
    try:
        mode = target.lstat().st_mode
    except FileNotFoundError:
        return
    if not overwrite:
        raise DomainError(N_("The backup target {path} already exists; nothing was written. Choose a new file "
                             "name, or add --force to replace an older backup file."), path=str(target))
    if not stat.S_ISREG(mode):
        raise DomainError(N_("The backup target {path} exists and is not a regular file; it is left untouched "
                             "(--force replaces only an older backup file)."), path=str(target))


def _fsync_path(path: Path) -> None:
    """Flush a file's (or a folder's entries') data to disk before and after the rename."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
