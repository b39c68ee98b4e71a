"""Issue 13.1: SIGKILL the real `rectbot run` 20 times during a 1,000-notice fan-out.

The outbox promises at-least-once with at most one duplicate per crash: a row is claimed
(pending → sending) before its request and recorded sent right after, and `sending` rows are
retried at start-up. Kill points are seeded and spread over the drain by delivery progress,
with a random phase inside the send cycle, so every segment of the run gets a crash."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable

import pytest

from bot.sandbox import SandboxServer
from tests.e2e.harness import RectbotProcess
from tests.faults.conftest import Figures
from tests.faults.helpers import (
    CLOCK,
    add_case,
    add_department,
    add_people,
    connect,
    enqueue_reminders,
    integrity,
    received,
    wait_settled,
)

SEED = 20260320
NOTICES = 1000
CRASHES = 20
Factory = Callable[..., RectbotProcess]

pytestmark = [pytest.mark.e2e, pytest.mark.faults, pytest.mark.slow]


def test_sigkill_during_fan_out_loses_nothing(sandbox: SandboxServer, rectbot: Factory, figures: Figures) -> None:
    rng = random.Random(SEED)
    bot = rectbot({"testing": {"clock_start": CLOCK}})
    bot.cli("db", "upgrade")
    users = [sandbox.create_user(first_name=f"L{i}") for i in range(NOTICES)]
    ids = [u.id for u in users]
    conn = connect(bot.database)
    try:
        conn.execute("BEGIN")
        dept = add_department(conn, "县教育局")
        people = add_people(conn, [(u.id, f"联络员{i}", "liaison", dept) for i, u in enumerate(users)])
        case_id = add_case(conn, dept)
        enqueue_reminders(conn, case_id, people, tag="fanout")
        conn.execute("COMMIT")
    finally:
        conn.close()

    # Kill after the k-th delivered notice for 20 seeded k spread over the drain, plus 0-400 ms; each run
    # delivers at least a few notices first, so every crash falls inside the fan-out, not in start-up.
    kill_after = sorted(rng.sample(range(25, NOTICES - 25), CRASHES))
    phases = [rng.uniform(0.0, 0.4) for _ in kill_after]
    started = time.monotonic()
    delivered_at_kill: list[int] = []
    for k, phase in zip(kill_after, phases, strict=True):
        bot.start()
        target = max(k, sum(received(sandbox, ids).values()) + 5)

        def reached(target: int = target) -> bool | None:
            return sum(received(sandbox, ids).values()) >= target or None

        sandbox.wait_until(reached, timeout=60, what=f"{target} notices delivered")
        time.sleep(phase)
        bot.kill()
        delivered_at_kill.append(sum(received(sandbox, ids).values()))
    bot.start()
    states = wait_settled(bot.database, timeout=120)
    drain_seconds = time.monotonic() - started
    bot.stop()

    per_chat = received(sandbox, ids, contains="提醒")
    lost = [cid for cid in ids if per_chat[cid] == 0]
    duplicates = sum(n - 1 for n in per_chat.values() if n > 1)
    recovered = [int(n) for n in re.findall(r"(\d+) notification\(s\) were interrupted while sending", bot.log())]
    figures.update(
        seed=SEED, notices=NOTICES, crashes=CRASHES, starts=bot.starts, kill_after=kill_after,
        delivered_at_kill=delivered_at_kill, lost=len(lost), duplicates=duplicates,
        max_copies=max(per_chat.values()), interrupted_rows_recovered=sum(recovered),
        outbox_states=states, flood_violations=sandbox.violations.total,
        drain_seconds=round(drain_seconds, 1), integrity=integrity(bot.database),
    )
    summary = f"figures: {figures}"
    assert not lost, f"{len(lost)} recipient(s) never got their notice; {summary}"
    assert duplicates <= CRASHES, f"{duplicates} duplicates for {CRASHES} crashes; {summary}"
    assert states == {"sent": NOTICES}, summary
    assert figures["integrity"] == "ok", summary
    assert sandbox.violations.total == 0, summary
    assert "Traceback" not in bot.log() and "unhandled error" not in bot.log(), summary
    assert sandbox.token not in bot.log(), summary  # the log never carries the bot token
