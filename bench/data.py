"""Synthetic databases for the benchmark: N cases over 300 departments and 1,000 liaisons.

Built by executemany in a handful of transactions on a database opened (and migrated) by
storage.db.Database, so the schema is exactly the bot's current one (no migration is left for a
start to run); 100k cases take a few seconds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from bot import ladder
from bot.clock import FakeClock, iso
from bot.schedules import build_calendar
from bot.settings import Settings
from storage.db import Database

QUIET_TG = 850_000_000
LIAISON_TG = 800_000_000      # telegram ids of the synthetic people (the sandbox creates the same users)
SUPERVISOR_TG = 900_000_000
ADMIN_TG = 950_000_000
OVERDUE_FRACTION = 0.106       # the figure: 10.6 % of the cases are overdue
QUIET = 10                     # liaisons (and cases) of one extra department with nothing due for weeks
PROBES = 30                    # admins who send the timed requests (one reply per second per chat)
DUE_FRACTION = 0.01            # ~1 % of the cases are due for the sweep at any moment


@dataclass(frozen=True)
class Shape:
    cases: int
    departments: int = 300
    liaisons: int = 1000
    supervisors: int = 5
    seed: int = 20261201


@dataclass
class Built:
    path: Path
    shape: Shape
    liaison_tg: list[int] = field(default_factory=list)
    supervisor_tg: list[int] = field(default_factory=list)
    probe_tg: list[int] = field(default_factory=list)   # admins that send the timed requests
    busiest_liaisons_tg: list[int] = field(default_factory=list)  # of the department with the most open cases
    busiest_open_cases: int = 0
    sample_case_ids: list[int] = field(default_factory=list)
    quiet_liaisons_tg: list[int] = field(default_factory=list)  # a department nobody reminds: "other users"
    quiet_case_ids: list[int] = field(default_factory=list)


def _case_rows(shape: Shape, now: datetime, today: date, rng: random.Random) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    ts = iso(now)
    future = iso(now + timedelta(days=1))
    for i in range(shape.cases):
        dept = i % shape.departments + 1
        r = rng.random()
        if r < 0.12:
            status, due = "closed", today - timedelta(days=rng.randint(1, 300))
            next_at = None
        elif r < 0.17:
            status, due = "reported", today + timedelta(days=rng.randint(-20, 60))
            next_at = None
        else:
            status = "in_progress"
            overdue = rng.random() < OVERDUE_FRACTION / 0.83
            due = today - timedelta(days=rng.randint(1, 90)) if overdue else today + timedelta(days=rng.randint(1, 120))
            next_at = ts if rng.random() < DUE_FRACTION / 0.83 else future
        rows.append((
            dept, f"项目{i:07d}", "monitoring", "", "", f"财绩〔2026〕{i}号", due.isoformat(), 0, "bench",
            status, next_at, "import", ts, ts, ts,
        ))
    return rows


async def build(path: Path, shape: Shape, now: datetime) -> Built:
    """Create the database at `path` (fresh) with `shape`; returns who is who."""
    rng = random.Random(shape.seed)
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    db = await Database.open(path)
    ts = iso(now)
    today = now.date()
    built = Built(path, shape)
    try:
        async with db.transaction() as conn:
            await conn.executemany("INSERT INTO departments (id, name, created_at) VALUES (?, ?, ?)",
                                   [(d, f"部门{d:03d}", ts) for d in range(1, shape.departments + 2)])
            people: list[tuple[object, ...]] = []
            for i in range(shape.liaisons):
                tg = LIAISON_TG + i
                built.liaison_tg.append(tg)
                people.append((tg, f"联络员{i}", "liaison", i % shape.departments + 1, ts))
            for i in range(shape.supervisors):
                tg = SUPERVISOR_TG + i
                built.supervisor_tg.append(tg)
                people.append((tg, f"督办{i}", "supervisor", None, ts))
            quiet = shape.departments + 1
            for i in range(QUIET):
                built.quiet_liaisons_tg.append(QUIET_TG + i)
                people.append((QUIET_TG + i, f"安静联络员{i}", "liaison", quiet, ts))
            for i in range(PROBES):
                built.probe_tg.append(ADMIN_TG + i)
                people.append((ADMIN_TG + i, f"管理员{i}", "admin", None, ts))
            await conn.executemany(
                "INSERT INTO people (telegram_id, name, role, department_id, created_at) VALUES (?, ?, ?, ?, ?)",
                people)
        rows = _case_rows(shape, now, today, rng)
        chunk = 50_000
        for start in range(0, len(rows), chunk):
            async with db.transaction() as conn:
                await conn.executemany(
                    "INSERT INTO cases (department_id, project, source, findings, suggestions, feedback_doc_no,"
                    " due_on, due_provisional, due_rule, status, next_action_at, created_by, created_at, updated_at,"
                    " received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows[start:start + chunk])
        far = (today + timedelta(days=200)).isoformat()
        quiet_rows = [(shape.departments + 1, f"项目{shape.cases + k:07d}", "monitoring", "", "", f"安静〔2026〕{k}号",
                       far, 0, "bench", "in_progress", iso(now + timedelta(days=150)), "import", ts, ts, ts)
                      for k in range(QUIET)]
        async with db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO cases (department_id, project, source, findings, suggestions, feedback_doc_no,"
                " due_on, due_provisional, due_rule, status, next_action_at, created_by, created_at, updated_at,"
                " received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", quiet_rows)
            built.quiet_case_ids = list(range(shape.cases + 1, shape.cases + QUIET + 1))
        # As production stands after its first run: the ladder's colours recorded (the first refresh
        # after a big import colours every case near its deadline once), the statistics gathered, and
        # the WAL checkpointed and truncated, so no start measured on this file replays or copies it.
        await ladder.refresh(db, await build_calendar(db), Settings(storage={"database": str(path)}), FakeClock(now))
        async with db.transaction() as conn:
            await conn.execute("ANALYZE")
        await db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        found = await db.fetchone(
            "SELECT department_id, count(*) FROM cases WHERE status IN ('in_progress', 'returned')"
            " AND department_id <= ? GROUP BY department_id ORDER BY count(*) DESC, department_id LIMIT 1",
            (shape.departments,))
        assert found is not None
        dept, built.busiest_open_cases = int(found[0]), int(found[1])
        built.busiest_liaisons_tg = [LIAISON_TG + i for i in range(shape.liaisons) if i % shape.departments + 1 == dept]
        step = max(1, shape.cases // 50)
        built.sample_case_ids = list(range(1, shape.cases + 1, step))
    finally:
        await db.close()
    return built
