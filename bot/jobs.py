"""What the background jobs do, without Telegram: bot/app.py schedules these on PTB's JobQueue."""

from __future__ import annotations

import asyncio
import logging
import time

from bot.digests import enqueue_daily_digests, warn_missing_calendar
from bot.ledger import purge_stale_imports
from bot.schedules import build_calendar, calendar_signature
from bot.services import Services
from bot.sweep import sweep

log = logging.getLogger(__name__)


async def sweep_round(svc: Services) -> None:
    """Every reminders.sweep_seconds: due reminders and escalations, then today's digests if not yet sent."""
    await sweep(svc)
    await enqueue_daily_digests(svc)
    await warn_missing_calendar(svc)


async def check_database(svc: Services) -> str:
    """Once, a few seconds after polling began: the full quick_check that start-up no longer waits for."""
    verdict = await svc.db.quick_check()
    if verdict == "ok":
        log.info("database quick_check: ok")
    else:
        log.error("database quick_check FAILED: %s — stop the bot and restore the last backup", verdict)
    return verdict


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
