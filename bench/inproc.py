"""Measurements taken in this process against a built database: sweep, digest, import, deadlines, fan-out."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import chinese_calendar

from bench import bench_deadlines
from bot import ledger
from bot.bootstrap import build_renderers, history_labels
from bot.clock import FakeClock, SystemClock, iso
from bot.digests import enqueue_daily_digests
from bot.domain import Kind, Notification
from bot.i18n import Translator
from bot.notify import Rendered, RendererRegistry
from bot.periods import Period, Unit, compute_deadline
from bot.schedules import build_calendar
from bot.services import Services
from bot.settings import Settings
from bot.sweep import sweep
from bot.workcalendar import WorkCalendar
from storage.db import Database
from storage.outbox import enqueue


def bench_settings(database: Path, files: Path) -> Settings:
    return Settings(
        storage={"database": str(database), "files": str(files)},
        reminders={"send_window": "00:00-23:59", "working_days_only": False},
        escalation={"digest_time": "00:00"},
    )


async def _services(path: Path, now: datetime) -> Services:
    db = await Database.open(path)
    settings = bench_settings(path, path.parent / "files")
    return Services(settings=settings, db=db, clock=FakeClock(now), calendar=await build_calendar(db),
                    renderers=build_renderers(settings.storage.files), history_labels=history_labels())


async def sweep_and_digest(path: Path, now: datetime) -> dict[str, Any]:
    """One sweep (the ~1 % of cases due) and one daily digest, timed; the database is changed."""
    svc = await _services(path, now)
    db = svc.db
    try:
        due_row = await db.fetchone("SELECT count(*) FROM cases WHERE next_action_at <= ?", (iso(now),))
        due = int(due_row[0]) if due_row else 0
        before_row = await db.fetchone("SELECT coalesce(max(id), 0) FROM outbox")
        before = int(before_row[0]) if before_row else 0
        t0 = time.perf_counter()
        stats = await sweep(svc, now=now)
        sweep_s = time.perf_counter() - t0
        rows_row = await db.fetchone(
            "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM outbox o JOIN people p ON p.id = o.person_id"
            " WHERE o.id > ? AND p.role = 'supervisor' AND o.kind = ? GROUP BY o.person_id)",
            (before, str(Kind.ESCALATION)))
        t0 = time.perf_counter()
        count = await enqueue_daily_digests(svc, force=True)
        digest_s = time.perf_counter() - t0
        payload = await db.fetchone("SELECT max(length(CAST(payload AS BLOB))) FROM outbox WHERE kind = ?",
                                    (str(Kind.DIGEST),))
        sent = await deliver_sweep(svc, before)
        return {
            "due_cases": due, "swept": stats.cases, "enqueued": stats.enqueued, "sweep_s": sweep_s,
            "escalation_rows_per_supervisor": int(rows_row[0]) if rows_row else 0, **sent,
            "digests": count, "digest_s": digest_s, "digest_payload_bytes": int(payload[0] or 0) if payload else 0,
        }
    finally:
        await db.close()


class CountingChannel:
    """A channel that takes every message at once and counts them per chat (what delivery sends)."""

    name = "bench"

    def __init__(self) -> None:
        self.per_chat: dict[int, int] = {}
        self.escalations: dict[int, int] = {}  # messages that are escalation notices, per chat
        self.last_id = 0

    async def send(self, chat_id: int, message: Rendered) -> int:
        self.per_chat[chat_id] = self.per_chat.get(chat_id, 0) + 1
        if message.text.startswith(("📣", "🚨")):
            self.escalations[chat_id] = self.escalations.get(chat_id, 0) + 1
        self.last_id += 1
        return self.last_id


async def deliver_sweep(svc: Services, before: int) -> dict[str, Any]:
    """Deliver what the sweep enqueued through the real Delivery (no pacing: a channel that answers
    at once) and count the escalation messages each supervisor's chat received."""
    from bot.delivery import Delivery, DeliveryConfig
    from storage import outbox as outbox_repo

    channel = CountingChannel()
    delivery = Delivery(channel, svc, DeliveryConfig(per_chat_interval=0.0, concurrency=8))
    t0 = time.perf_counter()
    while (await outbox_repo.state_counts(svc.db)).get("pending") and time.perf_counter() - t0 < 300:
        await delivery.drain()
    supervisors = [int(r[0]) for r in await svc.db.fetchall(
        "SELECT telegram_id FROM people WHERE role = 'supervisor' AND active = 1")]
    by_message = await svc.db.fetchone(
        "SELECT coalesce(max(n), 0) FROM (SELECT count(DISTINCT o.telegram_message_id) AS n FROM outbox o"
        " JOIN people p ON p.id = o.person_id WHERE o.id > ? AND p.role = 'supervisor' AND o.kind = ?"
        " AND o.state = 'sent' GROUP BY o.person_id)", (before, str(Kind.ESCALATION)))
    return {"max_escalation_messages_per_supervisor": max((channel.escalations.get(s, 0) for s in supervisors),
                                                          default=0),
            "max_escalation_message_ids_per_supervisor": int(by_message[0]) if by_message else 0,
            "delivery_messages": sum(channel.per_chat.values()), "delivery_rows_sent": delivery.totals.sent,
            "delivery_s": time.perf_counter() - t0}


