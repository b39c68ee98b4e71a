"""The bureau's review (bot/review.py): first decision counts, return with a new deadline, non-compliance."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from zoneinfo import ZoneInfo

import pytest

from bot import reports, review
from bot.budget import Suggestion, budget_suggestion
from bot.errors import DomainError, NotAuthorized
from bot.i18n import translator_for_locale
from storage import cases as cases_repo
from storage import reports as repo
from tests.test_reports_helpers import CALENDAR, NOW, PDF, TODAY, World, add_case, audit_actions, outbox
from tests.test_reports_helpers import world as world  # the fixture

TZ = ZoneInfo("Asia/Shanghai")


async def submitted(w: World, case_id: int, author: object = None) -> int:
    person = author or w.liaison1
    draft = await reports.start_draft(w.db, person, case_id, now=NOW)  # type: ignore[arg-type]
    rid = draft.report.id
    await reports.add_measures(w.db, person, rid, "已完成整改", now=NOW)  # type: ignore[arg-type]
    await reports.finish_measures(w.db, person, rid, now=NOW)  # type: ignore[arg-type]
    await reports.set_progress(w.db, person, rid, "done", now=NOW)  # type: ignore[arg-type]
    await reports.add_evidence(w.db, person, rid, data=PDF, file_name="证明.pdf",  # type: ignore[arg-type]
                               mime_type=None, telegram_file_id=None, files_root=w.files, now=NOW)
    await reports.submit_report(w.db, person, rid, now=NOW, today=TODAY)  # type: ignore[arg-type]
    return rid


def kw() -> dict[str, object]:
    return {"now": NOW, "today": TODAY, "calendar": CALENDAR, "tz": TZ}


async def test_return_for_rework_then_second_report_accepted(world: World) -> None:
    w = world
    case_id = await add_case(w.db, w.edu)
    first = await submitted(w, case_id)
    with pytest.raises(DomainError, match="reason for returning"):
        await review.decide(w.db, w.sup1, first, "return_for_rework", **kw())  # type: ignore[arg-type]
    # Default: 10 working days, today not counted: 3 → 16 March 2026, earlier than the 31 March deadline,
    # so only with the supervisor's explicit consent.
    with pytest.raises(review.EarlierThanDeadline):
        await review.decide(w.db, w.sup1, first, "return_for_rework", note="缺少资金拨付凭证",
                            **kw())  # type: ignore[arg-type]
    decided = await review.decide(w.db, w.sup1, first, "return_for_rework", note="缺少资金拨付凭证",
                                  allow_earlier=True, **kw())  # type: ignore[arg-type]
    assert decided.review.new_due_on == date(2026, 3, 16) == decided.case.due_on
    assert (decided.case.status, decided.report.state) == ("returned", "returned")
    assert decided.case.next_action_at == NOW  # the reminder sweep looks again, at the new deadline
    history = await cases_repo.case_history(w.db, case_id)
    returned = next(h for h in history if h.action == "case.review.return_for_rework")
    assert json.loads(returned.before or "{}")["due_on"] == "2026-03-31"  # the old deadline stays in history
    liaison_notices = [(pid, kind) for _, pid, kind in await outbox(w.db) if kind == "review_decided"]
    assert sorted(liaison_notices) == sorted([(w.liaison1.id, "review_decided"), (w.liaison2.id, "review_decided")])

    second = await submitted(w, case_id)
    assert second != first
    closed = await review.decide(w.db, w.sup2, second, "close", **kw())  # type: ignore[arg-type]
    assert (closed.case.status, closed.report.state, closed.review.decision) == ("closed", "accepted", "close")
    decisions = [r.decision for r in await repo.reviews_of_case(w.db, case_id)]
    assert decisions == ["return_for_rework", "close"]
    extras = (await cases_repo.ledger_extras(w.db))[case_id]
    assert extras.review_decision == "close" and extras.reported_on == TODAY


async def test_first_decision_counts_and_later_press_is_told_who(world: World) -> None:
    w = world
    case_id = await add_case(w.db, w.edu)
    rid = await submitted(w, case_id)
    await review.decide(w.db, w.sup1, rid, "close", **kw())  # type: ignore[arg-type]
    with pytest.raises(review.AlreadyDecided) as info:
        await review.decide(w.db, w.sup2, rid, "close", **kw())  # type: ignore[arg-type]
    text = info.value.render(translator_for_locale("zh_CN"))
    assert "督办甲" in text and "2026-03-02 10:00" in text
    with pytest.raises(review.AlreadyDecided):
        await review.report_for_review(w.db, w.sup2, rid, TZ)
    assert len(await repo.reviews_of_case(w.db, case_id)) == 1


async def test_simultaneous_presses_record_exactly_one_decision(world: World) -> None:
    w = world
    case_id = await add_case(w.db, w.edu)
    rid = await submitted(w, case_id)
    results = await asyncio.gather(
        review.decide(w.db, w.sup1, rid, "close", **kw()),  # type: ignore[arg-type]
        review.decide(w.db, w.sup2, rid, "refused", note="拒不整改", **kw()),  # type: ignore[arg-type]
        return_exceptions=True,
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert sum(isinstance(r, review.AlreadyDecided) for r in results) == 1
    assert len(await repo.reviews_of_case(w.db, case_id)) == 1


async def test_liaison_forging_a_review_changes_nothing(world: World) -> None:
    w = world
    case_id = await add_case(w.db, w.edu)
    rid = await submitted(w, case_id)
    before = await audit_actions(w.db)
    for person in (w.liaison1, w.other_liaison, None):
        with pytest.raises(NotAuthorized):
            await review.decide(w.db, person, rid, "close", **kw())  # type: ignore[arg-type]
    with pytest.raises(DomainError):
        await review.decide(w.db, w.sup1, rid, "approve_everything", **kw())  # type: ignore[arg-type]
    with pytest.raises(DomainError, match="does not exist"):
        await review.decide(w.db, w.sup1, 424242, "close", **kw())  # type: ignore[arg-type]
    assert await audit_actions(w.db) == before
    assert (await cases_repo.get_case(w.db, case_id)).status == "reported"  # type: ignore[union-attr]
    assert await repo.review_of(w.db, rid) is None


async def test_a_draft_cannot_be_reviewed(world: World) -> None:
    w = world
    case_id = await add_case(w.db, w.edu)
    draft = await reports.start_draft(w.db, w.liaison1, case_id, now=NOW)
    with pytest.raises(DomainError, match="does not exist"):
        await review.decide(w.db, w.sup1, draft.report.id, "close", **kw())  # type: ignore[arg-type]


@pytest.mark.parametrize(("decision", "status", "suggestion"), [
    ("refused", "refused", Suggestion.REDUCE),
    ("inadequate", "inadequate", Suggestion.HOLD),
    ("falsely_reported", "falsely_reported", Suggestion.REDUCE),
])
async def test_non_compliance_needs_a_note_and_feeds_the_budget(world: World, decision: str, status: str,
                                                                 suggestion: Suggestion) -> None:
    w = world
    case_id = await add_case(w.db, w.edu, grade="good")
    rid = await submitted(w, case_id)
    with pytest.raises(DomainError, match="needs a note"):
        await review.decide(w.db, w.sup1, rid, decision, **kw())  # type: ignore[arg-type]
    decided = await review.decide(w.db, w.sup1, rid, decision, note="台账与实际不符", **kw())  # type: ignore[arg-type]
    assert (decided.case.status, decided.report.state) == (status, "non_compliant")
    assert decided.case.due_on == date(2026, 3, 31)  # no new deadline for a finding
    advice = budget_suggestion(decided.case)
    assert advice is not None and advice.suggestion is suggestion  # non-compliance outranks the grade 良
    # The unit may still rectify and report again.
    again = await reports.start_draft(w.db, w.liaison1, case_id, now=NOW)
    assert again.report.id != rid


async def test_return_with_an_explicit_date_and_card_rendering(world: World) -> None:
    w = world
    case_id = await add_case(w.db, w.edu)
    rid = await submitted(w, case_id)
    t = translator_for_locale("zh_CN")
    card = await review.review_card(w.db, t, rid)
    assert "学生营养餐项目" in card.text and "已完成整改" in card.text and "证明.pdf" in card.text
    assert [d for row in card.buttons for _, d in row] == [
        f"rv:close:{rid}", f"rv:return_for_rework:{rid}", f"rv:refused:{rid}", f"rv:inadequate:{rid}",
        f"rv:falsely_reported:{rid}"]
    with pytest.raises(DomainError, match="after today"):
        await review.decide(w.db, w.sup1, rid, "return_for_rework", note="补充", new_due_on=TODAY,
                            **kw())  # type: ignore[arg-type]
    decided = await review.decide(w.db, w.sup1, rid, "return_for_rework", note="补充",
                                  new_due_on=date(2026, 4, 10), **kw())  # type: ignore[arg-type]
    assert decided.case.due_on == date(2026, 4, 10)
    card = await review.review_card(w.db, t, rid)
    assert card.buttons == []  # decided: no more buttons
    notice = await review.render_review_decided(w.db, t, {"report_id": rid})
    assert "退回" in notice.text or "returned" in notice.text


async def test_return_keeps_the_deadline_and_says_so(world: World) -> None:
    """保持原期限: the case's deadline is untouched, the review records no new date, everyone is told."""
    w = world
    case_id = await add_case(w.db, w.edu, due_on=date(2027, 2, 2))
    rid = await submitted(w, case_id)
    decided = await review.decide(w.db, w.sup1, rid, "return_for_rework", note="缺少明细表", keep_due=True,
                                  **kw())  # type: ignore[arg-type]
    assert decided.case.due_on == date(2027, 2, 2) and decided.review.new_due_on is None
    assert decided.previous_due_on == date(2027, 2, 2)
    assert decided.case.status == "returned"
    t = translator_for_locale("zh_CN")
    notice = await review.render_review_decided(w.db, t, {"report_id": rid})
    assert "整改期限不变" in notice.text and "2027年2月2日" in notice.text
    returned = next(h for h in await cases_repo.case_history(w.db, case_id)
                    if h.action == "case.review.return_for_rework")
    assert json.loads(returned.after or "{}")["due_kept"] is True


