from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
from pathlib import Path

import aiosqlite
import pytest

from bot.errors import DomainError, StartupError
from storage.db import Database, audit, migrations
from tests.immutable import immutable


async def test_open_applies_migrations_with_wal_and_foreign_keys(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "r.db")
    try:
        assert await db.schema_version() == migrations()[-1][0]
        assert (await db.fetchone("PRAGMA journal_mode"))[0] == "wal"  # type: ignore[index]
        assert (await db.fetchone("PRAGMA foreign_keys"))[0] == 1  # type: ignore[index]
        tables = {r[0] for r in await db.fetchall("SELECT name FROM sqlite_master WHERE type='table'")}
        for table in ("departments", "people", "invitations", "cases", "reports", "evidence_files", "reviews",
                      "extension_requests", "outbox", "audit_log", "calendar_years"):
            assert table in tables
        with pytest.raises(sqlite3.IntegrityError):
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO people (telegram_id, name, role, department_id, created_at)"
                                   " VALUES (1, 'x', 'liaison', 999, 'now')")
    finally:
        await db.close()
    # Re-opening applies nothing new.
    db = await Database.open(tmp_path / "r.db")
    assert await db.upgrade() == []
    await db.close()


async def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "r.db")
    with pytest.raises(RuntimeError):
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO departments (name, created_at) VALUES ('A', 'now')")
            await audit(conn, actor="cli", action="test", entity="department", entity_id=1)
            raise RuntimeError("boom")
    assert await db.fetchall("SELECT * FROM departments") == []
    assert await db.fetchall("SELECT * FROM audit_log") == []
    await db.close()


async def test_backup_is_verified_copy(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "r.db")
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO departments (name, created_at) VALUES ('县教育局', 'now')")
    assert await db.backup(tmp_path / "backups" / "copy.db") == "ok"
    await db.close()
    copy = sqlite3.connect(tmp_path / "backups" / "copy.db")
    assert copy.execute("SELECT name FROM departments").fetchall() == [("县教育局",)]
    copy.close()


async def test_corrupt_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "bad.db"
    path.write_bytes(b"\x00garbage" * 4096)
    with pytest.raises(StartupError) as info:
        await Database.open(path)
    assert "damaged" in str(info.value)
    assert path.read_bytes() == b"\x00garbage" * 4096


# --- issue 13, finding 6: a read-only or full database is refused at start ------------------------

async def _existing_db(path: Path) -> None:
    db = await Database.open(path)
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO departments (name, created_at) VALUES ('县教育局', 'now')")
    await db.close()


async def test_a_read_only_database_is_refused_at_start(tmp_path: Path) -> None:
    """What a read-only file looks like even to root: a connection SQLite opened read-only."""
    path = tmp_path / "r.db"
    await _existing_db(path)
    conn = await aiosqlite.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    with pytest.raises(StartupError) as info:
        await Database(conn, path).start()
    assert "read-only" in str(info.value) and str(path) in str(info.value)


