"""A state change, its audit row and the notices it causes commit together or not at all.

A failure injected at the audit write (say, a full disk) or at the enqueue after it must leave no
half-done change: no case without its audit row, no audit row for a change that did not happen,
no notice for either. Runs the domain functions against a real SQLite file."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot import cases, delivery
from bot.clock import FakeClock
from bot.services import Services
from bot.settings import Settings
from tests.faults.conftest import Figures
from tests.test_cases import CAL, NOW, RENDERERS, World, evaluation_draft, make_world

pytestmark = pytest.mark.faults


class DiskFull(sqlite3.OperationalError):
    """What SQLite raises when a write cannot be stored."""


def failing(after: int = 0) -> Any:
    """An async stand-in for audit()/enqueue() that raises on call number `after` + 1."""
    calls = {"n": 0}

    async def fail(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] > after:
            raise DiskFull("database or disk is full")
        return 0

    return fail


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    w = await make_world(tmp_path / "atomic.db")
    yield w
    await w.db.close()


async def counts(world: World) -> dict[str, int]:
    out = {}
    for table in ("cases", "audit_log", "outbox", "people"):
        row = await world.db.fetchone(f"SELECT count(*) FROM {table}")
        assert row is not None
        out[table] = int(row[0])
    reach = await world.db.fetchone("SELECT count(*) FROM people WHERE reachable = 0")
    assert reach is not None
    out["unreachable"] = int(reach[0])
    return out


@pytest.mark.parametrize("where", ["audit", "enqueue"])
async def test_register_case_is_all_or_nothing(world: World, where: str, monkeypatch: pytest.MonkeyPatch,
                                               figures: Figures) -> None:
    before = await counts(world)
    monkeypatch.setattr(cases, where, failing())
    with pytest.raises(DiskFull):
        await cases.register_case(world.db, CAL, evaluation_draft(), actor=world.supervisor, now=NOW)
    after = await counts(world)
    figures.update(fault_at=where, before=before, after=after)
    assert after == before, f"figures: {figures}"


async def test_deadline_change_is_all_or_nothing(world: World, monkeypatch: pytest.MonkeyPatch,
                                                 figures: Figures) -> None:
    case, _ = await cases.register_case(world.db, CAL, evaluation_draft(), actor=world.supervisor, now=NOW)
    await cases.acknowledge_receipt(world.db, CAL, case.id, person=world.liaison, now=NOW, today=date(2026, 3, 2))
    before = await counts(world)
    due_before = await world.db.fetchone("SELECT due_on FROM cases WHERE id = ?", (case.id,))
    monkeypatch.setattr(cases, "enqueue", failing())
    with pytest.raises(DiskFull):
        await cases.change_deadline(world.db, case.id, date(2026, 6, 30), "单位申请", actor=world.supervisor,
                                    now=NOW, today=date(2026, 3, 2))
    after = await counts(world)
    row = await world.db.fetchone("SELECT due_on FROM cases WHERE id = ?", (case.id,))
    figures.update(before=before, after=after, due_on=row[0] if row else None)
    assert after == before and row is not None and due_before is not None, f"figures: {figures}"
    assert row[0] == due_before[0] != "2026-06-30", f"figures: {figures}"


async def test_marking_unreachable_is_all_or_nothing(world: World, monkeypatch: pytest.MonkeyPatch,
                                                     figures: Figures) -> None:
    svc = Services(settings=Settings(), db=world.db, clock=FakeClock(NOW), calendar=CAL, renderers=RENDERERS,
                   history_labels={})
    before = await counts(world)
    monkeypatch.setattr(delivery, "audit", failing())
    with pytest.raises(DiskFull):
        await delivery.mark_unreachable(svc, world.other_liaison.id, reason="Forbidden: bot was blocked by the user")
    after = await counts(world)
    figures.update(before=before, after=after)
    assert after == before, f"figures: {figures}"
