"""bot/delivery.py against the sandbox Bot API with a real PTB Bot: exactly once, limits, faults, 403."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram.ext import AIORateLimiter, ExtBot

from bot.bootstrap import build_renderers, history_labels
from bot.clock import FakeClock, SystemClock, iso
from bot.delivery import (
    Delivery,
    DeliveryConfig,
    in_send_window,
    mark_reachable,
    next_window_opening,
)
from bot.domain import Kind, Notification
from bot.i18n import Translator
from bot.notify import Rendered, RendererRegistry
from bot.sandbox import SandboxServer
from bot.services import Services
from bot.settings import Settings
from bot.telegram_channel import TelegramChannel
from bot.workcalendar import WorkCalendar
from storage import outbox as repo
from storage import people as people_repo
from storage.db import Database
from storage.outbox import enqueue
from tests.reminder_helpers import TZ, add_case, add_department, add_person

# Two real kinds, one sent at once and one waiting for the send window, worded by test renderers.
TEST_KIND = Kind.RECEIPT_RECORDED
TEST_WINDOWED = Kind.REMINDER


async def _render(db: Database, t: Translator, payload: Mapping[str, Any]) -> Rendered:
    return Rendered(f"note {payload['n']}", [[("ok", "noop")]])


async def _render_w(db: Database, t: Translator, payload: Mapping[str, Any]) -> Rendered:
    return Rendered(f"windowed {payload['n']}")


TEST_RENDERERS = RendererRegistry(
    {**build_renderers(Path("files")).renderers, TEST_KIND: _render, TEST_WINDOWED: _render_w},
    windowed=frozenset({TEST_WINDOWED}),
)


@dataclass
class Env:
    sandbox: SandboxServer
    services: Services
    delivery: Delivery

    @property
    def db(self) -> Database:
        return self.services.db

    async def enqueue(self, person_id: int, n: int, kind: str = TEST_KIND, **payload: Any) -> None:
        now = self.services.now()
        async with self.db.transaction() as conn:
            await enqueue(conn, [Notification(f"t:{kind}:{person_id}:{n}", person_id, kind, {"n": n, **payload},
                                              now)], now=now)

    async def run_until_settled(self, timeout: float = 20) -> None:  # noqa: ASYNC109 - a plain deadline
        """Run the delivery loop until nothing is pending or sending."""
        stop = False
        task = asyncio.create_task(self.delivery.run(should_stop=lambda: stop))
        try:
            loop = asyncio.get_running_loop()
            end = loop.time() + timeout
            while loop.time() < end:
                counts = await repo.state_counts(self.db)
                if not counts.get("pending") and not counts.get("sending"):
                    return
                await asyncio.sleep(0.05)
            raise AssertionError(f"outbox not settled: {await repo.state_counts(self.db)}")
        finally:
            stop = True
            self.services.wake_delivery()
            await asyncio.wait_for(task, 10)


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        yield server


def settings(**reminders: Any) -> Settings:
    return Settings(reminders={"send_window": "00:00-23:59", "working_days_only": False, **reminders})


@pytest.fixture
async def env(tmp_path: Path, sandbox: SandboxServer) -> AsyncIterator[Env]:
    db = await Database.open(tmp_path / "rectbot.db")
    svc = Services(settings=settings(), db=db, clock=SystemClock(), renderers=TEST_RENDERERS,
                   history_labels=history_labels())
    bot = ExtBot(sandbox.token, base_url=sandbox.base_url, base_file_url=sandbox.base_file_url,
                 rate_limiter=AIORateLimiter(overall_max_rate=25, overall_time_period=1, max_retries=2))
    async with bot:
        yield Env(sandbox, svc, Delivery(TelegramChannel(bot), svc, DeliveryConfig(base_backoff=0.05, max_backoff=0.2)))
    await db.close()


async def people(env: Env, n: int, role: str = "liaison", department_id: int | None = None) -> list[tuple[int, int]]:
    """n sandbox users registered as people: [(person_id, telegram_id)]."""
    if role == "liaison" and department_id is None:
        department_id = await add_department(env.db, f"部门{n}{role}")
    out = []
    for _ in range(n):
        user = env.sandbox.create_user()
        out.append((await add_person(env.db, user.id, role, department_id), user.id))
    return out


async def test_every_row_sent_once_in_order_with_message_ids(env: Env) -> None:
    who = await people(env, 3)
    for pid, _tg in who:
        for n in range(3):
            await env.enqueue(pid, n)
    await env.run_until_settled()
    for _pid, tg in who:
        texts = [m.text for m in env.sandbox.messages(tg)]
        assert texts == ["note 0", "note 1", "note 2"]
        assert env.sandbox.messages(tg)[0].buttons == [("ok", "noop")]
    sent = await repo.rows(env.db, state="sent")
    assert len(sent) == 9 and all(r.telegram_message_id and r.sent_at and r.attempts == 1 for r in sent)
    assert env.sandbox.violations.total == 0  # 3 messages to one chat: paced 1/s


async def test_429_and_5xx_are_retried_and_everything_arrives_exactly_once(env: Env) -> None:
    who = await people(env, 6)
    env.sandbox.inject("sendMessage", "500", times=3)
    env.sandbox.inject("sendMessage", "502", times=1)
    env.sandbox.inject("sendMessage", "429", times=4, retry_after=1)
    for pid, _tg in who:
        await env.enqueue(pid, 1)
        await env.enqueue(pid, 2)
    await env.run_until_settled(timeout=40)
    for _pid, tg in who:  # each exactly once (a retried one may arrive after its successor)
        assert sorted(m.text for m in env.sandbox.messages(tg)) == ["note 1", "note 2"]
    rows = await repo.rows(env.db)
    assert {r.state for r in rows} == {"sent"}
    assert sum(r.attempts for r in rows) > len(rows)  # some were retried (attempts counted)
    assert env.sandbox.violations.total == 0


async def test_timeouts_and_dropped_connections_are_retried(env: Env) -> None:
    who = await people(env, 2)
    env.sandbox.inject("sendMessage", "disconnect", times=2)
    for pid, _tg in who:
        await env.enqueue(pid, 1)
    await env.run_until_settled(timeout=30)
    for _pid, tg in who:
        assert [m.text for m in env.sandbox.messages(tg)] == ["note 1"]


async def test_403_marks_unreachable_drops_rows_and_tells_supervisors(env: Env) -> None:
    dept = await add_department(env.db, "县水利局")
    (a, a_tg), (b, b_tg) = await people(env, 2, "liaison", dept)
    (_sup, sup_tg), = await people(env, 1, "supervisor")
    env.sandbox.block(a_tg)
    await env.enqueue(a, 1)
    await env.enqueue(a, 2)
    await env.run_until_settled()
    pa = await people_repo.person_by_id(env.db, a)
    assert pa is not None and not pa.reachable
    assert {r.state for r in await repo.rows(env.db)} == {"dropped"}
    audit = await env.db.fetchall("SELECT action FROM audit_log WHERE entity = 'person' AND entity_id = ?", (a,))
    assert [r[0] for r in audit] == ["person.unreachable"]
    assert env.sandbox.messages(sup_tg) == []  # b is still reachable: the department is covered

    env.sandbox.block(b_tg)
    await env.enqueue(b, 1)
    await env.run_until_settled()
    notice = env.sandbox.messages(sup_tg)
    assert len(notice) == 1 and "县水利局" in (notice[0].text or "")
    assert [r.kind for r in await repo.rows(env.db, state="sent")] == [Kind.NO_REACHABLE_LIAISON]
    # Later rows to an unreachable person are dropped without a request.
    calls = len(env.sandbox.calls("sendMessage"))
    await env.enqueue(b, 9)
    await env.run_until_settled()
    assert len(env.sandbox.calls("sendMessage")) == calls
    # Writing to the bot again makes them reachable.
    pb = await people_repo.person_by_id(env.db, b)
    assert pb is not None and await mark_reachable(env.services, pb)
    pb = await people_repo.person_by_id(env.db, b)
    assert pb is not None and pb.reachable


async def test_rows_interrupted_while_sending_are_retried_after_a_crash(env: Env) -> None:
    (pid, tg), = await people(env, 1)
    await env.enqueue(pid, 1)
    async with env.db.transaction():  # as if the process died right after claiming the row
        await env.db.conn.execute("UPDATE outbox SET state = 'sending', attempts = 1")
    assert await env.delivery.recover() == 1
    await env.run_until_settled()
    assert [m.text for m in env.sandbox.messages(tg)] == ["note 1"]
    row, = await repo.rows(env.db)
    assert row.state == "sent" and row.attempts == 2


async def test_duplicate_keys_are_never_enqueued_twice(env: Env) -> None:
    (pid, tg), = await people(env, 1)
    for _ in range(3):
        await env.enqueue(pid, 7)
    await env.run_until_settled()
    await env.enqueue(pid, 7)  # after it was sent, too
    await env.run_until_settled()
    assert [m.text for m in env.sandbox.messages(tg)] == ["note 7"]


async def test_windowed_kinds_wait_for_the_send_window(env: Env) -> None:
    (pid, tg), = await people(env, 1)
    clock = FakeClock(datetime(2026, 2, 17, 10, 0, tzinfo=TZ))  # 春节: not a working day
    env.services.settings = Settings(reminders={"send_window": "09:00-17:30"})
    env.services.clock = clock
    await env.enqueue(pid, 1, TEST_WINDOWED)
    await env.enqueue(pid, 2, TEST_KIND)
    stats = await env.delivery.drain()
    assert stats.sent == 1 and [m.text for m in env.sandbox.messages(tg)] == ["note 2"]
    clock.set(datetime(2026, 2, 24, 8, 59, tzinfo=TZ))  # working day, before the window
    assert (await env.delivery.drain()).fetched == 0
    clock.set(datetime(2026, 2, 24, 9, 0, tzinfo=TZ))
    await asyncio.sleep(1.1)  # per-chat pacing (real time)
    assert (await env.delivery.drain()).sent == 1
    assert [m.text for m in env.sandbox.messages(tg)] == ["note 2", "windowed 1"]


async def test_expired_rows_are_dropped_not_sent(env: Env) -> None:
    (pid, tg), = await people(env, 1)
    await env.enqueue(pid, 1, expires_at=iso(datetime.now(UTC) - timedelta(minutes=1)))
    await env.run_until_settled()
    assert env.sandbox.messages(tg) == []
    row, = await repo.rows(env.db)
    assert row.state == "dropped" and "expired" in (row.last_error or "")


def test_send_window_on_working_days() -> None:
    cal, s = WorkCalendar(), Settings()
    assert in_send_window(s, cal, datetime(2026, 2, 28, 10, tzinfo=TZ))       # make-up working Saturday
    assert not in_send_window(s, cal, datetime(2026, 3, 1, 10, tzinfo=TZ))    # Sunday
    assert not in_send_window(s, cal, datetime(2026, 3, 2, 17, 30, tzinfo=TZ))
    assert next_window_opening(s, cal, datetime(2026, 2, 13, 18, tzinfo=TZ)) == datetime(2026, 2, 14, 9, tzinfo=TZ)
    assert next_window_opening(s, cal, datetime(2026, 2, 14, 18, tzinfo=TZ)) == datetime(2026, 2, 24, 9, tzinfo=TZ)


async def test_a_liaison_moved_to_another_department_no_longer_gets_the_old_cases(env: Env) -> None:
    """Issue 13, finding 8: who may see the case is checked again when the row is sent."""
    old_dept = await add_department(env.db, "县教育局")
    new_dept = await add_department(env.db, "县民政局")
    (moved, moved_tg), (stays, stays_tg) = await people(env, 2, "liaison", old_dept)
    (sup, sup_tg), = await people(env, 1, "supervisor")
    case_id = await add_case(env.db, old_dept, project="义务教育均衡发展补助资金")
    now = env.services.now()
    async with env.db.transaction() as conn:
        await enqueue(conn, [Notification(f"t:case:{pid}", pid, TEST_KIND, {"n": pid}, now, case_id)
                             for pid in (moved, stays, sup)], now=now)
        await people_repo.upsert_person(conn, telegram_id=moved_tg, name="moved", username=None, role="liaison",
                                        department_id=new_dept, locale="zh_CN", created_at=iso(now))
    await env.run_until_settled()
    assert env.sandbox.messages(moved_tg) == []
    assert [m.text for m in env.sandbox.messages(stays_tg)] == [f"note {stays}"]
    assert [m.text for m in env.sandbox.messages(sup_tg)] == [f"note {sup}"]  # bureau staff see every case
    dropped = await repo.rows(env.db, state="dropped")
    assert [(r.person_id, r.last_error) for r in dropped] == [(moved, f"recipient may no longer see case {case_id}")]
    audit = await env.db.fetchall("SELECT actor, action, entity_id, after FROM audit_log WHERE entity = 'outbox'")
    assert [(a["actor"], a["action"], a["entity_id"]) for a in audit] == [("system", "outbox.dropped", dropped[0].id)]
    assert json.loads(audit[0]["after"])["reason"] == f"recipient may no longer see case {case_id}"


async def test_a_deactivated_person_and_a_vanished_case_get_nothing(env: Env) -> None:
    dept = await add_department(env.db, "县水利局")
    (gone, gone_tg), (other, other_tg) = await people(env, 2, "liaison", dept)
    case_id = await add_case(env.db, dept)
    now = env.services.now()
    async with env.db.transaction() as conn:
        await enqueue(conn, [Notification("t:gone", gone, TEST_KIND, {"n": 1}, now, case_id),
                             Notification("t:payload-only", other, TEST_KIND, {"n": 2, "case_id": 999}, now)], now=now)
        await conn.execute("UPDATE people SET active = 0 WHERE id = ?", (gone,))
    await env.run_until_settled()
    assert env.sandbox.messages(gone_tg) == [] and env.sandbox.messages(other_tg) == []
    reasons = sorted(r.last_error or "" for r in await repo.rows(env.db, state="dropped"))
    assert reasons == ["case 999 no longer exists", f"recipient may no longer see case {case_id}"]
    assert len(await env.db.fetchall("SELECT id FROM audit_log WHERE action = 'outbox.dropped'")) == 2