async def test_return_never_moves_a_deadline_forward_silently(world: World) -> None:
    """The replayed failure: 2027-02-02 replaced by the 10-working-day default. Now refused unless chosen."""
    w = world
    case_id = await add_case(w.db, w.edu, due_on=date(2027, 2, 2))
    rid = await submitted(w, case_id)
    for wanted in (None, date(2026, 12, 16)):
        with pytest.raises(review.EarlierThanDeadline) as caught:
            await review.decide(w.db, w.sup1, rid, "return_for_rework", note="补充", new_due_on=wanted,
                                **kw())  # type: ignore[arg-type]
        assert caught.value.current == date(2027, 2, 2)
    assert (await cases_repo.get_case(w.db, case_id)).due_on == date(2027, 2, 2)  # type: ignore[union-attr]
    assert await repo.review_of(w.db, rid) is None
    zh = caught.value.render(translator_for_locale("zh_CN"))
    assert "早于" in zh and "2027年2月2日" in zh
    decided = await review.decide(w.db, w.sup1, rid, "return_for_rework", note="补充",
                                  new_due_on=date(2026, 12, 16), allow_earlier=True, **kw())  # type: ignore[arg-type]
    assert decided.case.due_on == date(2026, 12, 16) and decided.previous_due_on == date(2027, 2, 2)


