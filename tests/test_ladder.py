"""The three-colour 督办 ladder (issue 11): the pure colour policy and the recorded, audited history."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot import ladder
from bot.bootstrap import build_renderers, history_labels
from bot.clock import FakeClock
from bot.i18n import translator_for_locale
from bot.ladder import Colour, colour_for, colour_of
from bot.services import Services
from bot.settings import Settings
from bot.workcalendar import WorkCalendar
from storage import cases as cases_repo
from storage.db import Database
from tests.reminder_helpers import add_case, add_department, local

ZH = translator_for_locale("zh_CN")
CAL = WorkCalendar()
FRIDAY = date(2026, 3, 20)


def colour(due: date | None, today: date = FRIDAY, **kw: int) -> Colour:
    return colour_of(due, today, CAL, blue_working_days=kw.get("blue", 5), levels=[1, kw.get("red", 10)])


def test_colours_follow_the_deadline() -> None:
    assert colour(None) is Colour.NONE
    assert colour(date(2026, 3, 30)) is Colour.NONE       # 6 working days left
    assert colour(date(2026, 3, 27)) is Colour.BLUE       # 5 working days left
    assert colour(date(2026, 3, 27), blue=4) is Colour.NONE
    assert colour(FRIDAY) is Colour.BLUE                  # the last day
    assert colour(date(2026, 3, 19)) is Colour.YELLOW     # 1 working day overdue: level 1
    assert colour(date(2026, 3, 9)) is Colour.YELLOW      # 9 working days overdue
    assert colour(date(2026, 3, 6)) is Colour.RED         # 10 working days overdue: level 2
    assert colour(date(2026, 3, 9), red=9) is Colour.RED
    # past the deadline over a weekend, before its first overdue working day: overdue all the same
    assert colour(FRIDAY, today=date(2026, 3, 21)) is Colour.YELLOW


def test_monotone_in_the_deadline() -> None:
    """An earlier deadline is never a better colour: what lets /status take a department's worst from MIN(due_on)."""
    start = date(2026, 1, 1)
    colours = [colour(start + timedelta(days=i)) for i in range(120)]
    assert all(a.rank >= b.rank for a, b in itertools.pairwise(colours))


def test_only_cases_being_rectified_have_a_colour() -> None:
    s = Settings()
    overdue = date(2026, 3, 1)
    assert colour_for("in_progress", overdue, FRIDAY, CAL, s) is Colour.RED
    assert colour_for("returned", overdue, FRIDAY, CAL, s) is Colour.RED
    for status in ("pending_feedback", "reported", "closed", "refused", "inadequate", "falsely_reported"):
        assert colour_for(status, overdue, FRIDAY, CAL, s) is Colour.NONE


@pytest.fixture
async def svc(tmp_path: Path) -> AsyncIterator[Services]:
    db = await Database.open(tmp_path / "rectbot.db")
    yield Services(settings=Settings(), db=db, clock=FakeClock(local(FRIDAY, 8, 30)),
                   renderers=build_renderers(Path("files")), history_labels=history_labels())
    await db.close()


async def test_refresh_records_each_change_once(svc: Services) -> None:
    assert isinstance(svc.clock, FakeClock)
    edu = await add_department(svc.db, "县教育局")
    near = await add_case(svc.db, edu, project="临近", due_on=date(2026, 3, 25))
    late = await add_case(svc.db, edu, project="逾期", due_on=date(2026, 3, 19))
    far = await add_case(svc.db, edu, project="还早", due_on=date(2026, 6, 30))

    async def refresh() -> int:
        return await ladder.refresh(svc.db, svc.calendar, svc.settings, svc.clock)

    assert await refresh() == 2
    assert await refresh() == 0                                  # a rerun records nothing twice
    assert [c.colour for c in await ladder.changes(svc.db, near)] == ["blue"]
    assert [c.colour for c in await ladder.changes(svc.db, far)] == []

    svc.clock.set(local(date(2026, 4, 3), 9))                    # two weeks on (Qingming: 4–6 April off)
    assert await refresh() == 2
    assert [(c.previous, c.colour) for c in await ladder.changes(svc.db, late)] == [("none", "yellow"),
                                                                                   ("yellow", "red")]
    assert [c.colour for c in await ladder.changes(svc.db, near)] == ["blue", "yellow"]
    assert [c.changed_on for c in await ladder.changes(svc.db, late)] == [FRIDAY, date(2026, 4, 3)]

    async with svc.db.transaction() as conn:                     # closed: leaves the ladder, recorded once
        await cases_repo.update_case(conn, late, {"status": "closed"})
    assert await refresh() == 1
    assert await refresh() == 0
    assert [c.colour for c in await ladder.changes(svc.db, late)][-1] == "none"

    # /case: where it stands and since when, then each change with its day; nothing in the audit log
    case = await cases_repo.get_case(svc.db, near)
    assert case is not None
    text = await ladder.case_ladder_line(svc.db, svc.calendar, svc.settings, ZH, case, svc.today())
    assert text.splitlines() == ["督办等级：🟡 黄，自2026年4月3日（星期五）起", "督办等级变化：",
                                 "· 2026-03-20 督办等级转为🔵蓝色：临近截止日期",
                                 "· 2026-04-03 督办等级转为🟡黄色：已逾期（一级督办）"]
    assert await svc.db.fetchall("SELECT * FROM audit_log WHERE action LIKE 'case.ladder%'") == []


