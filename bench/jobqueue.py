"""PTB's usual pattern as a baseline: one JobQueue.run_once job per reminder (as in its timerbot example).

Run as its own process (`python -m bench.jobqueue DB`) so its RSS is its own; prints one JSON line.
For every open case of the database it schedules one job per reminder step still ahead
(reminders.before_due_working_days, 10/3/1/0 working days ≈ 14/4/1/0 calendar days before the
deadline) and one for the next overdue reminder; the figures are the time to schedule them all
and the process's RSS once they are scheduled.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from telegram.ext import Application, ContextTypes

STEPS_DAYS = (14, 4, 1, 0)


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def _remind(context: ContextTypes.DEFAULT_TYPE) -> None:  # never runs: every job is in the future
    await context.bot.send_message(chat_id=context.job.chat_id, text=str(context.job.data))  # type: ignore[union-attr]


async def main(path: str) -> dict[str, Any]:
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT c.id, c.due_on, c.department_id FROM cases c"
                        " WHERE c.status IN ('in_progress', 'returned') AND c.due_on IS NOT NULL").fetchall()
    conn.close()
    app = Application.builder().token("123456:BENCH").build()
    jq = app.job_queue
    assert jq is not None
    now = datetime.now(UTC)
    today = now.date()
    rss_before = rss_mb()
    await jq.start()
    t0 = time.perf_counter()
    jobs = 0
    for case_id, due_on, dept in rows:
        due = date.fromisoformat(due_on)
        whens = [due - timedelta(days=d) for d in STEPS_DAYS if due - timedelta(days=d) > today]
        if not whens:
            whens = [today + timedelta(days=3)]
        for when in whens:
            at = datetime(when.year, when.month, when.day, 1, 30, tzinfo=UTC)
            jq.run_once(_remind, when=at, chat_id=dept, data=case_id, name=f"r{case_id}:{when}")
            jobs += 1
    schedule_s = time.perf_counter() - t0
    rss_after = rss_mb()
    await jq.stop(wait=False)
    return {"jobs": jobs, "schedule_s": schedule_s, "rss_mb": rss_after, "rss_before_mb": rss_before}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1]))))
