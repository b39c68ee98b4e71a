"""Ledger import/export speed: a 5,000-row XLSX into a fresh database, then export and re-import.

    cd /work/main && /work/venv/bin/python bench/bench_import.py [ROWS]

Prints figures only (no assertions): parse, validate, write (500 rows per transaction), export.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import ledger
from bot.workcalendar import WorkCalendar
from storage.db import Database
from tests.test_ledger import sample_rows, xlsx_bytes


async def main(n: int) -> None:
    data = xlsx_bytes(sample_rows(n))
    cal = WorkCalendar()
    now = datetime(2026, 3, 2, 2, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        db = await Database.open(Path(tmp) / "bench.db")
        t0 = time.perf_counter()
        table = ledger.read_table(data, "bench.xlsx")
        t1 = time.perf_counter()
        plan = await ledger.plan_import(db, cal, table)
        t2 = time.perf_counter()
        result = await ledger.apply_import(db, cal, plan, actor=None, now=now)
        t3 = time.perf_counter()
        content, count = await ledger.export_ledger(db, cal, now.date())
        t4 = time.perf_counter()
        again = await ledger.plan_import(db, cal, ledger.read_table(content, "export.xlsx"))
        t5 = time.perf_counter()
        await db.close()
    print(f"rows: {n} ({len(data) / 1024:.0f} KiB xlsx), added {result.added}")
    print(f"read xlsx:   {t1 - t0:6.2f} s")
    print(f"validate:    {t2 - t1:6.2f} s")
    print(f"write:       {t3 - t2:6.2f} s")
    print(f"import total {t3 - t0:6.2f} s  ({n / (t3 - t0):,.0f} rows/s)")
    print(f"export:      {t4 - t3:6.2f} s  ({count} rows, {len(content) / 1024:.0f} KiB)")
    print(f"re-import of the export (read+validate): {t5 - t4:6.2f} s, new rows: {len(again.new)}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000))
