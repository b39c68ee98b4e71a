"""逐条整改 (bot/reports.py): a numbered findings list is answered item by item, and shown side by side."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from bot import reports, review
from bot.domain import ItemStatus, Progress, ReportItem, Step
from bot.errors import DomainError
from bot.i18n import translator_for_locale
from storage import reports as repo
from tests.test_reports_helpers import CALENDAR, NOW, TODAY, World, add_case
from tests.test_reports_helpers import world as world  # the fixture

FINDINGS = "1. 资金拨付滞后\n2. 绩效目标不明确\n3. 档案管理不规范"
TZ = ZoneInfo("Asia/Shanghai")


async def numbered_case(w: World, findings: str = FINDINGS, **extra: object) -> int:
    case_id = await add_case(w.db, w.edu, **extra)  # type: ignore[arg-type]
    async with w.db.transaction() as conn:
        await conn.execute("UPDATE cases SET findings = ? WHERE id = ?", (findings, case_id))
    return case_id


def test_overall_progress_follows_the_items() -> None:
    def items(*statuses: ItemStatus) -> list[ReportItem]:
        return [ReportItem(1, n, "x", s) for n, s in enumerate(statuses, start=1)]
    assert reports.overall_progress(items(ItemStatus.DONE, ItemStatus.DONE)) is Progress.DONE
    assert reports.overall_progress(items(ItemStatus.DONE, ItemStatus.CANNOT)) is Progress.PARTLY
    assert reports.overall_progress(items(ItemStatus.IN_PROGRESS, ItemStatus.CANNOT)) is Progress.PARTLY
    assert reports.overall_progress(items(ItemStatus.CANNOT, ItemStatus.CANNOT)) is Progress.NOT_YET


async def test_a_numbered_finding_is_answered_item_by_item(world: World) -> None:
    w = world
    case_id = await numbered_case(w)
    draft = await reports.start_draft(w.db, w.liaison1, case_id, now=NOW)
    rid = draft.report.id
    assert draft.step is Step.ITEMS and [i.item_no for i in draft.items] == [1, 2, 3]
    with pytest.raises(DomainError, match="item 1"):
        await reports.set_item_status(w.db, w.liaison1, rid, 1, "done", now=NOW)  # no measures yet
    for n, (text, status) in enumerate([("已拨付全部资金", "done"), ("已修订绩效目标", "in_progress"),
                                        ("档案已整理", "done")], start=1):
        assert reports.current_item(draft) is not None and reports.current_item(draft).item_no == n  # type: ignore[union-attr]
        draft = await reports.add_item_measures(w.db, w.liaison1, rid, text, now=NOW)
        draft = await reports.set_item_status(w.db, w.liaison1, rid, n, status, now=NOW)
    assert reports.current_item(draft) is None
    assert draft.report.progress == Progress.PARTLY and draft.step is Step.REASON  # partly: a reason is asked
    assert draft.report.measures == "1. 已拨付全部资金\n2. 已修订绩效目标\n3. 档案已整理"
    draft = await reports.set_reason(w.db, w.liaison1, rid, "目标修订待预算批复", now=NOW)
    done = await reports.submit_report(w.db, w.liaison1, rid, now=NOW, today=TODAY)
    assert done.report.state == "submitted"
    t = translator_for_locale("zh_CN")
    card = (await review.review_card(w.db, t, rid)).text
    assert "1. 存在问题：资金拨付滞后\n   整改措施：已拨付全部资金\n   整改状态：已完成" in card
    assert "2. 存在问题：绩效目标不明确\n   整改措施：已修订绩效目标\n   整改状态：正在整改" in card


async def test_rewrite_restart_and_submit_guard(world: World) -> None:
    w = world
    case_id = await numbered_case(w, "一、资金拨付滞后\n二、绩效目标不明确")
    rid = (await reports.start_draft(w.db, w.liaison1, case_id, now=NOW)).report.id
    await reports.add_item_measures(w.db, w.liaison1, rid, "写错了", now=NOW)
    draft = await reports.rewrite_item(w.db, w.liaison1, rid, 1, now=NOW)
    assert draft.items[0].measures == ""
    with pytest.raises(DomainError, match="every numbered finding"):
        await reports.submit_report(w.db, w.liaison1, rid, now=NOW, today=TODAY)
    assert (await reports.goto_step(w.db, w.liaison1, rid, "summary", now=NOW)).step is Step.ITEMS
    with pytest.raises(DomainError):
        await reports.set_item_status(w.db, w.liaison1, rid, 9, "done", now=NOW)  # no such item: stale button
    for n in (1, 2):
        await reports.add_item_measures(w.db, w.liaison1, rid, f"措施{n}", now=NOW)
        draft = await reports.set_item_status(w.db, w.liaison1, rid, n, "done", now=NOW)
    assert draft.report.progress == Progress.DONE and draft.step is Step.EVIDENCE
    draft = await reports.restart_items(w.db, w.liaison1, rid, now=NOW)
    assert draft.step is Step.ITEMS and [i.measures for i in draft.items] == ["措施1", "措施2"]
    assert all(i.status is None for i in draft.items)


async def test_a_resubmission_starts_from_the_items_and_free_text_or_confidential_cases_are_not_itemized(
    world: World,
) -> None:
    w = world
    case_id = await numbered_case(w, "（1）资金拨付滞后（2）绩效目标不明确")
    rid = (await reports.start_draft(w.db, w.liaison1, case_id, now=NOW)).report.id
    for n in (1, 2):
        await reports.add_item_measures(w.db, w.liaison1, rid, f"措施{n}", now=NOW)
        await reports.set_item_status(w.db, w.liaison1, rid, n, "done", now=NOW)
    await reports.submit_report(w.db, w.liaison1, rid, now=NOW, today=TODAY)
    await review.decide(w.db, w.sup1, rid, "return_for_rework", note="第2条不具体", keep_due=True, now=NOW,
                        today=TODAY, calendar=CALENDAR, tz=TZ)
    again = await reports.start_draft(w.db, w.liaison1, case_id, now=NOW)
    assert again.report.round == 2 and [i.measures for i in again.items] == ["措施1", "措施2"]
    assert all(i.status is None for i in again.items) and again.step is Step.ITEMS
    assert [i.measures for i in await repo.items_of(w.db, rid)] == ["措施1", "措施2"]  # the first stays whole

    plain = await add_case(w.db, w.edu, project="校舍维修")
    assert (await reports.start_draft(w.db, w.liaison1, plain, now=NOW)).items == ()
    secret = await numbered_case(w, project="涉密装备", confidential=True)
    assert (await reports.start_draft(w.db, w.liaison1, secret, now=NOW)).items == ()


async def test_a_file_sent_while_answering_items_keeps_the_items_step(world: World) -> None:
    w = world
    case_id = await numbered_case(w)
    rid = (await reports.start_draft(w.db, w.liaison1, case_id, now=NOW)).report.id
    from tests.test_reports_helpers import PDF
    added = await reports.add_evidence(w.db, w.liaison1, rid, data=PDF, file_name="凭证.pdf", mime_type=None,
                                       telegram_file_id=None, files_root=w.files, now=NOW)
    assert added.draft.step is Step.ITEMS and reports.current_item(added.draft).item_no == 1  # type: ignore[union-attr]
