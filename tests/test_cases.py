"""Case lifecycle in the domain: deadline rules per source, receipt, changes, recompute, who sees what.

Deadlines here are reasoned from the civil-code rules and the 2026 schedule (see test_periods.py):
2025-12-31 + 2 months = 2026-02-28, a make-up working Saturday, so no shift; 2026-03-02 + 10
working days = 2026-03-16 (no holiday in between); 2026-01-20 + 1 month = 2026-02-20, inside the
Spring Festival block 02-15..02-23, so the feedback deadline moves to 2026-02-24.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot import case_text, cases
from bot.bootstrap import build_renderers, history_labels
from bot.cases import CaseDraft
from bot.domain import CaseStatus, Kind, Person
from bot.errors import DomainError, NotAuthorized
from bot.i18n import translator_for_locale
from bot.workcalendar import WorkCalendar, YearSchedule
from storage import cases as repo
from storage import people as people_repo
from storage.db import Database

CAL = WorkCalendar()
ZH = translator_for_locale("zh_CN")
EN = translator_for_locale("en")
TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Haiyan, Monday 2026-03-02

RENDERERS = build_renderers(Path("files"))


@dataclass
class World:
    db: Database
    edu: int
    health: int
    supervisor: Person
    admin: Person
    liaison: Person
    liaison2: Person
    other_liaison: Person


async def make_world(path: Path) -> World:
    db = await Database.open(path)
    async with db.transaction() as conn:
        edu = await people_repo.insert_department(conn, "县教育局", NOW.isoformat())
        health = await people_repo.insert_department(conn, "县卫生健康局", NOW.isoformat())
        ids = {}
        for tg, name, role, dept in ((1, "王督办", "supervisor", None), (2, "李管理", "admin", None),
                                     (3, "张联络", "liaison", edu.id), (4, "陈联络", "liaison", edu.id),
                                     (5, "赵联络", "liaison", health.id)):
            ids[tg] = await people_repo.upsert_person(conn, telegram_id=tg, name=name, username=None, role=role,
                                                      department_id=dept, locale="zh_CN",
                                                      created_at=NOW.isoformat())
    people = {tg: await people_repo.person_by_id(db, pid) for tg, pid in ids.items()}
    assert all(people.values())
    return World(db, edu.id, health.id, people[1], people[2], people[3], people[4], people[5])  # type: ignore[arg-type]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    w = await make_world(tmp_path / "cases.db")
    yield w
    await w.db.close()


def evaluation_draft(**kw: object) -> CaseDraft:
    base: dict[str, object] = dict(
        department_name="县教育局", project="义务教育补助资金", source="evaluation", grade="fair",
        findings="资金拨付滞后", suggestions="加快拨付进度", feedback_doc_no="盐财绩〔2026〕12号",
        evaluation_ended_on=date(2026, 1, 20), feedback_sent_on=date(2026, 2, 26),
    )
    base.update(kw)
    return CaseDraft(**base)  # type: ignore[arg-type]


async def outbox(db: Database) -> list[dict[str, object]]:
    rows = await db.fetchall("SELECT key, person_id, kind, payload, case_id FROM outbox ORDER BY id")
    return [dict(key=r[0], person_id=r[1], kind=r[2], payload=json.loads(r[3]), case_id=r[4]) for r in rows]


async def audits(db: Database, case_id: int) -> list[str]:
    return [e.action for e in await repo.case_history(db, case_id)]


# --------------------------------------------------------------------------- deadline rules


def test_evaluation_deadlines_follow_article_10() -> None:
    d = cases.compute_case_deadlines(source="evaluation", evaluation_ended_on=date(2026, 1, 20),
                                     feedback_received_on=date(2025, 12, 31), period=None, explicit_due_on=None,
                                     calendar=CAL)
    assert (d.feedback_due_on, d.feedback_due_provisional) == (date(2026, 2, 24), False)
    assert d.feedback_due_rule == "months+shift:broad"
    assert (d.due_on, d.due_provisional, d.due_rule) == (date(2026, 2, 28), False, "months")


def test_other_sources_default_to_ten_working_days_and_explicit_date_overrides() -> None:
    d = cases.compute_case_deadlines(source="monitoring", evaluation_ended_on=None,
                                     feedback_received_on=date(2026, 3, 2), period=None, explicit_due_on=None,
                                     calendar=CAL)
    assert (d.due_on, d.due_rule, d.feedback_due_on) == (date(2026, 3, 16), "working_days", None)
    d = cases.compute_case_deadlines(source="ex_ante", evaluation_ended_on=None,
                                     feedback_received_on=date(2026, 3, 2), period="15d",
                                     explicit_due_on=None, calendar=CAL)
    assert d.due_on == date(2026, 3, 17)  # 03-02 + 15 days, a Tuesday
    d = cases.compute_case_deadlines(source="evaluation", evaluation_ended_on=None,
                                     feedback_received_on=date(2026, 3, 2), period="2m",
                                     explicit_due_on=date(2026, 4, 30), calendar=CAL)
    assert (d.due_on, d.due_provisional, d.due_rule) == (date(2026, 4, 30), False, "explicit")
    # No receipt yet: no report deadline.
    d = cases.compute_case_deadlines(source="ranking", evaluation_ended_on=None, feedback_received_on=None,
                                     period="10wd", explicit_due_on=None, calendar=CAL)
    assert d.due_on is None


def test_deadline_in_an_unpublished_year_is_provisional() -> None:
    # 2026-11-10 + 2 months = 2027-01-10, a Sunday of a year no schedule covers yet.
    d = cases.compute_case_deadlines(source="evaluation", evaluation_ended_on=None,
                                     feedback_received_on=date(2026, 11, 10), period=None, explicit_due_on=None,
                                     calendar=CAL)
    assert d.due_provisional is True
    assert d.due_on == date(2027, 1, 11)


def test_draft_validation() -> None:
    assert evaluation_draft(period="2个月").normalized().period == "2m"
    assert CaseDraft("县教育局", "p", "monitoring").normalized().period == "10wd"
    assert CaseDraft("县教育局", "p", "monitoring", explicit_due_on=date(2026, 5, 1)).normalized().period is None
    for bad in (dict(project="  "), dict(source="audit"), dict(grade="A"), dict(period="3m"),
                dict(period="soon"), dict(feedback_received_on=date(2026, 2, 1)),
                dict(feedback_sent_on=date(2026, 1, 1)),
                dict(feedback_received_on=date(2026, 3, 1), explicit_due_on=date(2026, 2, 27))):
        with pytest.raises(DomainError):
            evaluation_draft(**bad).normalized()


# --------------------------------------------------------------------------- registration and feedback


async def test_register_sends_feedback_cards_to_every_liaison_of_the_department(world: World) -> None:
    case, sent = await cases.register_case(world.db, CAL, evaluation_draft(), actor=world.supervisor, now=NOW)
    assert sent == 2
    assert case.status == CaseStatus.PENDING_FEEDBACK
    assert (case.feedback_due_on, case.due_on) == (date(2026, 2, 24), None)
    assert case.next_action_at == NOW
    rows = await outbox(world.db)
    assert {r["person_id"] for r in rows} == {world.liaison.id, world.liaison2.id}
    assert rows[0]["key"] == f"case:{case.id}:feedback:2026-02-26:p{world.liaison.id}"
    assert all(r["kind"] == "feedback_card" and r["case_id"] == case.id for r in rows)
    assert await audits(world.db, case.id) == ["case.register"]
    # The same case twice is refused (the ledger's identity: department, project, source, doc no).
    with pytest.raises(DomainError):
        await cases.register_case(world.db, CAL, evaluation_draft(), actor=world.supervisor, now=NOW)


async def test_only_bureau_staff_register(world: World) -> None:
    with pytest.raises(NotAuthorized):
        await cases.register_case(world.db, CAL, evaluation_draft(), actor=world.liaison, now=NOW)
    assert await repo.count_cases(world.db) == 0


async def test_feedback_card_renders_substance_and_the_ack_button(world: World) -> None:
    case, _ = await cases.register_case(world.db, CAL, evaluation_draft(), actor=world.supervisor, now=NOW)
    card = await RENDERERS.renderers[Kind.FEEDBACK_CARD](world.db, ZH, {"case_id": case.id})
    for part in ("义务教育补助资金", "资金拨付滞后", "加快拨付进度", "盐财绩〔2026〕12号", "中", "2个月"):
        assert part in card.text
    assert card.buttons == [[("确认收到", f"case:ack:{case.id}")]]


async def test_confidential_case_never_shows_substance_in_any_message(world: World) -> None:
    draft = evaluation_draft(confidential=True, project="某涉密项目", findings="秘密问题", suggestions="秘密建议",
                             grade="poor")
    case, _ = await cases.register_case(world.db, CAL, draft, actor=world.supervisor, now=NOW)
    ack = await cases.acknowledge_receipt(world.db, CAL, case.id, person=world.liaison, now=NOW,
                                          today=date(2026, 3, 2))
    await cases.change_deadline(world.db, case.id, date(2026, 6, 1), "延期", actor=world.supervisor, now=NOW,
                                today=date(2026, 3, 2))
    view = await cases.view_case(world.db, case.id, world.supervisor)
    texts = [case_text.receipt_answer(ZH, ack),
             case_text.render_case(ZH, view.case, view.history, view.names, TZ, history_labels())]
    for row in await outbox(world.db):
        for t in (ZH, EN):
            texts.append((await RENDERERS.renderers[Kind(str(row["kind"]))](world.db, t, row["payload"])).text)  # type: ignore[arg-type]
    assert len(texts) > 4
    for text in texts:
        for secret in ("某涉密项目", "秘密问题", "秘密建议", "差"):
            assert secret not in text
    card = await RENDERERS.renderers[Kind.FEEDBACK_CARD](world.db, ZH, {"case_id": case.id})
    assert "涉密" in card.text and f"整改事项#{case.id}" in card.text and "正式渠道" in card.text


async def test_feedback_later_with_send_feedback(world: World) -> None:
    case, sent = await cases.register_case(world.db, CAL, evaluation_draft(feedback_sent_on=None),
                                           actor=world.supervisor, now=NOW)
    assert sent == 0 and await outbox(world.db) == []
    result = await cases.send_feedback(world.db, case.id, actor=world.supervisor, now=NOW, today=date(2026, 3, 2))
    assert (result.recipients, result.enqueued) == (2, 2)
    assert result.case.feedback_sent_on == date(2026, 3, 2)
    again = await cases.send_feedback(world.db, case.id, actor=world.supervisor, now=NOW, today=date(2026, 3, 3))
    assert again.enqueued == 0  # stable keys: nobody gets the card twice
    assert await audits(world.db, case.id) == ["case.register", "case.feedback_sent"]
    with pytest.raises(NotAuthorized):
        await cases.send_feedback(world.db, case.id, actor=world.liaison, now=NOW, today=date(2026, 3, 2))


# --------------------------------------------------------------------------- receipt


async def test_acknowledge_starts_the_two_month_clock_and_is_idempotent(world: World) -> None:
    case, _ = await cases.register_case(world.db, CAL, evaluation_draft(feedback_sent_on=date(2025, 12, 30),
                                                                         evaluation_ended_on=date(2025, 12, 1)),
                                        actor=world.supervisor, now=NOW)
    later = datetime(2026, 3, 3, tzinfo=UTC)
    first = await cases.acknowledge_receipt(world.db, CAL, case.id, person=world.liaison, now=later,
                                            today=date(2025, 12, 31))
    assert not first.already
    c = first.case
    assert (c.feedback_received_on, c.status, c.due_on, c.due_provisional) == (
        date(2025, 12, 31), CaseStatus.IN_PROGRESS, date(2026, 2, 28), False)
    assert c.received_by == f"person:{world.liaison.id}" and c.next_action_at == later
    text = case_text.receipt_answer(ZH, first)
    assert "2026年2月28日（星期六）" in text and "暂定" not in text
    second = await cases.acknowledge_receipt(world.db, CAL, case.id, person=world.liaison2, now=NOW,
                                             today=date(2026, 1, 5))
    assert second.already and second.case.feedback_received_on == date(2025, 12, 31)
    assert "已于2025年12月31日（星期三）" in case_text.receipt_answer(ZH, second)
    assert await audits(world.db, case.id) == ["case.register", "case.receipt_acknowledged"]


async def test_the_supervisor_who_sent_the_feedback_is_told_of_the_receipt(world: World) -> None:
    case, _ = await cases.register_case(world.db, CAL, evaluation_draft(), actor=world.admin, now=NOW)
    await cases.acknowledge_receipt(world.db, CAL, case.id, person=world.liaison, now=NOW, today=date(2026, 3, 2))
    await cases.acknowledge_receipt(world.db, CAL, case.id, person=world.liaison2, now=NOW, today=date(2026, 3, 2))
    told = [r for r in await outbox(world.db) if r["kind"] == Kind.RECEIPT_ACKNOWLEDGED]
    assert [r["person_id"] for r in told] == [world.admin.id]  # the sender only, and once
    note = await RENDERERS.renderers[Kind.RECEIPT_ACKNOWLEDGED](world.db, ZH, told[0]["payload"])  # type: ignore[arg-type]
    assert "县教育局已于2026年3月2日（星期一）确认收到" in note.text and "义务教育补助资金" in note.text
    assert "张联络" in note.text and "整改期限：2026年5月6日（星期三）" in note.text


async def test_receipt_of_feedback_sent_from_the_cli_tells_every_supervisor(world: World) -> None:
    draft = evaluation_draft(confidential=True, project="某涉密项目", feedback_sent_on=None)
    case, _ = await cases.register_case(world.db, CAL, draft, actor=world.admin, now=NOW)
    await cases.send_feedback(world.db, case.id, actor=None, now=NOW, today=date(2026, 3, 2))
    await cases.acknowledge_receipt(world.db, CAL, case.id, person=world.liaison, now=NOW, today=date(2026, 3, 2))
    told = [r for r in await outbox(world.db) if r["kind"] == Kind.RECEIPT_ACKNOWLEDGED]
    assert [r["person_id"] for r in told] == [world.supervisor.id]
    note = await RENDERERS.renderers[Kind.RECEIPT_ACKNOWLEDGED](world.db, ZH, told[0]["payload"])  # type: ignore[arg-type]
    assert f"整改事项#{case.id}" in note.text and "某涉密项目" not in note.text


async def test_the_confirmed_card_keeps_its_lines_and_says_when(world: World) -> None:
    case, _ = await cases.register_case(world.db, CAL, evaluation_draft(), actor=world.supervisor, now=NOW)
    card = await RENDERERS.renderers[Kind.FEEDBACK_CARD](world.db, ZH, {"case_id": case.id})
    receipt = await cases.acknowledge_receipt(world.db, CAL, case.id, person=world.liaison, now=NOW,
                                              today=date(2026, 3, 2))
    confirmed = case_text.confirmed_feedback_card(ZH, receipt.case)
    kept = card.text.split("\n")[:-1]
    assert confirmed.split("\n")[:-1] == kept and "点击" not in confirmed
    assert confirmed.endswith("✅ 已于2026年3月2日（星期一）确认收到，整改期限2026年5月6日（星期三）")


async def test_acknowledge_answers_provisional_deadline_with_zan_ding(world: World) -> None:
    case, _ = await cases.register_case(world.db, CAL, evaluation_draft(feedback_sent_on=date(2026, 11, 9)),
                                        actor=world.supervisor, now=NOW)
    r = await cases.acknowledge_receipt(world.db, CAL, case.id, person=world.liaison, now=NOW,
                                        today=date(2026, 11, 10))
    assert r.case.due_provisional
    assert "2027年1月11日（星期一）（暂定）" in case_text.receipt_answer(ZH, r)


async def test_acknowledge_is_authorized_on_every_press(world: World) -> None:
    case, _ = await cases.register_case(world.db, CAL, evaluation_draft(), actor=world.supervisor, now=NOW)
    for person in (world.other_liaison, world.supervisor):
        with pytest.raises(NotAuthorized):
            await cases.acknowledge_receipt(world.db, CAL, case.id, person=person, now=NOW, today=date(2026, 3, 2))
    with pytest.raises(DomainError):
        await cases.acknowledge_receipt(world.db, CAL, 999, person=world.liaison, now=NOW, today=date(2026, 3, 2))
    unsent, _ = await cases.register_case(world.db, CAL, evaluation_draft(project="另一项目", feedback_sent_on=None),
                                          actor=world.supervisor, now=NOW)
    with pytest.raises(DomainError):
        await cases.acknowledge_receipt(world.db, CAL, unsent.id, person=world.liaison, now=NOW,
                                        today=date(2026, 3, 2))
    c = await repo.get_case(world.db, case.id)
    assert c is not None and c.feedback_received_on is None and c.status == CaseStatus.PENDING_FEEDBACK


async def test_supervisor_records_receipt_by_hand_and_liaisons_are_told(world: World) -> None:
    draft = evaluation_draft(source="monitoring", evaluation_ended_on=None, feedback_sent_on=date(2026, 2, 27),
                             period="10个工作日")
    case, _ = await cases.register_case(world.db, CAL, draft, actor=world.supervisor, now=NOW)
    r = await cases.record_receipt(world.db, CAL, case.id, date(2026, 3, 2), actor=world.supervisor, now=NOW,
                                   today=date(2026, 3, 4))
    assert (r.case.due_on, r.case.status) == (date(2026, 3, 16), CaseStatus.IN_PROGRESS)
    notices = [row for row in await outbox(world.db) if row["kind"] == "receipt_recorded"]
    assert {n["person_id"] for n in notices} == {world.liaison.id, world.liaison2.id}
    text = (await RENDERERS.renderers[Kind.RECEIPT_RECORDED](world.db, ZH, notices[0]["payload"])).text  # type: ignore[arg-type]
    assert "2026年3月16日（星期一）" in text
    with pytest.raises(DomainError):  # in the future
        await cases.record_receipt(world.db, CAL, case.id, date(2026, 3, 9), actor=world.supervisor, now=NOW,
                                   today=date(2026, 3, 4))
    with pytest.raises(NotAuthorized):
        await cases.record_receipt(world.db, CAL, case.id, date(2026, 3, 3), actor=world.liaison, now=NOW,
                                   today=date(2026, 3, 4))


# --------------------------------------------------------------------------- deadline changes


async def test_change_deadline_needs_a_reason_is_audited_and_tells_liaisons(world: World) -> None:
    case, _ = await cases.register_case(world.db, CAL, evaluation_draft(), actor=world.supervisor, now=NOW)
    await cases.acknowledge_receipt(world.db, CAL, case.id, person=world.liaison, now=NOW, today=date(2026, 3, 2))
    with pytest.raises(DomainError):
        await cases.change_deadline(world.db, case.id, date(2026, 6, 30), "  ", actor=world.supervisor, now=NOW,
                                    today=date(2026, 3, 2))
    with pytest.raises(NotAuthorized):
        await cases.change_deadline(world.db, case.id, date(2026, 6, 30), "x", actor=world.liaison, now=NOW,
                                    today=date(2026, 3, 2))
    c = await cases.change_deadline(world.db, case.id, date(2026, 6, 30), "单位申请，经局领导同意",
                                    actor=world.supervisor, now=NOW, today=date(2026, 3, 2))
    assert (c.due_on, c.explicit_due_on, c.due_rule) == (date(2026, 6, 30), date(2026, 6, 30), "explicit")
    history = await repo.case_history(world.db, case.id)
    last = history[-1]
    assert last.action == "case.deadline_changed" and last.actor == f"person:{world.supervisor.id}"
    assert json.loads(last.before or "{}")["due_on"] == "2026-05-06"
    assert json.loads(last.after or "{}")["reason"] == "单位申请，经局领导同意"
    notices = [r for r in await outbox(world.db) if r["kind"] == "deadline_changed"]
    assert {n["person_id"] for n in notices} == {world.liaison.id, world.liaison2.id}
    text = (await RENDERERS.renderers[Kind.DEADLINE_CHANGED](world.db, ZH, notices[0]["payload"])).text  # type: ignore[arg-type]
    assert "2026年6月30日（星期二）" in text and "单位申请" in text


# --------------------------------------------------------------------------- provisional recompute


SCHEDULE_2027 = YearSchedule(
    year=2027, rest_days={date(2027, 1, 1): "元旦", date(2027, 1, 11): "测试假日"}, makeup_workdays={},
    source="国办发明电〔2026〕99号", published_on=date(2026, 11, 20), origin="loaded",
)


async def test_recompute_provisional_deadlines_after_a_year_is_loaded(world: World) -> None:
    moved, _ = await cases.register_case(world.db, CAL, evaluation_draft(feedback_sent_on=date(2026, 11, 9)),
                                         actor=world.supervisor, now=NOW)
    await cases.acknowledge_receipt(world.db, CAL, moved.id, person=world.liaison, now=NOW,
                                    today=date(2026, 11, 10))  # due 2027-01-11 provisional
    same, _ = await cases.register_case(world.db, CAL, evaluation_draft(project="第二个项目",
                                                                        feedback_sent_on=date(2026, 11, 18)),
                                        actor=world.supervisor, now=NOW)
    await cases.acknowledge_receipt(world.db, CAL, same.id, person=world.liaison, now=NOW,
                                    today=date(2026, 11, 18))  # 2027-01-18 (Mon), provisional
    final, _ = await cases.register_case(world.db, CAL, evaluation_draft(project="第三个项目"),
                                         actor=world.supervisor, now=NOW)
    before_outbox = len(await outbox(world.db))
    later = datetime(2026, 11, 21, tzinfo=UTC)
    changes = await cases.recompute_provisional_deadlines(world.db, CAL.with_year(SCHEDULE_2027), later)
    by_case = {(c.case_id, c.field): c for c in changes}
    assert by_case[(moved.id, "due_on")].old == date(2027, 1, 11)
    assert by_case[(moved.id, "due_on")].new == date(2027, 1, 12)
    assert by_case[(moved.id, "due_on")].date_changed and not by_case[(moved.id, "due_on")].provisional
    assert not by_case[(same.id, "due_on")].date_changed  # only the 暂定 flag goes
    assert all(c.case_id != final.id for c in changes)
    m = await repo.get_case(world.db, moved.id)
    s = await repo.get_case(world.db, same.id)
    assert m is not None and s is not None
    assert (m.due_on, m.due_provisional, m.next_action_at) == (date(2027, 1, 12), False, later)
    assert (s.due_on, s.due_provisional) == (date(2027, 1, 18), False)
    assert (await audits(world.db, moved.id))[-1] == "case.deadline_recomputed"
    notices = (await outbox(world.db))[before_outbox:]
    assert {(n["case_id"], n["person_id"]) for n in notices} == {
        (moved.id, world.liaison.id), (moved.id, world.liaison2.id), (moved.id, world.supervisor.id)}
    text = (await RENDERERS.renderers[Kind.DEADLINE_RECOMPUTED](world.db, ZH, notices[0]["payload"])).text  # type: ignore[arg-type]
    assert "2027年1月12日（星期二）" in text and "2027年1月11日（星期一）" in text
    # Running it again changes nothing and tells nobody.
    assert await cases.recompute_provisional_deadlines(world.db, CAL.with_year(SCHEDULE_2027), later) == []
    assert len(await outbox(world.db)) == before_outbox + 3


# --------------------------------------------------------------------------- viewing


async def test_case_view_for_bureau_and_own_department_only(world: World) -> None:
    case, _ = await cases.register_case(world.db, CAL, evaluation_draft(), actor=world.supervisor, now=NOW)
    await cases.acknowledge_receipt(world.db, CAL, case.id, person=world.liaison, now=NOW, today=date(2026, 3, 2))
    for person in (world.supervisor, world.admin, world.liaison2):
        view = await cases.view_case(world.db, case.id, person)
        text = case_text.render_case(ZH, view.case, view.history, view.names, TZ, history_labels())
        assert "义务教育补助资金" in text and "王督办" in text and "张联络" in text
        assert "2026年5月6日（星期三）" in text  # 03-02 + 2 months = 05-02, in the Labour Day block (05-01..05)
    with pytest.raises(NotAuthorized):
        await cases.view_case(world.db, case.id, world.other_liaison)
    with pytest.raises(DomainError):
        await cases.view_case(world.db, 12345, world.supervisor)


async def test_recompute_leaves_deadlines_set_by_other_rules_alone(world: World) -> None:
    case, _ = await cases.register_case(world.db, CAL, evaluation_draft(feedback_sent_on=date(2026, 11, 9)),
                                        actor=world.supervisor, now=NOW)
    await cases.acknowledge_receipt(world.db, CAL, case.id, person=world.liaison, now=NOW,
                                    today=date(2026, 11, 10))
    async with world.db.transaction() as conn:  # as an approved extension would store it
        await repo.update_case(conn, case.id, {"due_on": date(2027, 2, 1), "due_provisional": True,
                                               "due_rule": "extension:1", "status": CaseStatus.RETURNED})
    assert await cases.recompute_provisional_deadlines(world.db, CAL.with_year(SCHEDULE_2027), NOW) == []
    c = await repo.get_case(world.db, case.id)
    assert c is not None and (c.due_on, c.status) == (date(2027, 2, 1), "returned")


async def test_a_liaison_cannot_tell_a_missing_case_from_another_departments(world: World) -> None:
    """Issue 13, finding 11: /case N and 确认收到 give a liaison one refusal for both, so numbers cannot be
    enumerated; bureau staff are still told that a number does not exist."""
    theirs, _ = await cases.register_case(world.db, CAL, evaluation_draft(), actor=world.supervisor, now=NOW)
    missing = theirs.id + 1000
    refusals = []
    for case_id in (theirs.id, missing):
        with pytest.raises(NotAuthorized) as viewing:
            await cases.view_case(world.db, case_id, world.other_liaison)
        with pytest.raises(NotAuthorized) as acknowledging:
            await cases.acknowledge_receipt(world.db, CAL, case_id, person=world.other_liaison, now=NOW,
                                            today=date(2026, 3, 2))
        refusals.append((viewing.value.render(ZH).replace(str(case_id), "N"),
                         acknowledging.value.render(ZH).replace(str(case_id), "N")))
    assert refusals[0] == refusals[1]
    assert refusals[0][0] == refusals[0][1] == "整改事项#N不属于您所在部门，无法查看或报送。"
    with pytest.raises(DomainError) as info:
        await cases.view_case(world.db, missing, world.supervisor)
    assert not isinstance(info.value, NotAuthorized) and info.value.render(ZH) == f"没有整改事项#{missing}。"