async def test_an_immutable_database_file_is_refused_by_open(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    await _existing_db(path)
    with immutable(path), pytest.raises(StartupError) as info:
        await Database.open(path)
    assert "read-only" in str(info.value)


async def test_a_read_only_folder_is_refused_by_open(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    await _existing_db(folder / "r.db")
    assert sorted(p.name for p in folder.iterdir()) == ["r.db"]  # closed cleanly: no -wal/-shm left
    with immutable(folder), pytest.raises(StartupError) as info:
        await Database.open(folder / "r.db")
    assert "read-only" in str(info.value)


async def test_a_full_database_is_refused_at_start(tmp_path: Path) -> None:
    """A size limit SQLite enforces stands in for a full disk: both are SQLITE_FULL at COMMIT."""
    path = tmp_path / "r.db"
    conn = await aiosqlite.connect(str(path), isolation_level=None)
    await conn.execute("PRAGMA max_page_count = 1")
    with pytest.raises(StartupError) as info:
        await Database(conn, path).start()
    assert "full" in str(info.value)


# --- finding 11: a zero-length database is a truncated one ---------------------------------------

async def test_a_zero_length_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    path.write_bytes(b"")
    with pytest.raises(StartupError) as info:
        await Database.open(path)
    assert str(path) in str(info.value) and "0 bytes" in str(info.value)
    assert path.read_bytes() == b""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.db"]
    fresh = await Database.open(tmp_path / "new.db")  # a missing file is still created
    assert await fresh.schema_version() == migrations()[-1][0]
    await fresh.close()


# --- finding 10: backups never destroy what is at the target ------------------------------------

async def test_backup_refuses_an_existing_target_unless_forced_and_regular(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "r.db")
    try:
        old = tmp_path / "old.db"
        old.write_bytes(b"an older backup")
        with pytest.raises(DomainError, match="already exists"):
            await db.backup(old)
        assert old.read_bytes() == b"an older backup"
        assert await db.backup(old, overwrite=True) == "ok"
        assert old.read_bytes().startswith(b"SQLite format 3")

        fifo = tmp_path / "node"
        os.mkfifo(fifo)
        folder = tmp_path / "folder"
        folder.mkdir()
        link = tmp_path / "link.db"
        link.symlink_to(old)
        for target in (fifo, folder, link):
            with pytest.raises(DomainError, match="not a regular file"):
                await db.backup(target, overwrite=True)
        assert stat.S_ISFIFO(fifo.lstat().st_mode) and folder.is_dir() and link.is_symlink()
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no temporary file left
    finally:
        await db.close()


async def test_online_backup_while_writes_continue_holds_every_committed_row(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "r.db")
    other = await Database.open(tmp_path / "r.db")  # a second connection, like the CLI beside the bot
    committed = {"db": 0, "other": 0}
    stop, warmed_up = asyncio.Event(), asyncio.Event()

    async def write(database: Database, who: str) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            async with database.transaction() as conn:
                await conn.execute("INSERT INTO departments (name, created_at) VALUES (?, 'now')", (f"{who}{n}",))
            committed[who] = n
            if min(committed.values()) >= 200:
                warmed_up.set()
            await asyncio.sleep(0)

    writers = [asyncio.create_task(write(db, "db")), asyncio.create_task(write(other, "other"))]
    try:
        await asyncio.wait_for(warmed_up.wait(), 30)
        before = sum(committed.values())
        verdict = await db.backup(tmp_path / "copy.db")
        after = sum(committed.values())
    finally:
        stop.set()
        await asyncio.gather(*writers)
        await other.close()
        await db.close()
    assert verdict == "ok"
    copy = sqlite3.connect(tmp_path / "copy.db")
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        (rows,) = copy.execute("SELECT count(*) FROM departments").fetchone()
    finally:
        copy.close()
    assert before <= rows <= after + 2  # every row committed before the backup; nothing half-written
    assert after > before  # the writers really kept writing while the copy was taken


async def test_the_reader_is_a_read_only_connection_of_its_own(tmp_path: Path) -> None:
    """The digest's counts run on `Database.reader()`: its own connection (so its own aiosqlite thread,
    beside the shared one), read-only, reading what was committed."""
    import sqlite3 as _sqlite3

    db = await Database.open(tmp_path / "rectbot.db")
    try:
        await db.conn.execute("INSERT INTO departments (name, created_at) VALUES ('县教育局', '2026-01-01')")
        async with db.reader() as ro:
            assert ro is not db.conn
            row = await (await ro.execute("SELECT count(*) FROM departments")).fetchone()
            assert row is not None and row[0] == 1
            with pytest.raises(_sqlite3.OperationalError, match="readonly"):
                await ro.execute("INSERT INTO departments (name, created_at) VALUES ('x', 'y')")
            # the shared connection is not held while the reader is open
            await db.conn.execute("INSERT INTO departments (name, created_at) VALUES ('县财政局', '2026-01-01')")
    finally:
        await db.close()