async def test_a_later_date_needs_no_consent_and_a_passed_deadline_cannot_be_kept(world: World) -> None:
    w = world
    later = await add_case(w.db, w.edu, due_on=date(2026, 3, 5))
    rid = await submitted(w, later)
    decided = await review.decide(w.db, w.sup1, rid, "return_for_rework", note="补充",
                                  new_due_on=date(2026, 4, 30), **kw())  # type: ignore[arg-type]
    assert decided.case.due_on == date(2026, 4, 30)
    passed = await add_case(w.db, w.edu, project="校舍维修", due_on=date(2026, 2, 27))
    rid2 = await submitted(w, passed)
    with pytest.raises(DomainError, match="has passed"):
        await review.decide(w.db, w.sup1, rid2, "return_for_rework", note="补充", keep_due=True,
                            **kw())  # type: ignore[arg-type]
    # No current deadline ahead: the default needs no consent.
    decided2 = await review.decide(w.db, w.sup1, rid2, "return_for_rework", note="补充",
                                   **kw())  # type: ignore[arg-type]
    assert decided2.case.due_on == date(2026, 3, 16)


def test_history_detail_words_returns_rounds_and_opinions() -> None:
    from bot.review_text import history_detail
    t = translator_for_locale("zh_CN")
    kept = history_detail(t, "case.review.return_for_rework", {}, {"due_kept": True, "due_on": "2027-02-02",
                                                                  "note": "缺少明细表"})
    assert "整改期限不变" in kept and "2027年2月2日" in kept and "退回理由：缺少明细表" in kept
    moved = history_detail(t, "case.review.return_for_rework", {"due_on": "2027-02-02"},
                           {"due_on": "2026-12-16", "note": "补充"})
    assert "2027年2月2日" in moved and "2026年12月16日" in moved
    assert "第2次报送" in history_detail(t, "case.reported", {}, {"round": 2})
    assert history_detail(t, "case.reported", {}, {"round": 1}) == ""
    assert "审核意见：同意销号" in history_detail(t, "case.review.close", {}, {"note": "同意销号"})


