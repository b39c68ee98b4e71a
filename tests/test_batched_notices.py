"""One message per person per sweep (issue 14): a person's reminders, overdue notices or escalations
of one sweep go out as one paged list; each case's step is still one outbox row with its own key,
sent exactly once, and a crash between the send and its record costs one duplicate message, never
a second record of a step."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.bootstrap import build_renderers, history_labels
from bot.callbacks import OPEN_CASE, PAGE, REPORT
from bot.clock import FakeClock
from bot.delivery import Delivery, DeliveryConfig
from bot.domain import Kind
from bot.i18n import translator_for_locale
from bot.notify import Rendered
from bot.reminders import (
    notice_page,
    notice_rows,
    render_escalation,
    render_escalation_list,
    render_reminder,
    reply_chooser,
)
from bot.services import Services
from bot.settings import Settings
from bot.sweep import sweep
from storage import outbox as repo
from storage import people as people_repo
from storage import reports as reports_repo
from storage.db import Database
from tests.reminder_helpers import add_case, add_department, add_person, local
from tests.test_delivery_channel import MemoryChannel

TODAY = date(2026, 2, 9)  # a Monday, a working day
LIAISON_CHAT, SUPERVISOR_CHAT, ADMIN_CHAT = 100, 200, 300
ZH = translator_for_locale("zh_CN")


@pytest.fixture
async def svc(tmp_path: Path) -> AsyncIterator[Services]:
    db = await Database.open(tmp_path / "rectbot.db")
    settings = Settings(reminders={"send_window": "00:00-23:59", "working_days_only": False})
    yield Services(settings=settings, db=db, clock=FakeClock(local(TODAY, 10, 0)),
                   renderers=build_renderers(Path("files")), history_labels=history_labels())
    await db.close()


async def people(svc: Services) -> tuple[int, int, int, int]:
    dept = await add_department(svc.db, "县教育局")
    liaison = await add_person(svc.db, LIAISON_CHAT, "liaison", dept)
    sup = await add_person(svc.db, SUPERVISOR_CHAT, "supervisor")
    admin = await add_person(svc.db, ADMIN_CHAT, "admin")
    return dept, liaison, sup, admin


async def cases_due(svc: Services, dept: int, n: int, *, due: date | None = None) -> list[int]:
    """n cases whose report deadline is a few working days away (each gets its 3-day reminder)."""
    return [await add_case(svc.db, dept, project=f"项目{i:03d}", due_on=due or TODAY + timedelta(days=2 + i % 2))
            for i in range(n)]


async def deliver(svc: Services, channel: MemoryChannel) -> Delivery:
    delivery = Delivery(channel, svc, DeliveryConfig(per_chat_interval=0.0, base_backoff=0.01))
    for _ in range(10):
        stats = await delivery.drain()
        if not stats.fetched:
            break
    return delivery


def buttons_of(message: Rendered) -> list[str]:
    return [data for row in message.buttons for _label, data in row]


def within_limits(message: Rendered) -> None:
    assert len(message.text) <= 4096
    assert sum(len(r) for r in message.buttons) <= 100 and all(len(r) <= 8 for r in message.buttons)
    assert all(len(data.encode()) <= 64 for data in buttons_of(message))


async def test_several_reminders_go_out_as_one_message_listing_them(svc: Services) -> None:
    dept, _liaison, _sup, _admin = await people(svc)
    ids = await cases_due(svc, dept, 3)
    assert (await sweep(svc)).enqueued == 3
    channel = MemoryChannel()
    delivery = await deliver(svc, channel)

    [message] = channel.inbox[LIAISON_CHAT]
    within_limits(message)
    lines = message.text.splitlines()
    assert lines[0] == "⏰ 提醒：您有3件整改事项的整改落实情况报告即将到期。"  # the count first
    for i, case_id in enumerate(ids):
        assert f"整改事项#{case_id}「项目{i:03d}」" in message.text
    assert message.text.count("整改报告截止日期：") == 3
    assert "距截止还有" in message.text  # the time left as the single reminder words it
    assert sorted(OPEN_CASE.build("o", c) for c in ids) == sorted(b for b in buttons_of(message) if b.startswith("cs:"))
    # Each case's step is its own row, all sent with the one message's id.
    rows = await repo.rows(svc.db, kind=Kind.REMINDER)
    assert len(rows) == 3 and {r.state for r in rows} == {"sent"}
    assert {r.telegram_message_id for r in rows} == {channel.ids[0]}
    assert len({r.key for r in rows}) == 3
    assert delivery.totals.sent == 3 and delivery.totals.messages == 1


async def test_a_single_reminder_reads_exactly_as_before(svc: Services) -> None:
    dept, _liaison, _sup, _admin = await people(svc)
    await cases_due(svc, dept, 1)
    await sweep(svc)
    channel = MemoryChannel()
    await deliver(svc, channel)
    [message] = channel.inbox[LIAISON_CHAT]
    [row] = await repo.rows(svc.db, kind=Kind.REMINDER)
    assert message == await render_reminder(svc.db, ZH, row.payload)
    assert message.text.startswith("⏰ 提醒：本事项的整改落实情况报告即将到期。")


async def test_more_than_a_page_is_paged_with_a_button_per_case(svc: Services) -> None:
    dept, liaison, _sup, _admin = await people(svc)
    ids = await cases_due(svc, dept, 25)
    await sweep(svc)
    channel = MemoryChannel()
    await deliver(svc, channel)

    [message] = channel.inbox[LIAISON_CHAT]
    within_limits(message)
    assert "您有25件" in message.text and "第1/3页" in message.text
    opens = [b for b in buttons_of(message) if b.startswith("cs:")]
    assert len(opens) == 10 and PAGE.build("nt", 2) in buttons_of(message)
    # ◀ ▶ recomputes a page from the rows that message carried, for its addressee only.
    person = await people_repo.person_by_id(svc.db, liaison)
    assert person is not None
    last = await notice_page(svc.db, svc.renderers, ZH, person, channel.ids[0], 3)
    assert last is not None
    within_limits(last)
    assert "第3/3页" in last.text and "21. " in last.text and "25. " in last.text
    assert len([b for b in buttons_of(last) if b.startswith("cs:")]) == 5
    assert PAGE.build("nt", 2) in buttons_of(last)
    assert ids  # the earliest deadlines first: the later-due half ends the list
    assert OPEN_CASE.build("o", max(ids[1::2])) in buttons_of(last)
    other = await people_repo.person_by_id(svc.db, await add_person(svc.db, 999, "liaison", dept))
    assert other is not None
    assert await notice_page(svc.db, svc.renderers, ZH, other, channel.ids[0], 1) is None


async def test_a_supervisor_gets_one_escalation_message_however_many_cases(svc: Services) -> None:
    dept, _liaison, _sup, _admin = await people(svc)
    # Overdue by 1 working day (level 1) and by more than 10 (level 2: the admins).
    late = [await add_case(svc.db, dept, project=f"逾期{i}", due_on=TODAY - timedelta(days=1 if i % 2 else 3))
            for i in range(130)]
    very_late = [await add_case(svc.db, dept, project=f"严重{i}", due_on=TODAY - timedelta(days=30))
                 for i in range(3)]
    await sweep(svc)
    channel = MemoryChannel()
    await deliver(svc, channel)

    [message] = channel.inbox[SUPERVISOR_CHAT]
    within_limits(message)
    assert message.text.startswith(f"📣 督办：本次新增{len(late) + len(very_late)}件整改事项逾期。")
    assert f"📣 一级督办：已逾期（{len(late) + len(very_late)}件）" in message.text
    assert "第1/14页" in message.text
    [admin_message] = channel.inbox[ADMIN_CHAT]
    assert "🚨 二级督办：存在拒不整改风险（3件）" in admin_message.text
    # The liaison's overdue notices: one message too.
    assert len(channel.inbox[LIAISON_CHAT]) == 1
    rows = await repo.rows(svc.db, kind=Kind.ESCALATION)
    assert len(rows) == 133 + 3 and {r.state for r in rows} == {"sent"}


async def test_escalation_list_groups_levels_and_one_item_reads_as_before(svc: Services) -> None:
    dept, *_ = await people(svc)
    a, b, c = [await add_case(svc.db, dept, project=p, due_on=TODAY - timedelta(days=20)) for p in "甲乙丙"]
    base = {"target": "report", "due": (TODAY - timedelta(days=20)).isoformat(), "provisional": False,
            "working_days_overdue": 14, "for_day": TODAY.isoformat()}
    payloads = [{**base, "case_id": a, "level": 1}, {**base, "case_id": b, "level": 2},
                {**base, "case_id": c, "level": 1}]
    listing = await render_escalation_list(svc.db, ZH, payloads, 1)
    text = listing.text
    assert text.index("二级督办") < text.index(f"#{b}「乙」") < text.index("一级督办") < text.index(f"#{a}「甲」")
    assert "单位：县教育局" in text and text.count("已逾期14个工作日。") == 3
    assert [r for r in listing.buttons if r[0][1] == "dg:overdue"] == [[("逾期清单", "dg:overdue")]]
    single = await render_escalation(svc.db, ZH, payloads[0])
    assert single.text.startswith("📣 督办：有整改事项已逾期")


class CrashAfterSend(MemoryChannel):
    """Telegram takes the message, then the process dies before the outbox records it."""

    def __init__(self) -> None:
        super().__init__()
        self.crash = True

    async def send(self, chat_id: int, message: Rendered) -> int:
        message_id = await super().send(chat_id, message)
        if self.crash:
            raise asyncio.CancelledError  # not an Exception: nothing after the send runs, like SIGKILL
        return message_id


async def test_a_crash_between_send_and_record_costs_one_duplicate_not_a_second_step(svc: Services) -> None:
    dept, _liaison, _sup, _admin = await people(svc)
    await cases_due(svc, dept, 4)
    await sweep(svc)
    channel = CrashAfterSend()
    with pytest.raises(asyncio.CancelledError):
        await Delivery(channel, svc, DeliveryConfig(per_chat_interval=0.0)).drain()
    rows = await repo.rows(svc.db, kind=Kind.REMINDER)
    assert {r.state for r in rows} == {"sending"} and len(rows) == 4  # claimed together, not recorded

    channel.crash = False
    restarted = Delivery(channel, svc, DeliveryConfig(per_chat_interval=0.0))
    assert await restarted.recover() == 4
    await restarted.drain()
    assert len(channel.inbox[LIAISON_CHAT]) == 2  # the one list, once more (at most one duplicate)
    rows = await repo.rows(svc.db, kind=Kind.REMINDER)
    assert len(rows) == 4 and {r.state for r in rows} == {"sent"}
    assert {r.telegram_message_id for r in rows} == {channel.ids[-1]}
    assert {r.attempts for r in rows} == {2}
    # The steps are recorded once: sweeping again (even forced) enqueues nothing.
    async with svc.db.transaction() as conn:
        await conn.execute("UPDATE cases SET next_action_at = '2000-01-01T00:00:00+00:00'")
    assert (await sweep(svc)).enqueued == 0


async def test_a_failed_send_retries_every_row_of_the_message_together(svc: Services) -> None:
    from bot.channel import Transient

    dept, _liaison, _sup, _admin = await people(svc)
    await cases_due(svc, dept, 3)
    await sweep(svc)
    channel = MemoryChannel()
    channel.faults[LIAISON_CHAT] = [Transient("TimedOut")]
    delivery = Delivery(channel, svc, DeliveryConfig(per_chat_interval=0.0, base_backoff=0.0))
    await delivery.drain()
    rows = await repo.rows(svc.db, kind=Kind.REMINDER)
    assert {r.state for r in rows} == {"pending"} and {r.attempts for r in rows} == {1}
    await delivery.drain()
    assert len(channel.inbox[LIAISON_CHAT]) == 1
    assert {r.state for r in await repo.rows(svc.db, kind=Kind.REMINDER)} == {"sent"}


async def test_a_reply_to_a_list_gets_a_case_chooser(svc: Services) -> None:
    dept, liaison, sup, _admin = await people(svc)
    ids = await cases_due(svc, dept, 12)
    await sweep(svc)
    channel = MemoryChannel()
    await deliver(svc, channel)
    message_id = channel.ids[0]
    # No guess: the report journey's "case of this message" says none, the chooser asks.
    assert await reports_repo.case_of_message(svc.db, liaison, message_id) is None
    person = await people_repo.person_by_id(svc.db, liaison)
    assert person is not None
    rows = await notice_rows(svc.db, person, message_id)
    assert len(rows) == 12
    chooser = reply_chooser(ZH, person, message_id, rows, 1)
    within_limits(chooser)
    assert "该消息列出了12件事项" in chooser.text and "本次回复未记录" in chooser.text
    assert REPORT.build("c", sorted(ids)[0]) in buttons_of(chooser)
    assert PAGE.build("nr", message_id, 2) in buttons_of(chooser)
    second = reply_chooser(ZH, person, message_id, rows, 2)
    assert [b for b in buttons_of(second) if b.startswith("rp:")] == [REPORT.build("c", c) for c in sorted(ids)[10:]]
    # Somebody else's message id gives them nothing.
    boss = await people_repo.person_by_id(svc.db, sup)
    assert boss is not None and await notice_rows(svc.db, boss, message_id) == []
    # A message about one case still names it.
    single = await add_case(svc.db, dept, project="单件", due_on=TODAY + timedelta(days=30))
    async with svc.db.transaction() as conn:
        await conn.execute("UPDATE outbox SET telegram_message_id = 7777 WHERE id = ?", (rows[0].id,))
    assert await reports_repo.case_of_message(svc.db, liaison, 7777) == rows[0].case_id
    assert single


async def test_the_claim_reads_only_the_persons_pending_rows(svc: Services) -> None:
    plan = await svc.db.fetchall("EXPLAIN QUERY PLAN " + repo.CLAIM_GROUP_SQL, (1, "reminder", "x", "y"))
    details = " ".join(str(r["detail"]) for r in plan)
    assert "USING INDEX outbox_pending_person (person_id=?)" in details, details
