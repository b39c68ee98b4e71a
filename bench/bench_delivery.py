"""Outbox delivery speed against the sandbox Bot API: N recipients due at once, through a real PTB Bot.

    cd /work/main && /work/venv/bin/python bench/bench_delivery.py [N] [--rate R] [--faults]

Prints figures only: achieved rate (first to last accepted message, as the sandbox saw them),
flood violations counted by the sandbox, attempts; --faults injects 429s and 500s on the way.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from telegram.ext import AIORateLimiter, ExtBot

from bot.bootstrap import history_labels
from bot.clock import SystemClock, iso
from bot.delivery import Delivery, DeliveryConfig
from bot.domain import Kind, Notification
from bot.i18n import Translator
from bot.notify import Rendered, RendererRegistry
from bot.sandbox import SandboxServer
from bot.services import Services
from bot.settings import Settings
from bot.telegram_channel import TelegramChannel
from storage import outbox as repo
from storage.db import Database
from storage.outbox import enqueue

BENCH_KIND = Kind.RECEIPT_RECORDED  # a kind sent at once, worded by the bench's own renderer


async def _render(db: Database, t: Translator, payload: Mapping[str, Any]) -> Rendered:
    return Rendered("⏰ 提醒：本事项的整改落实情况报告即将到期。")


async def main(n: int, rate: float, faults: bool) -> None:
    with SandboxServer() as sandbox, tempfile.TemporaryDirectory() as tmp:
        db = await Database.open(Path(tmp) / "bench.db")
        svc = Services(settings=Settings(reminders={"send_window": "00:00-23:59", "working_days_only": False}),
                       db=db, clock=SystemClock(), renderers=RendererRegistry({BENCH_KIND: _render}),
                       history_labels=history_labels())
        now = svc.now()
        users = [sandbox.create_user() for _ in range(n)]
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO departments (name, created_at) VALUES ('bench', ?)", (iso(now),))
            await conn.executemany(
                "INSERT INTO people (telegram_id, name, role, department_id, created_at)"
                " VALUES (?, ?, 'liaison', 1, ?)", [(u.id, f"L{i}", iso(now)) for i, u in enumerate(users)])
            ids = [r[0] for r in await (await conn.execute("SELECT id FROM people ORDER BY id")).fetchall()]
            await enqueue(conn, [Notification(f"bench:{p}", p, BENCH_KIND, {}, now) for p in ids], now=now)
        if faults:
            sandbox.inject("sendMessage", "429", times=5, retry_after=1)
            sandbox.inject("sendMessage", "500", times=10)
        bot = ExtBot(sandbox.token, base_url=sandbox.base_url,
                     rate_limiter=AIORateLimiter(overall_max_rate=25, overall_time_period=1, max_retries=2))
        async with bot:
            delivery = Delivery(TelegramChannel(bot), svc, DeliveryConfig(overall_rate=rate, base_backoff=0.5))
            t0 = time.monotonic()
            while (await repo.state_counts(db)).get("pending"):
                await delivery.drain()
                await asyncio.sleep(0.05)
            wall = time.monotonic() - t0
        sent = sorted(m.sent_at for m in sandbox.messages())
        counts = await repo.state_counts(db)
        attempts = (await db.fetchone("SELECT sum(attempts) FROM outbox"))[0]  # type: ignore[index]
        await db.close()
        print(f"recipients            {n}")
        print(f"outbox states         {counts}")
        print(f"attempts              {attempts}")
        print(f"wall time             {wall:.1f} s")
        print(f"achieved rate         {(len(sent) - 1) / (sent[-1] - sent[0]):.1f} messages/s (target {rate})")
        print(f"flood violations      {sandbox.violations.total} {sandbox.violations.by_kind}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=25.0)
    ap.add_argument("--faults", action="store_true")
    args = ap.parse_args()
    asyncio.run(main(args.n, args.rate, args.faults))