async def test_resubmission_is_numbered_prefilled_and_explained(world: World) -> None:
    """第2次报送: starts from the returned report's measures and files; the card says the round and why."""
    w = world
    case_id = await add_case(w.db, w.edu)
    first = await submitted(w, case_id)
    await review.decide(w.db, w.sup1, first, "return_for_rework", note="缺少资金拨付明细表", keep_due=True,
                        **kw())  # type: ignore[arg-type]
    draft = await reports.start_draft(w.db, w.liaison2, case_id, now=NOW)  # another liaison may take it over
    assert draft.report.round == 2 and draft.report.measures == "已完成整改"
    first_files = await repo.evidence_of(w.db, first)
    assert [(e.sha256, e.path) for e in draft.evidence] == [(e.sha256, e.path) for e in first_files]
    assert [e.id for e in draft.evidence] != [e.id for e in first_files]  # copies: editing leaves the first intact
    previous = await reports.last_return(w.db, case_id)
    assert previous is not None and previous.note == "缺少资金拨付明细表"
    t = translator_for_locale("zh_CN")
    assert reports.resubmission_lines(draft.report, previous, t, confidential=False) == [
        "第2次报送", "退回理由：缺少资金拨付明细表"]
    assert reports.resubmission_lines(draft.report, previous, t, confidential=True) == ["第2次报送"]
    # Replace the files, add to the measures, submit.
    await reports.clear_evidence(w.db, w.liaison2, draft.report.id, now=NOW)
    assert len(await repo.evidence_of(w.db, first)) == 1
    await reports.add_measures(w.db, w.liaison2, draft.report.id, "已补充明细表", now=NOW)
    await reports.finish_measures(w.db, w.liaison2, draft.report.id, now=NOW)
    await reports.set_progress(w.db, w.liaison2, draft.report.id, "done", now=NOW)
    done = await reports.submit_report(w.db, w.liaison2, draft.report.id, now=NOW, today=TODAY)
    assert done.report.round == 2 and done.report.measures == "已完成整改\n已补充明细表"
    card = await review.review_card(w.db, t, draft.report.id)
    assert "第2次报送" in card.text and "退回理由：缺少资金拨付明细表" in card.text
    first_card = await review.review_card(w.db, t, first)
    assert "次报送" not in first_card.text
    reported = [h for h in await cases_repo.case_history(w.db, case_id) if h.action == "case.reported"]
    assert [json.loads(h.after or "{}")["round"] for h in reported] == [1, 2]


