"""Spot checks (bot/spotcheck.py): a reproducible random draw of closed cases."""

from __future__ import annotations

import json

import pytest

from bot import spotcheck
from bot.errors import DomainError, NotAuthorized
from storage import cases as cases_repo
from tests.test_reports_helpers import CALENDAR, NOW, TODAY, World, add_case, outbox
from tests.test_reports_helpers import world as world  # the fixture


def test_draw_is_reproducible_from_the_seed() -> None:
    pool = list(range(1, 101))
    first = spotcheck.draw(pool, 5, seed=20260302)
    assert first == spotcheck.draw(list(reversed(pool)), 5, seed=20260302)  # order of the pool does not matter
    assert len(set(first)) == 5 and set(first) <= set(pool)
    assert spotcheck.draw(pool, 5, seed=1) != first or spotcheck.draw(pool, 5, seed=2) != first
    assert spotcheck.draw([3, 1], 10, seed=7) == [1, 3]  # asking for more than there are takes them all


async def test_spot_check_opens_cases_and_records_the_seed(world: World) -> None:
    w = world
    closed = [await add_case(w.db, dept, project=f"项目{i}", status="closed")
              for i, dept in enumerate([w.edu, w.edu, w.health, w.health, w.edu])]
    await add_case(w.db, w.edu, project="进行中项目")  # not closed: never drawn
    confidential = await add_case(w.db, w.health, project="涉密项目", status="closed", confidential=True)
    with pytest.raises(NotAuthorized):
        await spotcheck.spot_check(w.db, w.liaison1, 2, now=NOW, today=TODAY, calendar=CALENDAR)
    with pytest.raises(DomainError):
        await spotcheck.spot_check(w.db, w.sup1, 0, now=NOW, today=TODAY, calendar=CALENDAR)

    result = await spotcheck.spot_check(w.db, w.sup1, 3, now=NOW, today=TODAY, calendar=CALENDAR)
    assert result.candidates == sorted([*closed, confidential])
    assert result.drawn == spotcheck.draw(result.candidates, 3, result.seed)
    row = await w.db.fetchone("SELECT after FROM audit_log WHERE action = 'spotcheck.draw'")
    logged = json.loads(row[0])  # type: ignore[index]
    assert logged["seed"] == result.seed and logged["drawn"] == result.drawn
    assert spotcheck.draw(logged["candidates"], logged["n"], logged["seed"]) == logged["drawn"]
    for new, origin_id in zip(result.opened, result.drawn, strict=True):
        origin = await cases_repo.get_case(w.db, origin_id)
        assert origin is not None
        assert (new.source, new.status, new.origin_case_id, new.department_id) == (
            "spot_check", "in_progress", origin_id, origin.department_id)
        assert new.due_on is not None and new.due_on > TODAY and new.confidential == origin.confidential
    notified = {pid for _, pid, kind in await outbox(w.db) if kind == "spot_check_opened"}
    departments = {c.department_id for c in result.opened}
    expected = ({w.liaison1.id, w.liaison2.id} if w.edu in departments else set()) | (
        {w.other_liaison.id} if w.health in departments else set())
    assert notified == expected

    # A case drawn once is not drawn again; spot-check cases are never candidates.
    second = await spotcheck.spot_check(w.db, w.sup2, 10, now=NOW, today=TODAY, calendar=CALENDAR)
    assert set(second.drawn) == set(result.candidates) - set(result.drawn)
    with pytest.raises(DomainError, match="no closed case"):
        await spotcheck.spot_check(w.db, w.sup2, 1, now=NOW, today=TODAY, calendar=CALENDAR)


async def test_same_seed_same_draw(world: World) -> None:
    w = world
    for i in range(12):
        await add_case(w.db, w.edu, project=f"项目{i}", status="closed")
    result = await spotcheck.spot_check(w.db, w.sup1, 4, now=NOW, today=TODAY, calendar=CALENDAR, seed=99)
    assert result.seed == 99 and result.drawn == spotcheck.draw(list(range(1, 13)), 4, 99)
