from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.errors import StartupError
from storage.db import Database, audit, migrations


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
