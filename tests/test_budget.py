"""Budget suggestions (bot/budget.py, arts. 12 and 24) and their spreadsheet."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from bot import budget
from bot.budget import Suggestion
from bot.errors import NotAuthorized
from bot.i18n import translator_for_locale
from storage import cases as cases_repo
from tests.test_reports_helpers import World, add_case
from tests.test_reports_helpers import world as world  # the fixture


@pytest.mark.parametrize(("status", "grade", "expected"), [
    ("closed", "excellent", Suggestion.SUPPORT),
    ("closed", "good", Suggestion.SUPPORT),
    ("in_progress", "fair", Suggestion.REDUCE),
    ("closed", "poor", Suggestion.REDUCE),
    ("refused", "excellent", Suggestion.REDUCE),
    ("falsely_reported", None, Suggestion.REDUCE),
    ("inadequate", "good", Suggestion.HOLD),
    ("in_progress", None, None),
])
async def test_suggestion_per_case(world: World, status: str, grade: str | None, expected: Suggestion | None) -> None:
    case_id = await add_case(world.db, world.edu, status=status, grade=grade)
    case = await cases_repo.get_case(world.db, case_id)
    assert case is not None
    advice = budget.budget_suggestion(case)
    assert (advice.suggestion if advice else None) == expected


async def test_listing_and_xlsx_by_department(world: World) -> None:
    w = world
    await add_case(w.db, w.health, project="医疗设备", status="closed", grade="poor")
    await add_case(w.db, w.edu, project="校舍维修", status="inadequate", grade="good")
    await add_case(w.db, w.edu, project="涉密工程", status="refused", confidential=True)
    await add_case(w.db, w.edu, project="无等级", status="in_progress")
    with pytest.raises(NotAuthorized):
        await budget.budget_lines(w.db, w.liaison1)
    lines = await budget.budget_lines(w.db, w.sup1)
    assert [(line.case.department_name, line.advice.suggestion) for line in lines] == [
        ("县卫健局", Suggestion.REDUCE), ("县教育局", Suggestion.HOLD), ("县教育局", Suggestion.REDUCE)]
    t = translator_for_locale("zh_CN")
    text = budget.budget_text(lines, t)
    assert "涉密工程" not in text and "医疗设备" in text
    sheet = load_workbook(io.BytesIO(budget.budget_xlsx(lines, t))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 4 and sheet.freeze_panes == "A2"
    assert rows[1][0] == "县卫健局" and rows[1][3] == "差"
    assert all("涉密工程" not in str(cell) for row in rows for cell in row)
    assert budget.budget_text([], t)
