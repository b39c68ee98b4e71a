"""Start-up reads nothing that grows with the data (issue 14: first getUpdates within 1.5 s at 1M).

Every statement the bot runs before polling begins (opening the database, the calendar, the
configured admins, the counts of the start-up log line) is traced on the real code path, on the
benchmark's database shape, and each one's EXPLAIN QUERY PLAN is checked: no full scan of a table
that grows with cases or with time, no quick_check / integrity_check / ANALYZE / optimize /
checkpoint. The full quick_check runs after polling began (tests/e2e/test_startup_e2e.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from bench import data
from bot.bootstrap import open_services
from bot.clock import FakeClock
from bot.settings import Settings
from storage import db as storage_db
from storage import summary
from storage.db import ANALYSIS_LIMIT, Database, migrations

NOW = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
# Tables whose size follows the bureau's organisation or its configuration, not its cases or its history.
SMALL = {"people", "departments", "calendar_years", "job_state", "write_probe", "sqlite_master", "sqlite_schema"}
HEAVY = ("quick_check", "integrity_check", "analyze", "optimize", "wal_checkpoint", "vacuum")


@pytest.fixture
def traced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every SQL statement run by connections storage.db opens from now on, in order."""
    statements: list[str] = []
    connect: Callable[..., Any] = aiosqlite.connect

    async def tracing_connect(*args: Any, **kwargs: Any) -> aiosqlite.Connection:
        conn = await connect(*args, **kwargs)
        await conn.set_trace_callback(statements.append)
        return conn

    monkeypatch.setattr(storage_db.aiosqlite, "connect", tracing_connect)
    return statements


def scans_of_growing_tables(path: Path, statements: list[str]) -> list[tuple[str, str]]:
    """(statement, plan step) for every full scan of a table outside SMALL."""
    found = []
    conn = sqlite3.connect(path)
    try:
        for sql in statements:
            head = sql.lstrip().split(None, 1)[0].upper()
            if head not in ("SELECT", "WITH", "INSERT", "UPDATE", "DELETE"):
                continue
            for row in conn.execute("EXPLAIN QUERY PLAN " + sql):
                step = str(row[3])
                if step.startswith("SCAN ") and step.split()[1] not in {*SMALL, "CONSTANT"}:
                    found.append((sql, step))
    finally:
        conn.close()
    return found


async def test_nothing_before_polling_reads_what_grows_with_the_cases(tmp_path: Path, traced: list[str]) -> None:
    path = tmp_path / "rectbot.db"
    await data.build(path, data.Shape(3000, departments=30, liaisons=100), NOW)
    traced.clear()
    settings = Settings(storage={"database": str(path), "files": str(tmp_path / "files")},
                        bureau={"admins": [42, 950_000_000]})
    svc = await open_services(settings, FakeClock(NOW))  # what bot.app's post_init runs before polling
    await summary.startup_counts(svc.db)
    before_polling = list(traced)
    await svc.db.close()

    assert before_polling, "the trace saw nothing"
    assert not [s for s in before_polling if any(word in s.lower() for word in HEAVY)], before_polling
    assert not scans_of_growing_tables(path, before_polling)
    assert svc.db.opened["migrated"] == 0 and svc.db.opened["wal_kib"] == 0


async def test_open_reports_its_costs_and_a_leftover_wal(tmp_path: Path) -> None:
    path = tmp_path / "rectbot.db"
    db = await Database.open(path)
    assert db.opened["migrated"] == len(migrations()) and db.opened["wal_kib"] == 0
    assert isinstance(db.opened["db_ms"], int)
    await db.close()

    holder = sqlite3.connect(path)  # another process that wrote and has not checkpointed yet
    holder.execute("PRAGMA wal_autocheckpoint = 0")
    with holder:
        holder.execute("CREATE TABLE filler (x BLOB)")
        holder.executemany("INSERT INTO filler VALUES (zeroblob(4000))", [()] * 100)
    again = await Database.open(path)
    try:
        assert again.opened["migrated"] == 0 and again.opened["wal_kib"] > 300
    finally:
        await again.close()
        holder.close()


async def test_close_bounds_the_optimize(tmp_path: Path, traced: list[str]) -> None:
    db = await Database.open(tmp_path / "rectbot.db")
    traced.clear()
    await db.close()
    # SQLite may decide to ANALYZE a table (it shows as "-- ANALYZE …"): only with the limit set first.
    assert traced[:2] == [f"PRAGMA analysis_limit = {ANALYSIS_LIMIT}", "PRAGMA optimize"], traced


async def test_checkpoints_leave_the_shared_connection(tmp_path: Path) -> None:
    """A commit of more than SQLite's default 1,000 pages no longer checkpoints inside it (it did, inside
    the sweep); `Database.checkpoint` copies the WAL from its own connection in a worker thread."""
    db = await Database.open(tmp_path / "rectbot.db")
    try:
        row = await (await db.conn.execute("PRAGMA wal_autocheckpoint")).fetchone()
        assert row is not None and int(row[0]) == storage_db.AUTOCHECKPOINT_PAGES > 1000
        await db.conn.execute("CREATE TABLE filler (id INTEGER PRIMARY KEY, body TEXT)")
        async with db.transaction() as conn:
            await conn.executemany("INSERT INTO filler (body) VALUES (?)", [("x" * 3000,) for _ in range(2000)])
        wal = Path(f"{db.path}-wal")
        frames = wal.stat().st_size // 4096
        assert frames > 1500                                   # still in the WAL: no checkpoint ran in COMMIT
        main_before = db.path.stat().st_size
        total, done = await db.checkpoint()
        assert total >= 1500 and done == total                # every frame copied (no reader held one back)
        assert db.path.stat().st_size > main_before + 1500 * 4096
        async with db.transaction() as conn:                   # the next write restarts the WAL from its start
            await conn.execute("INSERT INTO filler (body) VALUES ('y')")
        assert (await db.checkpoint())[0] < 10
    finally:
        await db.close()


async def test_a_checkpoint_never_creates_a_missing_database(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "rectbot.db")
    try:
        db.path = tmp_path / "gone.db"
        assert await db.checkpoint() == (-1, -1)
        assert not (tmp_path / "gone.db").exists()
    finally:
        db.path = tmp_path / "rectbot.db"
        await db.close()
