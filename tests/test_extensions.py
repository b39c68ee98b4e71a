"""Extension requests (bot/extensions.py): before the deadline only; approval moves the deadline."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from bot import extensions
from bot.errors import DomainError, NotAuthorized
from storage import cases as cases_repo
from storage import reports as repo
from tests.test_reports_helpers import CALENDAR, NOW, TODAY, World, add_case, audit_actions, outbox
from tests.test_reports_helpers import world as world  # the fixture


async def test_request_after_the_deadline_is_refused_as_late(world: World) -> None:
    w = world
    case_id = await add_case(w.db, w.edu, due_on=date(2026, 2, 27))
    with pytest.raises(DomainError, match="has passed"):
        await extensions.request_extension(w.db, w.liaison1, case_id, reason="人手不足",
                                           proposed_due_on=date(2026, 4, 30), now=NOW, today=TODAY)
    assert await repo.extensions_of_case(w.db, case_id) == [] and await outbox(w.db) == []


async def test_request_on_the_due_day_is_still_in_time(world: World) -> None:
    w = world
    case_id = await add_case(w.db, w.edu, due_on=TODAY)
    req = await extensions.request_extension(w.db, w.liaison1, case_id, reason="等待审计结论",
                                             proposed_due_on=date(2026, 3, 20), now=NOW, today=TODAY)
    assert req.state == "pending" and req.previous_due_on == TODAY


async def test_approved_request_moves_the_deadline_and_keeps_the_original(world: World) -> None:
    w = world
    case_id = await add_case(w.db, w.edu, due_on=date(2026, 3, 31))
    req = await extensions.request_extension(w.db, w.liaison1, case_id, reason="项目跨年度实施",
                                             proposed_due_on=date(2026, 5, 29), now=NOW, today=TODAY)
    cards = [(pid, kind) for _, pid, kind in await outbox(w.db)]
    assert sorted(cards) == sorted([(w.sup1.id, "extension_request"), (w.sup2.id, "extension_request")])
    with pytest.raises(DomainError, match="already awaiting"):
        await extensions.request_extension(w.db, w.liaison2, case_id, reason="再次申请",
                                           proposed_due_on=date(2026, 6, 30), now=NOW, today=TODAY)
    with pytest.raises(NotAuthorized):
        await extensions.decide_extension(w.db, w.liaison1, req.id, approve=True, now=NOW, today=TODAY,
                                          calendar=CALENDAR)
    later = NOW + timedelta(hours=2)
    decided = await extensions.decide_extension(w.db, w.sup1, req.id, approve=True, granted_due_on=date(2026, 5, 15),
                                                note="同意延至5月15日", now=later, today=TODAY, calendar=CALENDAR)
    assert decided.case.due_on == date(2026, 5, 15) and decided.case.next_action_at == later
    assert (decided.request.state, decided.request.previous_due_on, decided.request.granted_due_on) == (
        "approved", date(2026, 3, 31), date(2026, 5, 15))
    history = await cases_repo.case_history(w.db, case_id)
    approve = next(h for h in history if h.action == "extension.approve")
    assert json.loads(approve.before or "{}")["due_on"] == "2026-03-31"
    assert json.loads(approve.after or "{}")["due_on"] == "2026-05-15"
    # The first decision counts.
    with pytest.raises(DomainError, match="already decided"):
        await extensions.decide_extension(w.db, w.sup2, req.id, approve=False, note="不同意", now=later,
                                          today=TODAY, calendar=CALENDAR)
    decided_notices = sorted(pid for _, pid, kind in await outbox(w.db) if kind == "extension_decided")
    assert decided_notices == sorted([w.liaison1.id, w.liaison2.id])


async def test_refusal_needs_a_reason_and_keeps_the_deadline(world: World) -> None:
    w = world
    case_id = await add_case(w.db, w.edu, due_on=date(2026, 3, 31))
    req = await extensions.request_extension(w.db, w.liaison1, case_id, reason="人手不足",
                                             proposed_due_on=date(2026, 4, 30), now=NOW, today=TODAY)
    with pytest.raises(DomainError, match="reason"):
        await extensions.decide_extension(w.db, w.sup1, req.id, approve=False, now=NOW, today=TODAY,
                                          calendar=CALENDAR)
    decided = await extensions.decide_extension(w.db, w.sup1, req.id, approve=False, note="理由不充分", now=NOW,
                                                today=TODAY, calendar=CALENDAR)
    assert decided.request.state == "refused" and decided.case.due_on == date(2026, 3, 31)
    assert "extension.refuse" in await audit_actions(w.db)


async def test_bad_requests_are_refused(world: World) -> None:
    w = world
    case_id = await add_case(w.db, w.edu, due_on=date(2026, 3, 31))
    with pytest.raises(NotAuthorized):
        await extensions.request_extension(w.db, w.other_liaison, case_id, reason="x",
                                           proposed_due_on=date(2026, 4, 30), now=NOW, today=TODAY)
    with pytest.raises(DomainError, match="after the current deadline"):
        await extensions.request_extension(w.db, w.liaison1, case_id, reason="x",
                                           proposed_due_on=date(2026, 3, 20), now=NOW, today=TODAY)
    with pytest.raises(DomainError, match="reason"):
        await extensions.request_extension(w.db, w.liaison1, case_id, reason=" ",
                                           proposed_due_on=date(2026, 4, 30), now=NOW, today=TODAY)
    closed = await add_case(w.db, w.edu, project="已销号项目", status="closed")
    with pytest.raises(DomainError, match="no running deadline"):
        await extensions.check_can_request(w.db, w.liaison1, closed, today=TODAY)
