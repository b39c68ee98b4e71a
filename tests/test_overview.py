"""各单位情况 (/status, issue 11): counts by stage in SQL, worst first, pages, and a liaison's own department only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from bot import overview
from bot.bootstrap import build_renderers, history_labels
from bot.clock import FakeClock
from bot.domain import Person, Role
from bot.errors import NotAuthorized
from bot.i18n import translator_for_locale
from bot.ladder import Colour
from bot.services import Services
from bot.settings import Settings
from storage.db import Database
from tests.reminder_helpers import add_case, add_department, local

ZH = translator_for_locale("zh_CN")
FRIDAY = date(2026, 3, 20)


def person(role: Role, department: tuple[int, str] | None = None) -> Person:
    return Person(9, 9, "某人", None, role, department[0] if department else None,
                  department[1] if department else None, "zh_CN", True, True)


@pytest.fixture
async def svc(tmp_path: Path) -> AsyncIterator[Services]:
    db = await Database.open(tmp_path / "rectbot.db")
    yield Services(settings=Settings(), db=db, clock=FakeClock(local(FRIDAY, 9)),
                   renderers=build_renderers(Path("files")), history_labels=history_labels())
    await db.close()


async def ledger(svc: Services) -> dict[str, int]:
    edu = await add_department(svc.db, "县教育局")
    health = await add_department(svc.db, "县卫健局")
    water = await add_department(svc.db, "县水利局")
    await add_department(svc.db, "县林业局")                     # no cases at all
    await add_case(svc.db, edu, project="a", due_on=date(2026, 3, 6))                       # red
    await add_case(svc.db, edu, project="b", due_on=date(2026, 3, 19))                      # yellow
    await add_case(svc.db, edu, project="c", due_on=None, status="pending_feedback")
    await add_case(svc.db, edu, project="d", due_on=date(2026, 3, 1), status="reported")
    await add_case(svc.db, edu, project="e", due_on=date(2026, 2, 1), status="closed")
    await add_case(svc.db, edu, project="f", due_on=date(2026, 3, 2), status="returned", confidential=True)  # red
    await add_case(svc.db, health, project="g", due_on=date(2026, 3, 19))                   # yellow
    await add_case(svc.db, water, project="h", due_on=date(2026, 3, 24))                    # blue
    await add_case(svc.db, water, project="i", due_on=date(2026, 6, 30))
    return {"edu": edu, "health": health, "water": water}


async def test_every_department_counted_and_worst_first(svc: Services) -> None:
    ids = await ledger(svc)
    statuses = await overview.department_statuses(svc.db, svc.calendar, svc.settings, person(Role.SUPERVISOR),
                                                  FRIDAY)
    assert [(s.counts.name, s.worst) for s in statuses] == [
        ("县教育局", Colour.RED), ("县卫健局", Colour.YELLOW), ("县水利局", Colour.BLUE), ("县林业局", Colour.NONE)]
    edu = statuses[0].counts
    assert (edu.awaiting_receipt, edu.in_progress, edu.reported, edu.overdue, edu.closed) == (1, 3, 1, 3, 1)
    text = overview.status_page(ZH, statuses, 1, FRIDAY).text
    assert "🔴 县教育局：待签收 1 · 整改中 3 · 已报告待审 1 · 逾期 3 · 已销号 1" in text
    assert "⚪ 县林业局：待签收 0" in text

    status, lines = await overview.department_cases(svc.db, svc.calendar, svc.settings, person(Role.ADMIN),
                                                    ids["edu"], FRIDAY)
    assert [line.colour for line in lines] == [Colour.RED, Colour.RED, Colour.YELLOW, Colour.NONE, Colour.NONE]
    page = overview.department_page(ZH, status, lines, 1).text
    assert "已销号" not in page.split("\n", 2)[2].replace("已销号 1", "")   # closed cases are counted, not listed
    secret = next(line for line in page.splitlines() if "逾期14个工作日" in line)
    assert secret == "🔴 整改事项#6 · 退回补充 · 截止2026年3月2日（星期一） · 逾期14个工作日"  # confidential


async def test_a_liaison_sees_their_own_department_only(svc: Services) -> None:
    ids = await ledger(svc)
    liaison = person(Role.LIAISON, (ids["health"], "县卫健局"))
    statuses = await overview.department_statuses(svc.db, svc.calendar, svc.settings, liaison, FRIDAY)
    assert [s.counts.name for s in statuses] == ["县卫健局"]
    assert (await overview.resolve_department(svc.db, liaison, "县卫健局")).id == ids["health"]
    for name in ("县教育局", "县不存在局"):                     # refused alike: no hint of which exist
        with pytest.raises(NotAuthorized) as refused:
            await overview.resolve_department(svc.db, liaison, name)
        assert refused.value.render(ZH) == "您只能查看本单位（县卫健局）的情况。"
    with pytest.raises(NotAuthorized):                        # a forged page button
        await overview.department_cases(svc.db, svc.calendar, svc.settings, liaison, ids["edu"], FRIDAY)
    _, lines = await overview.department_cases(svc.db, svc.calendar, svc.settings, liaison, ids["health"], FRIDAY)
    assert [line.case.project for line in lines] == ["g"]


async def test_pages_of_departments(svc: Services) -> None:
    for i in range(23):
        await add_department(svc.db, f"县第{i:02d}局")
    statuses = await overview.department_statuses(svc.db, svc.calendar, svc.settings, person(Role.SUPERVISOR),
                                                  FRIDAY)
    last = overview.status_page(ZH, statuses, 99, FRIDAY)
    assert (last.page.number, last.page.pages, last.page.total) == (3, 3, 23) and "第3/3页，共23件" in last.text