async def test_cancelled_resubmission_draft_leaves_the_first_report_whole(world: World) -> None:
    w = world
    case_id = await add_case(w.db, w.edu)
    first = await submitted(w, case_id)
    await review.decide(w.db, w.sup1, first, "inadequate", note="措施不具体", **kw())  # type: ignore[arg-type]
    draft = await reports.start_draft(w.db, w.liaison1, case_id, now=NOW)
    assert draft.report.round == 2 and len(draft.evidence) == 1
    await reports.cancel_draft(w.db, w.liaison1, draft.report.id, now=NOW)
    assert len(await repo.evidence_of(w.db, first)) == 1
    again = await reports.start_draft(w.db, w.liaison1, case_id, now=NOW)
    t = translator_for_locale("zh_CN")
    assert reports.resubmission_lines(again.report, await reports.last_return(w.db, case_id), t,
                                      confidential=False) == ["第2次报送", "上次审核意见：措施不具体"]


async def test_closing_keeps_the_review_opinion_in_the_history(world: World) -> None:
    w = world
    case_id = await add_case(w.db, w.edu)
    rid = await submitted(w, case_id)
    decided = await review.decide(w.db, w.sup1, rid, "close", note="整改到位，同意销号", **kw())  # type: ignore[arg-type]
    assert decided.review.note == "整改到位，同意销号" and decided.case.status == "closed"
    closed = next(h for h in await cases_repo.case_history(w.db, case_id) if h.action == "case.review.close")
    assert json.loads(closed.after or "{}")["note"] == "整改到位，同意销号"
    from bot.bootstrap import history_labels
    from bot.case_text import history_text
    line = history_text(translator_for_locale("zh_CN"), closed, history_labels())
    assert "销号" in line and "审核意见：整改到位，同意销号" in line


def test_history_keeps_a_confidential_case_s_review_words_offline() -> None:
    from bot.review_text import history_detail
    t = translator_for_locale("zh_CN")
    line = history_detail(t, "case.review.close", {}, {"note": "涉密内容", "confidential": True})
    assert "涉密内容" not in line


async def test_migration_0006_numbers_existing_reports_per_case(world: World) -> None:
    """The backfill in 0006_report_rounds.sql: each case's non-draft reports count 1, 2, … by id."""
    from storage.db import _split_sql, migrations
    w = world
    case_a, case_b = await add_case(w.db, w.edu), await add_case(w.db, w.edu, project="校舍维修")
    a1 = await submitted(w, case_a)
    await review.decide(w.db, w.sup1, a1, "return_for_rework", note="补充", keep_due=True,
                        **kw())  # type: ignore[arg-type]
    b1 = await submitted(w, case_b)
    a2 = await submitted(w, case_a)
    case_c = await add_case(w.db, w.edu, project="课后服务")
    draft = await reports.start_draft(w.db, w.liaison2, case_c, now=NOW)  # type: ignore[arg-type]
    sql = next(s for n, _, s in migrations() if n == 6)
    backfill = next(st for st in _split_sql(sql) if st.startswith("UPDATE reports"))
    async with w.db.transaction() as conn:
        await conn.execute("UPDATE reports SET round = 1")
        await conn.execute(backfill)
    rounds = {r: (await repo.get_report(w.db, r)).round for r in (a1, a2, b1, draft.report.id)}  # type: ignore[union-attr]
    assert rounds == {a1: 1, a2: 2, b1: 1, draft.report.id: 1}
