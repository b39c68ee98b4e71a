"""The to-do (bot/todo.py, storage/todo.py) and the menu table (bot/menu.py), against a real SQLite file:
the sections per role, counts first, one page read at a time, the escalation levels as the reminder
policy counts them, a payload that survives the outbox, and the digest's body."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from bot import menu, todo
from bot.bootstrap import build_renderers, history_labels
from bot.callbacks import OPEN_CASE, PAGE, RECEIPT, REPORT, REVIEW, TODO
from bot.clock import FakeClock, iso
from bot.digests import build_digest, enqueue_daily_digests, render_digest_notification
from bot.domain import Kind, Person, Role
from bot.errors import NotAuthorized
from bot.i18n import translator_for_locale
from bot.reminders import case_standing
from bot.services import Services
from bot.settings import Settings
from storage import outbox as outbox_repo
from storage import people as people_repo
from storage import reports as reports_repo
from storage import todo as todo_repo
from storage.cases import get_case
from storage.db import Database
from tests.reminder_helpers import T0, add_case, add_department, add_person, local

ZH = translator_for_locale("zh_CN")
EN = translator_for_locale("en")
TODAY = date(2026, 3, 20)  # a Friday


@pytest.fixture
async def svc(tmp_path: Path) -> AsyncIterator[Services]:
    db = await Database.open(tmp_path / "rectbot.db")
    yield Services(settings=Settings(), db=db, clock=FakeClock(local(TODAY, 8, 30)),
                   renderers=build_renderers(Path("files")), history_labels=history_labels())
    await db.close()


async def person(svc: Services, person_id: int) -> Person:
    found = await people_repo.person_by_id(svc.db, person_id)
    assert found is not None
    return found


async def submitted_report(svc: Services, case_id: int, author: int, on: date) -> int:
    async with svc.db.transaction() as conn:
        report_id = await reports_repo.insert_draft(conn, case_id, author, iso(T0))
        await conn.execute("UPDATE reports SET state = 'submitted', submitted_at = ?, submitted_on = ? WHERE id = ?",
                           (f"{on.isoformat()}T02:00:00+00:00", on.isoformat(), report_id))
        await conn.execute("UPDATE cases SET status = 'reported' WHERE id = ?", (case_id,))
    return report_id


async def ledger(svc: Services) -> dict[str, int]:
    edu = await add_department(svc.db, "县教育局")
    health = await add_department(svc.db, "县卫健局")
    ids = {
        "edu": edu, "health": health,
        "liaison": await add_person(svc.db, 100, "liaison", edu),
        "other_liaison": await add_person(svc.db, 101, "liaison", health),
        "supervisor": await add_person(svc.db, 200, "supervisor"),
        "admin": await add_person(svc.db, 300, "admin"),
        # overdue 15 working days (level 2), 1 working day (level 1), due in a week, far away
        "old": await add_case(svc.db, edu, project="老逾期", due_on=date(2026, 2, 28)),
        "new": await add_case(svc.db, health, project="新逾期", due_on=date(2026, 3, 19)),
        "soon": await add_case(svc.db, edu, project="快到期", due_on=date(2026, 3, 27)),
        "far": await add_case(svc.db, edu, project="还早", due_on=date(2026, 5, 29)),
        "returned": await add_case(svc.db, edu, project="退回", due_on=date(2026, 4, 10), status="returned"),
        "feedback": await add_case(svc.db, edu, project="待确认", status="pending_feedback", feedback_received_on=None,
                                   feedback_sent_on=date(2026, 3, 15)),
        "secret": await add_case(svc.db, edu, project="涉密项目", status="pending_feedback", confidential=True,
                                 feedback_received_on=None, feedback_sent_on=date(2026, 3, 18)),
        "reported": await add_case(svc.db, health, project="已报告", due_on=date(2026, 4, 1)),
        "closed": await add_case(svc.db, edu, project="已销号", due_on=date(2026, 1, 5), status="closed"),
    }
    ids["report"] = await submitted_report(svc, ids["reported"], ids["other_liaison"], date(2026, 3, 19))
    async with svc.db.transaction() as conn:
        ids["extension"] = await reports_repo.insert_extension(
            conn, case_id=ids["far"], requester_id=ids["liaison"], reason="汛期施工", proposed_due_on=date(2026, 6, 30),
            previous_due_on=date(2026, 5, 29), at=iso(T0))
    return ids


async def test_bureau_todo_counts_first_then_items_with_buttons(svc: Services) -> None:
    ids = await ledger(svc)
    sup = await person(svc, ids["supervisor"])
    found = await todo.todo_for(svc.db, svc.calendar, svc.settings, sup, today=TODAY)
    assert found.audience == todo.BUREAU
    assert dict(found.counts) == {"review": 1, "extension": 1, "feedback": 2, "overdue": 2}
    assert found.levels == (1, 1)  # 新逾期 at level 1, 老逾期 at level 2 (拒不整改风险)
    sections = [line.item.section for line in found.page.items]
    assert sections == ["review", "extension", "feedback", "feedback", "overdue", "overdue"]
    overdue = [line for line in found.page.items if line.item.section == "overdue"]
    assert [line.item.case_id for line in overdue] == [ids["old"], ids["new"]]  # most overdue first
    for line in overdue:  # the same days and level the reminder policy computes
        case = await get_case(svc.db, line.item.case_id)
        assert case is not None
        st = case_standing(case, TODAY, svc.calendar, svc.settings)
        assert st is not None and (-line.days, line.level) == (st.working_days_overdue, st.level)
    feedback = {line.item.case_id: line.days for line in found.page.items if line.item.section == "feedback"}
    assert feedback == {ids["feedback"]: 5, ids["secret"]: 2}

    text, rows = todo.render(ZH, found)
    head, counts = text.split("\n")[0], text.split("\n")[1:5]
    assert head.startswith("📝 今日待办")
    assert counts == ["• 待审核的整改报告：1", "• 待决定的延期申请：1", "• 单位尚未确认收到的反馈书：2",
                      "• 逾期事项：2（一级督办1件；二级督办、有拒不整改风险1件）"]
    assert "已发出5天" in text and "二级督办（拒不整改风险）" in text and "· 一级督办" in text
    assert "涉密项目" not in text
    assert text.index("【待审核的整改报告】") < text.index("【逾期事项】")
    data = [row[0][1] for row in rows]
    assert data == [REVIEW.build("open", ids["report"]), TODO.build("ext", ids["extension"]),
                    OPEN_CASE.build("o", ids["feedback"]), OPEN_CASE.build("o", ids["secret"]),
                    OPEN_CASE.build("o", ids["old"]), OPEN_CASE.build("o", ids["new"])]
    # the admin sees the same to-do
    admin = await todo.todo_for(svc.db, svc.calendar, svc.settings, await person(svc, ids["admin"]), today=TODAY)
    assert admin.counts == found.counts


async def test_liaison_todo_is_their_department_only(svc: Services) -> None:
    ids = await ledger(svc)
    mine = await todo.todo_for(svc.db, svc.calendar, svc.settings, await person(svc, ids["liaison"]), today=TODAY)
    assert mine.audience == todo.LIAISON
    assert dict(mine.counts) == {"feedback": 2, "due": 3, "returned": 1}
    due = [line.item.case_id for line in mine.page.items if line.item.section == "due"]
    assert due == [ids["old"], ids["soon"], ids["far"]]  # soonest first
    text, rows = todo.render(ZH, mine)
    assert text.startswith("📝 我的待办") and "待确认收到的反馈书：2" in text
    assert "退回补充、待重新报送的报告：1" in text
    assert "新逾期" not in text and "县卫健局" not in text
    assert "县教育局" not in text and "督办" not in text  # their own department, the bureau's levels: not shown
    assert REPORT.build("c", ids["returned"]) in [row[0][1] for row in rows]
    assert REPORT.build("c", ids["soon"]) in [row[0][1] for row in rows]
    # feedback to acknowledge opens the feedback card with its 确认收到, only for their own department
    assert TODO.build("fb", ids["feedback"]) in [row[0][1] for row in rows]
    card = await todo.feedback_card(svc.db, ZH, await person(svc, ids["liaison"]), ids["feedback"])
    assert "待确认" in card.text and card.buttons == [[("确认收到", RECEIPT.build("ack", ids["feedback"]))]]
    with pytest.raises(NotAuthorized):
        await todo.feedback_card(svc.db, ZH, await person(svc, ids["other_liaison"]), ids["feedback"])
    with pytest.raises(NotAuthorized):
        await todo.feedback_card(svc.db, ZH, await person(svc, ids["supervisor"]), ids["feedback"])
    other = await todo.todo_for(svc.db, svc.calendar, svc.settings, await person(svc, ids["other_liaison"]),
                                today=TODAY)
    assert dict(other.counts) == {"feedback": 0, "due": 1, "returned": 0}  # 已报告 awaits review: not theirs now
    assert [line.item.case_id for line in other.page.items] == [ids["new"]]


async def test_strangers_and_inactive_people_get_no_todo(svc: Services) -> None:
    ids = await ledger(svc)
    with pytest.raises(NotAuthorized):
        await todo.todo_for(svc.db, svc.calendar, svc.settings, None, today=TODAY)
    async with svc.db.transaction() as conn:
        await conn.execute("UPDATE people SET active = 0 WHERE id = ?", (ids["supervisor"],))
    with pytest.raises(NotAuthorized):
        await todo.todo_for(svc.db, svc.calendar, svc.settings, await person(svc, ids["supervisor"]), today=TODAY)


async def test_250_items_page_across_sections_reading_one_page(svc: Services) -> None:
    edu = await add_department(svc.db, "县教育局")
    liaison = await add_person(svc.db, 100, "liaison", edu)
    await add_person(svc.db, 200, "supervisor")
    for i in range(125):
        case_id = await add_case(svc.db, edu, project=f"报告{i:03d}" * 20, due_on=date(2026, 4, 1))
        await submitted_report(svc, case_id, liaison, date(2026, 3, 19))
    for i in range(125):
        await add_case(svc.db, edu, project=f"逾期{i:03d}" * 20, due_on=date(2026, 3, 2))
    pages = []
    for n in range(1, 27):
        found = await todo.build(svc.db, svc.calendar, svc.settings, audience=todo.BUREAU, today=TODAY, number=n)
        assert found.page.total == 250 and found.page.pages == 25
        text, rows = todo.render(ZH, found)
        assert len(text) <= 4096 and sum(len(r) for r in rows) <= 100 and all(len(r) <= 8 for r in rows)
        assert all(len(data.encode()) <= 64 for row in rows for _label, data in row)
        assert "第" in text and "共250" in text  # the page line with the total
        pages.append(tuple(line.item.case_id for line in found.page.items))
    assert pages[-1] == pages[-2]  # page 26 does not exist: the nearest (25) instead
    seen = [case_id for page in pages[:-1] for case_id in page]
    assert len(seen) == len(set(seen)) == 250  # every item once, across the review/overdue boundary
    first = todo.render(ZH, await todo.build(svc.db, svc.calendar, svc.settings, audience=todo.BUREAU, today=TODAY))
    assert first[1][-1] == [("下一页 ▶", PAGE.build("todo", 2))]
    # a page reads one page: ten rows at most from storage
    assert len(await todo_repo.items(svc.db, "overdue", today=TODAY, limit=10, offset=120)) == 5


async def test_payload_round_trip_and_english(svc: Services) -> None:
    ids = await ledger(svc)
    found = await todo.todo_for(svc.db, svc.calendar, svc.settings, await person(svc, ids["supervisor"]), today=TODAY)
    again = todo.Todo.from_payload(found.to_payload())
    assert again == found
    text, _rows = todo.render(EN, again)
    assert "Reports awaiting review: 1" in text and not any("\u4e00" <= ch <= "\u9fff" for ch in text.replace(
        "县教育局", "").replace("县卫健局", "").replace("老逾期", "").replace("新逾期", "").replace("待确认", "")
        .replace("已报告", "").replace("还早", ""))


async def test_the_digest_is_the_todo_and_goes_out_on_the_first_day(svc: Services) -> None:
    ids = await ledger(svc)
    # the first day the bot runs (a fresh database) gets its digest too
    assert await enqueue_daily_digests(svc) == 1
    assert await enqueue_daily_digests(svc) == 0  # once a day
    rows = await outbox_repo.rows(svc.db, kind=Kind.DIGEST)
    assert [r.key for r in rows] == [f"digest:{TODAY.isoformat()}:p{ids['supervisor']}"]
    rendered = await render_digest_notification(svc.db, ZH, rows[0].payload)
    assert "每日汇总" in rendered.text.split("\n")[0] and "• 待审核的整改报告：1" in rendered.text
    assert "分类清单：" in rendered.text
    data = [d for row in rendered.buttons for _label, d in row]
    assert REVIEW.build("open", ids["report"]) in data and TODO.build("ext", ids["extension"]) in data
    assert "dg:overdue" in data  # the digest's own lists are still there
    english = await render_digest_notification(svc.db, EN, rows[0].payload)
    assert english.text.startswith("📋 Daily digest") and "Extension requests to decide" in english.text
    # a payload without a to-do (enqueued before this version) still renders the summary
    old = (await build_digest(svc.db, svc.calendar, svc.settings, svc.now())).to_payload()
    assert "每日汇总" in (await render_digest_notification(svc.db, ZH, old)).text.split("\n")[0]


def test_menu_labels_per_role_and_language() -> None:
    assert menu.labels_for(ZH, Role.LIAISON) == [["我的待办", "本单位事项"], ["报送整改", "申请延期"]]
    assert menu.labels_for(ZH, Role.SUPERVISOR) == [["今日待办", "登记事项"], ["待审核", "各单位情况"], ["导出台账"]]
    assert menu.labels_for(ZH, Role.ADMIN) == menu.labels_for(ZH, Role.SUPERVISOR)
    assert menu.labels_for(EN, Role.LIAISON) == [["My to-do", "My department's cases"],
                                                 ["Report rectification", "Request an extension"]]
    assert menu.labels_for(ZH, None) == []
    commands = {"我的待办": "todo", "本单位事项": "cases", "报送整改": "report", "申请延期": "extend"}
    for label, command in commands.items():
        assert menu.command_for(ZH, Role.LIAISON, label) == command
    for label, command in {"今日待办": "todo", "登记事项": "new", "待审核": "review", "各单位情况": "status",
                           "导出台账": "export"}.items():
        assert menu.command_for(ZH, Role.SUPERVISOR, label) == command
    assert menu.command_for(ZH, Role.LIAISON, "　报送整改 ") == "report"       # full-width and plain spaces
    assert menu.command_for(EN, Role.LIAISON, " my TO-DO ") == "todo"
    assert menu.command_for(ZH, Role.LIAISON, "待审核") is None               # not a liaison's label
    assert menu.any_command_for("Ｅｘｐｏｒｔ the ledger") == "export"         # full-width letters
    assert menu.any_command_for("报送整改材料") is None
