"""The reminder sweep: load the cases whose next action is due, run the policy, enqueue, reschedule.

Set-based and batched so its cost follows what is due and the event loop never waits for it: each
batch of up to `limit` due cases is one transaction with a handful of queries whatever its size
(the due cases' deadline columns only, as `SweepCase` rows; every key already enqueued for them
with the ids of those still pending; the reachable liaisons of their departments; one executemany
of the new outbox rows; one executemany of the new plans), and the sweep yields to other updates
between batches. Superseded or no longer needed reminders are dropped by id, and only when the
batch has pending ones (one more statement; usually none). The batch is read inside its
transaction (writes are serialized by `Database.transaction`), so a feature changing a case at
the same moment (and setting next_action_at = now) is never overwritten with a stale plan, and the
pending rows it saw are still pending when it drops them: either the change is committed before
the batch reads the case, or it lands after and the case is swept again."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from bot.domain import Notification
from bot.reminders import REMINDER_KINDS, Recipients, policy
from bot.services import Services
from storage import outbox as outbox_repo
from storage import reminders as repo
from storage.outbox import enqueue

log = logging.getLogger(__name__)

SUPERSEDED = "superseded by a newer reminder"
NO_LONGER_NEEDED = "case no longer needs reminders"


@dataclass
class SweepStats:
    cases: int = 0
    enqueued: int = 0
    dropped: int = 0
    batches: int = 0


async def sweep(services: Services, *, now: datetime | None = None, limit: int = 200) -> SweepStats:
    """One pass over every case whose next_action_at has come; wakes delivery when it enqueued."""
    db = services.db
    now = now or services.now()
    stats = SweepStats()
    supervisors = tuple(await repo.reachable_people_by_role(db, "supervisor"))
    admins = tuple(await repo.reachable_people_by_role(db, "admin"))
    recipients: dict[int, Recipients] = {}  # per department, read once per sweep
    seen: set[int] = set()
    schedules: dict[object, object] = {}  # the policy's per-deadline part, computed once per sweep
    while True:
        async with db.transaction() as conn:
            batch = [c for c in await repo.cases_due_for_action(conn, now, limit=limit) if c.id not in seen]
            if not batch:
                break
            stats.batches += 1
            missing = {c.department_id for c in batch} - recipients.keys()
            if missing:
                for department, ids in (await repo.reachable_liaisons_by_department(conn, missing)).items():
                    recipients[department] = Recipients(ids, supervisors, admins)
            sent, pending = await outbox_repo.enqueued_for_cases(conn, (c.id for c in batch), REMINDER_KINDS)
            due: list[Notification] = []
            superseded: list[int] = []  # pending rows' ids
            finished: list[int] = []
            plans: list[tuple[int, datetime | None]] = []
            for case in batch:
                seen.add(case.id)
                result = policy(case, calendar=services.calendar, now=now, sent=sent[case.id],
                                settings=services.settings,
                                recipients=recipients[case.department_id],
                                cache=schedules)
                due += result.due
                waiting = pending.get(case.id)
                if result.current is not None and waiting:
                    # Coalesce: older steps still waiting (downtime, closed window) are superseded by the
                    # current ones; a case nobody must be reminded of any more loses all of them.
                    if result.current:
                        keep = {n.key for n in result.current}
                        superseded += [row_id for row_id, k in waiting if k not in keep]
                    else:
                        finished += [row_id for row_id, _k in waiting]
                plans.append((case.id, result.next_action_at))
                if result.skipped_steps and result.due:
                    log.debug("sweep: case %s coalesced missed steps %s into one message", case.id,
                             result.skipped_steps)
            stats.cases += len(batch)
            stats.enqueued += await enqueue(conn, due, now=now)
            stats.dropped += await outbox_repo.drop_pending_ids(conn, superseded, SUPERSEDED)
            stats.dropped += await outbox_repo.drop_pending_ids(conn, finished, NO_LONGER_NEEDED)
            await repo.set_next_actions(conn, plans)
        await asyncio.sleep(0)  # between batches: other people's updates go first
    if stats.enqueued:
        services.wake_delivery()
    if stats.cases:
        log.debug("sweep: %d case(s) in %d batch(es), %d enqueued, %d superseded", stats.cases, stats.batches,
                  stats.enqueued, stats.dropped)
    return stats
