"""Counts for the operator's log line at start-up (bot/app.py logs them as `rectbot started`)."""

from __future__ import annotations

from storage.db import Conn, fetchone


async def startup_counts(db: Conn) -> dict[str, int]:
    """Cases (all and not yet closed), active people and notifications waiting to be sent, in one query."""
    row = await fetchone(db, (
        "SELECT (SELECT count(*) FROM cases),"
        " (SELECT count(*) FROM cases WHERE status <> 'closed'),"
        " (SELECT count(*) FROM people WHERE active = 1),"
        " (SELECT count(*) FROM outbox WHERE state IN ('pending', 'sending'))"
    ))
    assert row is not None  # a SELECT without FROM always yields one row
    return {"cases": int(row[0]), "open": int(row[1]), "people": int(row[2]), "pending": int(row[3])}