async def test_the_export_has_the_ladder_column_in_its_colours(svc: Services) -> None:
    import io

    from openpyxl import load_workbook

    from bot import ledger
    edu = await add_department(svc.db, "县教育局")
    ids = {colour: await add_case(svc.db, edu, project=colour, due_on=due) for colour, due in (
        ("red", date(2026, 3, 6)), ("yellow", date(2026, 3, 19)), ("blue", date(2026, 3, 25)),
        ("none", date(2026, 6, 30)))}
    await add_case(svc.db, edu, project="closed", due_on=date(2026, 3, 6), status="closed", confidential=True)
    for redact in (False, True):
        content, _ = await ledger.export_ledger(svc.db, svc.calendar, FRIDAY, redact_confidential=redact,
                                                blue_working_days=5, levels=[1, 10])
        rows = list(load_workbook(io.BytesIO(content)).active.iter_rows())
        col = [c.value for c in rows[0]].index("督办等级")
        by_id = {r[0].value: r[col] for r in rows[1:]}
        assert {colour: by_id[i].value or "" for colour, i in ids.items()} == {
            "red": "红", "yellow": "黄", "blue": "蓝", "none": ""}
        assert by_id[ids["red"]].fill.start_color.rgb == "FFFF7C80"
        assert by_id[ids["blue"]].fill.start_color.rgb == "FF9BC2E6"
        assert by_id[ids["yellow"]].fill.start_color.rgb == "FFFFE699"
    # a narrower blue band from the settings
    content, _ = await ledger.export_ledger(svc.db, svc.calendar, FRIDAY, blue_working_days=2, levels=[1, 10])
    rows = list(load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True))
    col = list(rows[0]).index("督办等级")
    assert {r[0]: r[col] for r in rows[1:]}[ids["blue"]] in ("", None)


def test_the_thresholds_say_the_colour_of_every_deadline() -> None:
    """The set-based refresh trusts three dates; they must agree with the policy on every deadline."""
    for today in (FRIDAY, date(2026, 4, 3), date(2026, 10, 9), date(2026, 1, 4)):
        for settings in (Settings(), Settings.model_validate({"ladder": {"blue_working_days": 0},
                                                              "escalation": {"levels": [1, 3]}})):
            limits = ladder.thresholds(today, CAL, settings)
            for offset in range(-60, 40):
                due = today + timedelta(days=offset)
                expected = colour_for("in_progress", due, today, CAL, settings)
                from_limits = (Colour.RED if limits.red and due <= limits.red else
                               Colour.YELLOW if limits.yellow and due <= limits.yellow else
                               Colour.BLUE if limits.blue and due <= limits.blue else Colour.NONE)
                assert from_limits is expected, (today, due, limits)


async def test_refresh_agrees_with_the_policy_for_every_case_day_after_day(svc: Services) -> None:
    assert isinstance(svc.clock, FakeClock)
    edu = await add_department(svc.db, "县教育局")
    statuses = ["in_progress", "pending_feedback", "returned", "reported", "closed", "refused"]
    made = {}
    for k in range(120):
        due = None if k % 17 == 0 else FRIDAY + timedelta(days=k % 50 - 25)
        status = statuses[k % len(statuses)]
        made[await add_case(svc.db, edu, project=f"p{k}", due_on=due, status=status)] = (status, due)
    day = FRIDAY
    for step in range(8):
        svc.clock.set(local(day, 9))
        await ladder.refresh(svc.db, svc.calendar, svc.settings, svc.clock)
        assert await ladder.refresh(svc.db, svc.calendar, svc.settings, svc.clock) == 0
        if step == 4:  # some cases close, some deadlines move: they leave or change colour
            async with svc.db.transaction() as conn:
                for case_id in list(made)[:30:3]:
                    await cases_repo.update_case(conn, case_id, {"status": "closed"})
                    made[case_id] = ("closed", made[case_id][1])
            await ladder.refresh(svc.db, svc.calendar, svc.settings, svc.clock)
        rows = await svc.db.fetchall("SELECT id, ladder_colour FROM cases")
        for case_id, stored in rows:
            status, due = made[case_id]
            assert stored == colour_for(status, due, day, svc.calendar, svc.settings), (case_id, day)
            history = await ladder.changes(svc.db, case_id)
            assert (history[-1].colour if history else "none") == stored
        day += timedelta(days=3)
