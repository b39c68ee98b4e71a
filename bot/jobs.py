"""What the background jobs do, without Telegram: bot/app.py schedules these on PTB's JobQueue.

Each job writes its operator's summary line here (`log_event`, table in docs/OPERATIONS.md) from
what the domain functions return, so those modules stay about their work.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from bot.delivery import Delivery, DeliveryStats
from bot.digests import enqueue_daily_digests, warn_missing_calendar
from bot.ledger import purge_stale_imports
from bot.logs import log_event
from bot.schedules import build_calendar, calendar_signature
from bot.services import Services
from bot.sweep import sweep
from storage import outbox as outbox_repo
from storage import summary

log = logging.getLogger(__name__)


async def sweep_round(svc: Services) -> None:
    """Every reminders.sweep_seconds: due reminders and escalations, then today's digests if not yet sent.

    `sweep done` only when some case was due: an idle sweep every minute would be a line a minute."""
    started = time.monotonic()
    stats = await sweep(svc)
    if stats.cases:
        log_event(log, "sweep done", due=stats.cases, queued=stats.enqueued, superseded=stats.dropped,
                  batches=stats.batches, ms=_ms_since(started))
    await enqueue_daily_digests(svc)
    await warn_missing_calendar(svc)


async def check_database(svc: Services) -> str:
    """Once, a few seconds after polling began: the full quick_check that start-up no longer waits for."""
    verdict = await svc.db.quick_check()
    if verdict == "ok":
        log_event(log, "database checked", result="ok", **await summary.case_counts(svc.db.path))
    else:
        log.error("database quick_check FAILED: %s — stop the bot and restore the last backup", verdict)
    return verdict


CHECKPOINT_SECONDS = 10   # a PASSIVE checkpoint with nothing to copy reads the WAL index only


async def checkpoint(svc: Services) -> tuple[int, int]:
    """Every CHECKPOINT_SECONDS: the WAL copied into the database off the shared connection (storage.db)."""
    frames, done = await svc.db.checkpoint()
    if frames < 0:
        log.debug("WAL checkpoint skipped: the database was busy")
    elif done:
        log.debug("WAL checkpoint: %d of %d frames", done, frames)
    return frames, done


async def daily_digest(svc: Services) -> None:
    """At escalation.digest_time (the sweep also catches a digest missed while the bot was down)."""
    await enqueue_daily_digests(svc)
    await warn_missing_calendar(svc)


async def refresh_calendar(svc: Services) -> bool:
    """Pick up holiday years loaded with `rectbot calendar load` while the bot runs; True when rebuilt."""
    signature = await calendar_signature(svc.db)
    if svc.calendar_signature == signature:
        return False
    svc.calendar = await build_calendar(svc.db)
    svc.calendar_signature = signature
    return True


async def purge_imports(svc: Services) -> int:
    """Hourly: delete ledger uploads that waited over a day for 导入/取消 (nobody will press them now)."""
    return await asyncio.to_thread(purge_stale_imports, svc.evidence_root, now=time.time())


class LoggedDelivery(Delivery):
    """The delivery loop, with one `delivery round` line per round that sent, retried, dropped or failed
    something (never one per message, never one for an empty round).

    A subclass so bot/delivery.py stays about sending: the summary, and the outbox count it costs,
    live with the other jobs' summaries.
    """

    async def drain(self, *, should_stop: Callable[[], bool] = lambda: False) -> DeliveryStats:
        started = time.monotonic()
        stats = await super().drain(should_stop=should_stop)
        if stats.sent or stats.retried or stats.dropped or stats.failed:
            waiting = await outbox_repo.state_counts(self.db)
            log_event(log, "delivery round", sent=stats.sent, failed=stats.failed, retried=stats.retried,
                      dropped=stats.dropped, rate_limited=stats.rate_limited,
                      pending=waiting.get("pending", 0) + waiting.get("sending", 0), ms=_ms_since(started))
        return stats


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
