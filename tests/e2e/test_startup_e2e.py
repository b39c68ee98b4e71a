"""Issue 14 item 6 end to end: polling begins before anything that takes time or grows with the data.

The real `rectbot run` against the sandbox: the start-up log line says what opening cost, and the
first getUpdates comes before the default menus (Bot API round trips), the full quick_check and
the first sweep that finds something due.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.sandbox import SandboxServer
from tests.e2e.harness import RectbotProcess
from tests.e2e.test_logs_e2e import events, records
from tests.e2e.test_reminders_e2e import CLOCK, insert_case

Factory = Callable[..., RectbotProcess]


def test_polling_begins_before_the_menus_the_check_and_the_sweep(sandbox: SandboxServer, rectbot: Factory) -> None:
    bot = rectbot({"testing": {"clock_start": CLOCK}})
    bot.add_department("县教育局")
    insert_case(bot, "县教育局", "2026-02-28")  # overdue: the first sweep has work
    bot.start(args=["--log-format", "json"])
    end = time.monotonic() + 30          # the quick_check runs 3 s after polling began, off the loop
    while '"database checked"' not in bot.log() or '"sweep done"' not in bot.log():
        assert time.monotonic() < end, bot.log()[-2000:]
        time.sleep(0.2)
    assert bot.stop() == 0

    recs = records(bot)
    names = [r["event"] for r in recs]
    [started] = events(recs, "rectbot started")
    for key in ("open_ms", "db_ms", "wal_kib", "migrated", "since_start_ms"):
        assert isinstance(started[key], int) and started[key] >= 0, (key, started)
    assert started["migrated"] == 0      # `rectbot run` checked (and migrated) the database first
    [began] = events(recs, "polling began")
    assert began["since_start_ms"] >= started["since_start_ms"]
    assert names.index("rectbot started") < names.index("polling began") < names.index("sweep done")
    assert names.index("polling began") < names.index("database checked")

    calls = [c.method for c in sandbox.calls()]
    first_poll = calls.index("getUpdates")
    assert "setMyCommands" in calls[first_poll:] and "setMyCommands" not in calls[:first_poll], calls[:12]