async def sweep_none_due(path: Path, now: datetime) -> float:
    """A sweep when nothing is due (the common case every sweep_seconds), in seconds (median of 5)."""
    svc = await _services(path, now)
    try:
        await svc.db.conn.execute("UPDATE cases SET next_action_at = ? WHERE next_action_at <= ?",
                                  (iso(now + timedelta(days=1)), iso(now)))
        await svc.db.conn.commit()
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            await sweep(svc, now=now)
            times.append(time.perf_counter() - t0)
        return sorted(times)[2]
    finally:
        await svc.db.close()


SOURCE_LABEL = ledger.SOURCE_LABELS


def ledger_csv(rows: int, *, offset: int, today: date) -> bytes:
    """A ledger upload of `rows` monitoring cases over 300 departments (the import's own headers), feedback
    received 90 days ago, deadlines from 60 days ago to 180 days ahead (a quarter overdue)."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow([zh for _k, zh, _en, _r in ledger.IMPORT_COLUMNS])
    label = next(v for k, v in SOURCE_LABEL.items() if str(k) == "monitoring")
    for i in range(offset, offset + rows):
        due = today + timedelta(days=(i * 7919) % 240 - 60)
        received = today - timedelta(days=90)
        w.writerow([f"导入部门{i % 300:03d}", f"导入项目{i:07d}", label, "", "问题", "建议", f"财绩〔2026〕{i}号",
                    "", received.isoformat(), received.isoformat(), due.isoformat(), "", ""])
    return out.getvalue().encode("utf-8")


async def import_then_sweep(path: Path, rows: int, now: datetime) -> dict[str, Any]:
    """Import `rows` ledger rows (files of ≤ 50,000 rows) into a fresh database, then time the first sweep."""
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    svc = await _services(path, now)
    db = svc.db
    try:
        t0 = time.perf_counter()
        per_file = min(rows, ledger.MAX_ROWS)
        steps = {"make_csv_s": 0.0, "plan_s": 0.0, "apply_s": 0.0}   # results.meta.json only
        for offset in range(0, rows, per_file):
            t1 = time.perf_counter()
            data = ledger_csv(min(per_file, rows - offset), offset=offset, today=now.date())
            t2 = time.perf_counter()
            plan = await ledger.plan_import(db, svc.calendar, ledger.read_table(data, "台账.csv"))
            t3 = time.perf_counter()
            await ledger.apply_import(db, svc.calendar, plan, actor=None, now=now, settings=svc.settings)
            steps["make_csv_s"] += t2 - t1
            steps["plan_s"] += t3 - t2
            steps["apply_s"] += time.perf_counter() - t3
        # The import is planning and applying; making the CSV bytes is the bench standing in for the
        # bureau's upload, so it is not counted (it was until this run: both rates are in the meta).
        with_csv_s = time.perf_counter() - t0
        import_s = steps["plan_s"] + steps["apply_s"]
        later = now + timedelta(seconds=60)
        svc.clock = FakeClock(later)
        t0 = time.perf_counter()
        stats = await sweep(svc, now=later)
        sweep_s = time.perf_counter() - t0
        return {"rows": rows, "import_s": import_s, "rows_per_s": rows / import_s,
                "rows_per_s_with_csv_generation": rows / with_csv_s,
                "steps": {k: round(v, 2) for k, v in steps.items()},
                "first_sweep_s": sweep_s, "first_sweep_cases": stats.cases}
    finally:
        await db.close()


def deadlines(n: int, seed: int = 20201127) -> dict[str, float]:
    """The engine vs a chinesecalendar day loop and vs a day loop over a plain dict, same pairs.

    The engine twice: with its calendar's tables built inside the timed region (`engine_us`, as the
    first deadlines of a process pay), and per deadline with the tables already built
    (`engine_built_us`: what the bot pays per deadline, the calendar being built once per process);
    the speedups use the latter, the build is its own figure (`calendar_build_ms`). Each engine
    figure is the median of 5 passes over the pairs (the baselines run once: they take seconds).
    """
    pairs = bench_deadlines.make_pairs(n, seed)
    periods = [Period(a, Unit(u)) for _, a, u in pairs]
    t0 = time.perf_counter()
    cal = WorkCalendar()
    engine = [compute_deadline(s, p, cal).due for (s, _, _), p in zip(pairs, periods, strict=True)]
    t_engine = time.perf_counter() - t0
    t0 = time.perf_counter()
    fresh = WorkCalendar()
    compute_deadline(pairs[0][0], periods[0], fresh)  # builds the tables
    t_build = time.perf_counter() - t0
    passes = []
    for _ in range(5):
        t0 = time.perf_counter()
        built = [compute_deadline(s, p, cal).due for (s, _, _), p in zip(pairs, periods, strict=True)]
        passes.append(time.perf_counter() - t0)
    t_built = sorted(passes)[2]
    t0 = time.perf_counter()
    naive = [bench_deadlines.naive_due(s, a, u) for s, a, u in pairs]
    t_naive = time.perf_counter() - t0
    workday = {}
    d = date(2004, 1, 1)
    while d <= date(2026, 12, 31):
        workday[d] = chinese_calendar.is_workday(d)
        d += timedelta(days=1)
    t0 = time.perf_counter()
    with_dict = [dict_loop_due(workday, s, a, u) for s, a, u in pairs]
    t_dict = time.perf_counter() - t0
    if engine != naive or engine != with_dict or built != engine:
        raise AssertionError("the deadline engine and a baseline disagree")
    return {"n": n, "engine_us": t_engine / n * 1e6, "engine_built_us": t_built / n * 1e6,
            "calendar_build_ms": t_build * 1000, "naive_us": t_naive / n * 1e6, "dict_us": t_dict / n * 1e6,
            "speedup_daily": t_naive / t_built, "speedup_dict": t_dict / t_built,
            "speedup_daily_with_build": t_naive / t_engine, "speedup_dict_with_build": t_dict / t_engine}


def dict_loop_due(workday: Mapping[date, bool], start: date, amount: int, unit: str) -> date:
    """bench_deadlines.naive_due with the day's status looked up in a precomputed dict."""
    one = timedelta(days=1)
    if unit == "wd":
        d, counted = start, 0
        while counted < amount:
            d += one
            if workday[d]:
                counted += 1
        return d
    if unit == "m":
        y, m = divmod(start.month - 1 + amount, 12)
        y += start.year
        day = start.day
        while True:
            try:
                d = date(y, m + 1, day)
                break
            except ValueError:
                day -= 1
    else:
        d = start + timedelta(days=amount)
    while not workday[d]:
        d += one
    return d


