"""Counts for the operator's log: `rectbot started` and `database checked` (docs/OPERATIONS.md).

Start-up must not depend on the database's size (issue 14: first getUpdates within 1.5 s at 1M
cases), so the start-up line counts only what is small and indexed (people, pending notifications);
the case counts, which read a whole index (2.4 s at 1M), come with the quick_check a few seconds
after polling began, on a read-only connection of their own in a worker thread.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from storage.db import Conn, fetchone


async def startup_counts(db: Conn) -> dict[str, int]:
    """Active people and notifications waiting to be sent, in one query: cheap at any size."""
    row = await fetchone(db, (
        "SELECT (SELECT count(*) FROM people WHERE active = 1),"
        " (SELECT count(*) FROM outbox WHERE state IN ('pending', 'sending'))"
    ))
    assert row is not None  # a SELECT without FROM always yields one row
    return {"people": int(row[0]), "pending": int(row[1])}


async def case_counts(path: Path) -> dict[str, int]:
    """Cases, all and not yet closed: off the event loop and off the shared connection."""
    def count() -> dict[str, int]:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            row = conn.execute("SELECT count(*), count(*) FILTER (WHERE status <> 'closed') FROM cases").fetchone()
            return {"cases": int(row[0]), "open": int(row[1])}
        finally:
            conn.close()

    return await asyncio.to_thread(count)


async def notifications_waiting(path: Path, now: str) -> int:
    """Outbox rows due by `now` (ISO UTC) and not yet sent, read from outside the bot: the demo waits
    for them before it moves the simulated clock on, so no message arrives days after it was written."""
    def count() -> int:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return int(conn.execute("SELECT count(*) FROM outbox WHERE state IN ('pending', 'sending')"
                                    " AND not_before <= ?", (now,)).fetchone()[0])
        finally:
            conn.close()

    return await asyncio.to_thread(count)
