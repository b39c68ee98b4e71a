"""Issue 13.2: the Bot API misbehaves while the real `rectbot run` delivers 300 notices.

Seeded per-request faults on sendMessage: 10 % 429 (retry_after 1-3 s), 5 % 500, 2 % answers
slower than PTB's 5 s read timeout, and 403 for the chats of people who blocked the bot. The
bot must not crash; every notice arrives, or its recipient is marked unreachable (audited, the
row dropped) and, when a department thereby loses its last liaison, the supervisors are told.

A timed-out request is ambiguous (Telegram may have sent the message): the outbox retries it,
so a recipient whose send timed out may get one copy more per timeout, never fewer."""

from __future__ import annotations

import random
import time
from collections import Counter
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

SEED = 1302
DEPARTMENTS, LIAISONS_EACH, SUPERVISORS = 30, 10, 4
FULLY_BLOCKED, SCATTERED_BLOCKED = 3, 15
CLIENT_TIMEOUT = 5.0  # PTB's default read timeout, which rectbot keeps
RATES = {"429": 0.10, "500": 0.05, "slow": 0.02}
NO_LIAISON = "没有可联系的联络员"
Factory = Callable[..., RectbotProcess]

pytestmark = [pytest.mark.e2e, pytest.mark.faults, pytest.mark.slow]


def test_faulty_bot_api_delivers_or_flags_every_notice(
    sandbox: SandboxServer, rectbot: Factory, figures: Figures
) -> None:
    rng = random.Random(SEED)
    bot = rectbot({"testing": {"clock_start": CLOCK}})
    bot.cli("db", "upgrade")
    names = [f"县{i:02d}局" for i in range(DEPARTMENTS)]
    liaisons = {name: [sandbox.create_user(first_name=f"{name}联络员{j}") for j in range(LIAISONS_EACH)]
                for name in names}
    supervisors = [sandbox.create_user(first_name=f"督办员{i}") for i in range(SUPERVISORS)]
    conn = connect(bot.database)
    try:
        conn.execute("BEGIN")
        dept_ids = {name: add_department(conn, name) for name in names}
        add_people(conn, [(u.id, u.info.first_name, "supervisor", None) for u in supervisors])
        for name in names:  # each liaison is reminded of a case of their own department (delivery re-checks)
            people = add_people(conn, [(u.id, u.info.first_name, "liaison", dept_ids[name]) for u in liaisons[name]])
            enqueue_reminders(conn, add_case(conn, dept_ids[name]), people, tag="faults")
        conn.execute("COMMIT")
    finally:
        conn.close()

    gone_departments = rng.sample(names, FULLY_BLOCKED)
    blocked = {u.id for name in gone_departments for u in liaisons[name]}
    for name in rng.sample([n for n in names if n not in gone_departments], SCATTERED_BLOCKED):
        blocked.add(rng.choice(liaisons[name]).id)
    for chat in blocked:
        sandbox.block(chat)
    faults = sandbox.inject_random("sendMessage", RATES, seed=SEED, retry_after=(1, 3),
                                   delay=CLIENT_TIMEOUT + 1.0)
    recipients = [u.id for us in liaisons.values() for u in us]

    started = time.monotonic()
    bot.start()
    expected_told = FULLY_BLOCKED * SUPERVISORS
    sandbox.wait_until(lambda: sum(received(sandbox, [s.id for s in supervisors], NO_LIAISON).values())
                       >= expected_told or None, timeout=150, what="supervisors told")
    states = wait_settled(bot.database, timeout=150)
    elapsed = time.monotonic() - started
    still_running = bot.proc is not None and bot.proc.poll() is None
    time.sleep(CLIENT_TIMEOUT + 1.5)  # let answers still held by slow faults land before counting
    bot.stop()

    per_chat = received(sandbox, recipients, contains="提醒")
    timeouts = Counter(chat for kind, chat in faults.met if kind == "slow" and chat is not None)
    reachable = [c for c in recipients if c not in blocked]
    missing = [c for c in reachable if per_chat[c] == 0]
    over = {c: per_chat[c] for c in reachable if per_chat[c] > 1 + timeouts[c]}
    duplicates = sum(n - 1 for c, n in per_chat.items() if n > 1)
    leaked_to_blocked = [c for c in blocked if per_chat[c]]
    told: Counter[tuple[int, str]] = Counter()
    for s in supervisors:
        for m in sandbox.messages(s):
            for name in names:
                if NO_LIAISON in (m.text or "") and name in (m.text or ""):
                    told[(s.id, name)] += 1
    with connect(bot.database) as conn:
        unreachable = {r[0] for r in conn.execute("SELECT telegram_id FROM people WHERE reachable = 0")}
        audited = conn.execute("SELECT count(*) FROM audit_log WHERE action = 'person.unreachable'").fetchone()[0]
        dropped = {r[0] for r in conn.execute(
            "SELECT p.telegram_id FROM outbox o JOIN people p ON p.id = o.person_id"
            " WHERE o.state = 'dropped' AND o.kind = 'reminder'")}
        attempts = conn.execute("SELECT sum(attempts) FROM outbox").fetchone()[0]
    figures.update(
        seed=SEED, notices=len(recipients), blocked_chats=len(blocked), fully_blocked_departments=FULLY_BLOCKED,
        send_requests=faults.calls, faults_met=dict(faults.hits), attempts=attempts, outbox_states=states,
        delivered_recipients=sum(1 for c in reachable if per_chat[c]), missing=len(missing),
        duplicates=duplicates, duplicates_explained_by_timeouts=sum(min(timeouts[c], per_chat[c] - 1)
                                                                   for c in reachable if per_chat[c] > 1),
        marked_unreachable=len(unreachable), audited_unreachable=audited,
        supervisor_notices=sum(told.values()), expected_supervisor_notices=expected_told,
        settle_seconds=round(elapsed, 1), flood_violations=sandbox.violations.total,
        integrity=integrity(bot.database),
    )
    summary = f"figures: {figures}"
    assert still_running, f"the bot process died; {summary}"
    assert "Traceback" not in bot.log() and "unhandled error" not in bot.log(), summary
    assert sandbox.token not in bot.log(), summary  # the log never carries the bot token
    assert not missing and not over, f"missing {missing[:5]}, over {list(over.items())[:5]}; {summary}"
    assert not leaked_to_blocked, summary
    assert unreachable == blocked and dropped == blocked and audited == len(blocked), summary
    assert set(told) == {(s.id, name) for s in supervisors for name in gone_departments}, summary
    assert all(n <= 1 + sum(timeouts[s.id] for s in supervisors) for n in told.values()), summary
    assert faults.hits.get("429") and faults.hits.get("500") and faults.hits.get("slow"), summary
    assert sandbox.violations.total == 0 and figures["integrity"] == "ok", summary