BENCH_KIND = Kind.RECEIPT_RECORDED  # a kind sent at once, worded by the bench's own renderer


async def _render(db: Database, t: Translator, payload: Mapping[str, Any]) -> Rendered:
    return Rendered("⏰ 提醒：本事项的整改落实情况报告即将到期。")


async def fanout(sandbox: Any, path: Path, n: int) -> dict[str, Any]:
    """n notices to n distinct chats through the app's own pipeline: Delivery (default config) →
    TelegramChannel → a PTB bot with the app's flood_limiter() → the sandbox (which counts violations)."""
    from telegram.ext import ExtBot

    from bot.delivery import Delivery
    from bot.telegram_channel import TelegramChannel, flood_limiter
    from storage import outbox as outbox_repo

    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    db = await Database.open(path)
    settings = bench_settings(path, path.parent / "files")
    svc = Services(settings=settings, db=db, clock=SystemClock(), renderers=RendererRegistry({BENCH_KIND: _render}),
                   history_labels=history_labels())
    now = svc.now()
    users = [sandbox.create_user(user_id=600_000_000 + i) for i in range(n)]
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO departments (name, created_at) VALUES ('bench', ?)", (iso(now),))
        await conn.executemany(
            "INSERT INTO people (telegram_id, name, role, department_id, created_at) VALUES (?, ?, 'liaison', 1, ?)",
            [(u.id, f"L{i}", iso(now)) for i, u in enumerate(users)])
        ids = [r[0] for r in await (await conn.execute("SELECT id FROM people ORDER BY id")).fetchall()]
        await enqueue(conn, [Notification(f"bench:{p}", p, BENCH_KIND, {}, now) for p in ids], now=now)
    before_429 = sum(1 for c in sandbox.calls("sendMessage") if c.status == 429)
    before_v = sandbox.violations.total
    bot = ExtBot(sandbox.token, base_url=sandbox.base_url, rate_limiter=flood_limiter())
    async with bot:
        delivery = Delivery(TelegramChannel(bot), svc)
        t0 = time.monotonic()
        while (await outbox_repo.state_counts(db)).get("pending") and time.monotonic() - t0 < 600:
            await delivery.drain()
            await asyncio.sleep(0.01)
    chats = {u.id for u in users}
    sent = sorted(m.sent_at for m in _bot_messages(sandbox) if m.chat_id in chats)
    await db.close()
    rate = (len(sent) - 1) / (sent[-1] - sent[0]) if len(sent) > 1 and sent[-1] > sent[0] else 0.0
    calls_429 = sum(1 for c in sandbox.calls("sendMessage") if c.status == 429) - before_429
    return {"n": n, "delivered": len(sent), "rate": rate, "fraction": rate / 30.0,
            "violations": sandbox.violations.total - before_v, "http_429": calls_429}


def _bot_messages(sandbox: Any) -> list[Any]:
    return [m for m in sandbox.messages() if m.from_bot]


def dumps(data: Mapping[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)
