"""The daily digest: sections, one-line empty digest, once per day via the outbox, the calendar warning."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from bot.bootstrap import build_renderers, history_labels
from bot.clock import FakeClock
from bot.digests import (
    Digest,
    build_digest,
    enqueue_daily_digests,
    render_digest,
    render_overdue_list,
    render_section,
    warn_missing_calendar,
)
from bot.domain import Kind
from bot.i18n import translator_for_locale
from bot.services import Services
from bot.settings import Settings
from storage import outbox as repo
from storage.db import Database
from tests.reminder_helpers import add_case, add_department, add_person, local

ZH = translator_for_locale("zh_CN")


@pytest.fixture
async def svc(tmp_path: Path) -> AsyncIterator[Services]:
    db = await Database.open(tmp_path / "rectbot.db")
    yield Services(settings=Settings(), db=db, clock=FakeClock(local(date(2026, 3, 20), 8, 30)),
                   renderers=build_renderers(Path('files')), history_labels=history_labels())
    await db.close()


async def ledger(svc: Services) -> dict[str, int]:
    edu = await add_department(svc.db, "县教育局")
    health = await add_department(svc.db, "县卫健局")
    await add_department(svc.db, "县水利局")  # no liaison at all
    await add_person(svc.db, 100, "liaison", edu)
    await add_person(svc.db, 101, "liaison", health)
    await add_person(svc.db, 200, "supervisor")
    await add_person(svc.db, 201, "supervisor")
    return {
        "new": await add_case(svc.db, edu, project="新逾期", due_on=date(2026, 3, 19)),
        "old": await add_case(svc.db, health, project="老逾期", due_on=date(2026, 2, 28)),
        "secret": await add_case(svc.db, edu, project="涉密项目", due_on=date(2026, 3, 2), confidential=True),
        "soon": await add_case(svc.db, health, project="快到期", due_on=date(2026, 3, 24), due_provisional=True),
        "far": await add_case(svc.db, edu, project="还早", due_on=date(2026, 5, 29)),
        "closed": await add_case(svc.db, edu, project="已销号", due_on=date(2026, 1, 5), status="closed"),
    }


async def test_sections(svc: Services) -> None:
    ids = await ledger(svc)
    d = await build_digest(svc.db, svc.calendar, svc.settings, svc.now())
    assert [i.case_id for i in d.new] == [ids["new"]]
    assert sorted(i.case_id for i in d.overdue) == sorted([ids["old"], ids["secret"]])
    assert [i.case_id for i in d.soon] == [ids["soon"]]
    assert [i.case_id for i in d.provisional] == [ids["soon"]]
    assert d.noliaison == ["县水利局"]
    old = next(i for i in d.overdue if i.case_id == ids["old"])
    assert old.working_days_overdue == 15 and old.risk
    summary = render_digest(ZH, d)
    assert "每日汇总" in summary.text and len(summary.buttons) == 5
    overdue = render_section(ZH, d, "overdue")
    assert "【县卫健局】" in overdue and re.search(r"逾期\s*15\s*个工作日", overdue) and "拒不整改风险" in overdue
    assert "涉密项目" not in overdue and f"整改事项#{ids['secret']}" in overdue
    assert overdue.index("【涉密事项】") < overdue.index(f"整改事项#{ids['secret']}")  # not under another department
    listing = render_overdue_list(ZH, d)
    assert "新逾期" in listing and "老逾期" in listing
    # the payload survives the outbox round trip
    assert Digest.from_payload(d.to_payload()) == d


async def test_empty_digest_is_one_line(svc: Services) -> None:
    d = await build_digest(svc.db, svc.calendar, svc.settings, svc.now())
    d.noliaison = []
    rendered = render_digest(ZH, d)
    assert "\n" not in rendered.text and "没有需要关注的事项" in rendered.text and rendered.buttons == []


async def test_digest_once_per_working_day_via_outbox(svc: Services) -> None:
    await ledger(svc)
    assert await enqueue_daily_digests(svc) == 2        # the first day the bot runs has its digest too
    assert await enqueue_daily_digests(svc) == 0        # once a day
    clock = svc.clock
    assert isinstance(clock, FakeClock)
    clock.set(local(date(2026, 3, 21), 9))              # Saturday: none
    assert await enqueue_daily_digests(svc) == 0
    clock.set(local(date(2026, 3, 23), 8, 29))          # Monday before digest time: none
    assert await enqueue_daily_digests(svc) == 0
    clock.set(local(date(2026, 3, 23), 8, 30))
    assert await enqueue_daily_digests(svc) == 2         # one per supervisor
    clock.set(local(date(2026, 3, 23), 15))
    assert await enqueue_daily_digests(svc) == 0         # a restart later that day: nothing twice
    rows = await repo.rows(svc.db, kind=Kind.DIGEST)
    assert sorted(r.key for r in rows) == ["digest:2026-03-20:p3", "digest:2026-03-20:p4",
                                           "digest:2026-03-23:p3", "digest:2026-03-23:p4"]


async def test_missing_calendar_warning_weekly_from_november(svc: Services) -> None:
    await add_person(svc.db, 300, "admin")
    clock = svc.clock
    assert isinstance(clock, FakeClock)
    clock.set(local(date(2026, 10, 30), 9))
    assert await warn_missing_calendar(svc) == 0          # before November
    clock.set(local(date(2026, 11, 2), 9))
    assert await warn_missing_calendar(svc) == 0          # first run records the week
    clock.set(local(date(2026, 11, 9), 9))
    assert await warn_missing_calendar(svc) == 1
    clock.set(local(date(2026, 11, 11), 9))
    assert await warn_missing_calendar(svc) == 0          # same week
    clock.set(local(date(2026, 11, 16), 9))
    assert await warn_missing_calendar(svc) == 1
    assert len(await repo.rows(svc.db, kind=Kind.CALENDAR_MISSING)) == 2
