"""The weekly bulletin in-process (issue 11): once per week, the art. 29 cases once per week, the moves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot import bulletin
from bot.bootstrap import build_renderers, history_labels
from bot.clock import FakeClock
from bot.i18n import translator_for_locale
from bot.services import Services
from bot.settings import Settings
from storage import outbox as outbox_repo
from storage.db import Database
from tests.reminder_helpers import add_person, local
from tests.test_stats import fixture

ZH = translator_for_locale("zh_CN")
MONDAY = bulletin.parse_week("2026-W06")


@pytest.fixture
async def svc(tmp_path: Path) -> AsyncIterator[Services]:
    db = await Database.open(tmp_path / "rectbot.db")
    yield Services(settings=Settings(), db=db, clock=FakeClock(local(MONDAY, 8, 0)),
                   renderers=build_renderers(Path("files")), history_labels=history_labels())
    await db.close()


async def explain_cases(svc: Services) -> list[tuple[int, str]]:
    rows = await svc.db.fetchall("SELECT department_id, feedback_doc_no FROM cases WHERE source = 'ranking'"
                                 " ORDER BY department_id, feedback_doc_no")
    return [(int(r[0]), str(r[1])) for r in rows]


async def test_issued_once_a_week_with_its_cases_once(svc: Services, tmp_path: Path) -> None:
    assert isinstance(svc.clock, FakeClock)
    supervisor = await add_person(svc.db, 500, "supervisor")
    fixture(tmp_path / "rectbot.db", supervisor)
    assert await bulletin.issue_weekly(svc) == 0                     # a fresh database: the week is only noted
    assert await outbox_repo.get_job_state(svc.db, bulletin.BULLETIN_STATE) is None   # (not before 08:30)
    svc.clock.set(local(MONDAY, 9))
    assert await bulletin.issue_weekly(svc) == 0
    assert await outbox_repo.get_job_state(svc.db, bulletin.BULLETIN_STATE) == "2026-W06"
    assert await explain_cases(svc) == []

    svc.clock.set(local(MONDAY + timedelta(days=7), 9))              # the next week: issued, once
    assert await bulletin.issue_weekly(svc) == 2                      # the supervisor: text + chart, the sheet
    first = await explain_cases(svc)
    assert len(first) == 3 and {doc for _, doc in first} == {"2026-W07通报"}
    assert await bulletin.issue_weekly(svc) == 0
    svc.clock.set(local(MONDAY + timedelta(days=9), 15))             # later that week, after a restart
    assert await bulletin.issue_weekly(svc) == 0
    assert await explain_cases(svc) == first
    b = await bulletin.stored_or_fresh(svc.db, svc.calendar, svc.settings, MONDAY + timedelta(days=7))
    assert {line.move for line in b.lines} == {"新"} and len(b.explain) == 3 and len(b.praised) >= 3
    rendered = await bulletin.render_bulletin(svc.db, ZH, {"week": "2026-W07"})
    assert rendered.document is not None and rendered.document[1].startswith(b"\x89PNG")
    assert "📢 整改工作周通报 2026-W07" in rendered.text and "通报表扬" in rendered.text

    svc.clock.set(local(MONDAY + timedelta(days=14), 9))             # 16 Feb: the Spring Festival week, no
    assert await bulletin.issue_weekly(svc) == 0                      # working day at all: no bulletin
    svc.clock.set(local(MONDAY + timedelta(days=21), 9))             # Monday 23 Feb is still a holiday …
    assert await bulletin.issue_weekly(svc) == 0
    svc.clock.set(local(MONDAY + timedelta(days=22), 9))             # … so it goes out on Tuesday the 24th
    assert await bulletin.issue_weekly(svc) == 2
    second = await bulletin.stored_or_fresh(svc.db, svc.calendar, svc.settings, MONDAY + timedelta(days=21))
    assert {line.move for line in second.lines if line.rank is not None} <= {"→"} | {
        f"{a}{n}" for a in "↑↓" for n in range(1, 30)}
    assert len(await explain_cases(svc)) == 6                          # three more, for the new week
    line = await bulletin.render_bulletin_line(svc.db, ZH, {"week": "2026-W09", "department_id": 1})
    assert line.text.startswith("📢 整改工作周通报 2026-W09") and "县教育局" in line.text
    assert "县卫生健康局" not in line.text


async def test_the_sheet_keeps_numbers_as_numbers(svc: Services, tmp_path: Path) -> None:
    """Score and on-time rate are cells a reader can sort and sum (number formats), never numbers stored as text;
    an unranked department's "—" stays text."""
    import io

    from openpyxl import load_workbook

    assert isinstance(svc.clock, FakeClock)
    supervisor = await add_person(svc.db, 500, "supervisor")
    fixture(tmp_path / "rectbot.db", supervisor)
    svc.clock.set(local(MONDAY, 9))
    await bulletin.issue_weekly(svc)                                  # a fresh database: the week is only noted
    svc.clock.set(local(MONDAY + timedelta(days=7), 9))
    assert await bulletin.issue_weekly(svc) == 2
    rendered = await bulletin.render_bulletin_sheet(svc.db, ZH, {"week": "2026-W07"})
    assert rendered.document is not None
    ws = load_workbook(io.BytesIO(rendered.document[1])).active
    assert ws is not None
    rows = list(ws.iter_rows(min_row=2))
    assert rows
    for rank, _name, score, rate, due, *_rest in rows:
        assert isinstance(score.value, int | float) and score.number_format == "0.00"
        assert isinstance(due.value, int)
        if rate.value == "—":
            assert rate.data_type == "s"
        else:
            assert isinstance(rate.value, int | float) and 0 <= rate.value <= 1 and rate.number_format == "0.0%"
        assert rank.value == "—" or isinstance(rank.value, int)
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)


def test_sheet_values() -> None:
    assert bulletin.sheet_number("87.50") == 87.5 and bulletin.sheet_number("—") == "—"
    assert bulletin.sheet_rate("87.5%") == 0.875 and bulletin.sheet_rate("—") == "—"
    assert bulletin.sheet_rate("abc%") == "abc%"
