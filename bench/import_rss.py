"""The whole import path at scale, in its own process so its RSS is its own: `python -m bench.import_rss DB ROWS`.

Imports ROWS ledger rows into a fresh database at DB, file by file (CSV files of ≤ 50,000 rows, each
through `plan_import`, parsing in the memory-capped worker, and `apply_import`), and prints one
JSON line: rows/s, the process's peak RSS (VmHWM) and its RSS after each file, so memory that grows
with the database (not with one file) shows as a rising `rss_after_file_mb`.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.inproc import _services, ledger_csv
from bot import ledger


def _status_mb(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


async def main(path: Path, rows: int, now: datetime) -> dict[str, Any]:
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    svc = await _services(path, now)
    after: list[float] = []
    per_file = min(rows, ledger.MAX_ROWS)
    t0 = time.perf_counter()
    making = 0.0     # the bench making the CSV bytes (the bureau's upload): not the import's time
    try:
        for offset in range(0, rows, per_file):
            t1 = time.perf_counter()
            data = ledger_csv(min(per_file, rows - offset), offset=offset, today=now.date())
            making += time.perf_counter() - t1
            plan = await ledger.plan_import(svc.db, svc.calendar, ledger.read_table(data, "台账.csv"))
            await ledger.apply_import(svc.db, svc.calendar, plan, actor=None, now=now, settings=svc.settings)
            del data, plan
            after.append(round(_status_mb("VmRSS"), 1))
    finally:
        await svc.db.close()
    with_csv = time.perf_counter() - t0
    seconds = with_csv - making
    return {"rows": rows, "import_s": seconds, "rows_per_s": rows / seconds,
            "rows_per_s_with_csv_generation": rows / with_csv, "rss_peak_mb": _status_mb("VmHWM"),
            "rss_after_file_mb": after}


if __name__ == "__main__":
    when = datetime.fromisoformat(sys.argv[3]) if len(sys.argv) > 3 else datetime.now(UTC).replace(microsecond=0)
    result = asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2]), when))
    print(json.dumps(result))
