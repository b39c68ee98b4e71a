"""The reminder sweep: load the cases whose next action is due, run the policy, enqueue, reschedule.

Each case is handled in its own transaction that re-reads the case, so a feature changing the
case at the same moment (and setting next_action_at = now) is never overwritten with a stale
plan: either the change is seen here, or it lands after and the case is swept again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from bot.reminders import REMINDER_KINDS, Recipients, policy
from bot.services import Services
from storage import cases as cases_repo
from storage import outbox as outbox_repo
from storage import reminders as repo
from storage.outbox import enqueue

log = logging.getLogger(__name__)


@dataclass
class SweepStats:
    cases: int = 0
    enqueued: int = 0
    dropped: int = 0


async def sweep(services: Services, *, now: datetime | None = None, limit: int = 500) -> SweepStats:
    """One pass over every case whose next_action_at has come; wakes delivery when it enqueued."""
    db = services.db
    now = now or services.now()
    stats = SweepStats()
    supervisors = tuple(await repo.reachable_people_by_role(db, "supervisor"))
    admins = tuple(await repo.reachable_people_by_role(db, "admin"))
    liaisons: dict[int, tuple[int, ...]] = {}
    seen: set[int] = set()
    while True:
        batch = [c for c in await repo.cases_due_for_action(db, now, limit=limit) if c.id not in seen]
        if not batch:
            break
        for listed in batch:
            seen.add(listed.id)
            if listed.department_id not in liaisons:
                liaisons[listed.department_id] = tuple(await repo.reachable_liaisons(db, listed.department_id))
            recipients = Recipients(liaisons[listed.department_id], supervisors, admins)
            async with db.transaction() as conn:
                case = await cases_repo.get_case(conn, listed.id)
                if case is None or case.next_action_at is None or case.next_action_at > now:
                    continue  # changed meanwhile: its new plan stands
                sent = await outbox_repo.keys_for_case(conn, case.id)
                result = policy(case, calendar=services.calendar, now=now, sent=sent,
                                settings=services.settings, recipients=recipients)
                stats.cases += 1
                if result.due:
                    stats.enqueued += await enqueue(conn, result.due, now=now)
                if result.current is not None:
                    # Coalesce: older steps still waiting (downtime, closed window) are superseded by the
                    # current ones; a case nobody must be reminded of any more loses all of them.
                    stats.dropped += await outbox_repo.drop_pending_for_case(
                        conn, case.id, REMINDER_KINDS,
                        "superseded by a newer reminder" if result.current else "case no longer needs reminders",
                        keep=[n.key for n in result.current],
                    )
                await repo.set_next_action(conn, case.id, result.next_action_at)
            if result.skipped_steps and result.due:
                log.info("sweep: case %s coalesced missed steps %s into one message", case.id, result.skipped_steps)
    if stats.enqueued:
        services.wake_delivery()
    if stats.cases:
        log.debug("sweep: %d case(s), %d enqueued, %d superseded", stats.cases, stats.enqueued, stats.dropped)
    return stats
