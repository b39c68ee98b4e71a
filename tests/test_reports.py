"""Report drafts, evidence and submission (bot/reports.py) on a real SQLite file."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

import pytest

from bot import reports
from bot.domain import Step
from bot.errors import DomainError, NotAuthorized
from bot.i18n import translator_for_locale
from storage import cases as cases_repo
from storage import reports as repo
from storage.db import Database
from tests.test_reports_helpers import CALENDAR, NOW, PDF, PNG, TODAY, World, add_case, audit_actions, outbox
from tests.test_reports_helpers import world as world  # the fixture


async def test_draft_walks_the_steps_and_submission_queues_review_cards(world: World) -> None:
    w = world
    case_id = await add_case(w.db, w.edu)
    draft = await reports.start_draft(w.db, w.liaison1, case_id, now=NOW)
    assert (draft.step, draft.resumed) == (Step.MEASURES, False)
    draft = await reports.add_measures(w.db, w.liaison1, draft.report.id, "一、已拨付资金 120 万元。", now=NOW)
    draft = await reports.add_measures(w.db, w.liaison1, draft.report.id, "二、建立月度对账制度。", now=NOW)
    assert draft.report.measures == "一、已拨付资金 120 万元。\n二、建立月度对账制度。"
    draft = await reports.finish_measures(w.db, w.liaison1, draft.report.id, now=NOW)
    assert draft.step == Step.PROGRESS
    draft = await reports.set_progress(w.db, w.liaison1, draft.report.id, "partly", now=NOW)
    assert draft.step == Step.REASON
    with pytest.raises(DomainError, match="reason why"):
        await reports.submit_report(w.db, w.liaison1, draft.report.id, now=NOW, today=TODAY)
    draft = await reports.set_reason(w.db, w.liaison1, draft.report.id, "部分资金需次年预算安排", now=NOW)
    assert draft.step == Step.EVIDENCE
    added = await reports.add_evidence(w.db, w.liaison1, draft.report.id, data=PDF, file_name="整改报告.pdf",
                                       mime_type="application/pdf", telegram_file_id="F1", files_root=w.files,
                                       now=NOW)
    assert not added.duplicate
    draft = await reports.goto_step(w.db, w.liaison1, draft.report.id, "summary", now=NOW)
    assert draft.step == Step.SUMMARY and len(draft.evidence) == 1

    done = await reports.submit_report(w.db, w.liaison1, draft.report.id, now=NOW, today=TODAY)
    assert (done.report.state, done.report.on_time, done.report.submitted_on) == ("submitted", True, TODAY)
    assert done.case.status == "reported" and done.case.next_action_at == NOW
    sent = await outbox(w.db)
    kinds = sorted((kind, pid) for _, pid, kind in sent)
    assert kinds == sorted([
        ("review_card", w.sup1.id), ("review_card", w.sup2.id),
        ("review_evidence", w.sup1.id), ("review_evidence", w.sup2.id),
        ("report_submitted", w.liaison2.id),  # the other liaison of the department, not the author
    ])
    actions = await audit_actions(w.db)
    assert actions[0] == "report.draft" and "report.evidence" in actions
    assert actions[-2:] == ["report.submit", "case.reported"]
    # Submitted: it is no longer a draft, and the case takes no second report until reviewed.
    with pytest.raises(DomainError, match="no longer exists"):
        await reports.add_measures(w.db, w.liaison1, draft.report.id, "再补充", now=NOW)
    with pytest.raises(DomainError, match="awaiting the bureau's review"):
        await reports.start_draft(w.db, w.liaison2, case_id, now=NOW)


async def test_draft_survives_reopening_the_database(world: World, tmp_path: object) -> None:
    w = world
    case_id = await add_case(w.db, w.edu)
    draft = await reports.start_draft(w.db, w.liaison1, case_id, now=NOW)
    await reports.add_measures(w.db, w.liaison1, draft.report.id, "已完成整改方案", now=NOW)
    await reports.finish_measures(w.db, w.liaison1, draft.report.id, now=NOW)
    path = w.db.path
    await w.db.close()
    w.db = await Database.open(path)  # a restart: only SQLite remains
    resumed = await reports.current_draft(w.db, w.liaison1)
    assert resumed is not None and resumed.resumed
    assert (resumed.report.id, resumed.step, resumed.report.measures) == (draft.report.id, Step.PROGRESS,
                                                                          "已完成整改方案")
    again = await reports.start_draft(w.db, w.liaison1, case_id, now=NOW + timedelta(minutes=5))
    assert again.report.id == draft.report.id and again.resumed  # one draft per (case, author)


async def test_other_departments_and_roles_cannot_touch_a_case(world: World) -> None:
    w = world
    case_id = await add_case(w.db, w.edu)
    with pytest.raises(NotAuthorized):
        await reports.start_draft(w.db, w.other_liaison, case_id, now=NOW)
    with pytest.raises(NotAuthorized):
        await reports.start_draft(w.db, w.sup1, case_id, now=NOW)
    with pytest.raises(NotAuthorized):  # a case number that does not exist reads the same
        await reports.start_draft(w.db, w.liaison1, 9999, now=NOW)
    draft = await reports.start_draft(w.db, w.liaison1, case_id, now=NOW)
    # Someone else's draft id (a forged callback) is refused and changes nothing.
    for person in (w.liaison2, w.other_liaison):
        with pytest.raises(DomainError):
            await reports.add_measures(w.db, person, draft.report.id, "篡改", now=NOW)
    with pytest.raises(DomainError):
        await reports.submit_report(w.db, w.liaison2, draft.report.id, now=NOW, today=TODAY)
    assert (await repo.get_report(w.db, draft.report.id)).measures == ""  # type: ignore[union-attr]
    visible = await reports.open_cases_for(w.db, w.other_liaison)
    assert case_id not in [c.id for c in visible]
    assert [c.id for c in await reports.open_cases_for(w.db, w.liaison1)] == [case_id]


async def test_evidence_is_stored_by_hash_with_type_and_size(world: World) -> None:
    w = world
    case_id = await add_case(w.db, w.edu)
    draft = await reports.start_draft(w.db, w.liaison1, case_id, now=NOW)
    rid = draft.report.id
    added = await reports.add_evidence(w.db, w.liaison1, rid, data=PDF, file_name="../../etc/passwd.pdf",
                                       mime_type="application/pdf", telegram_file_id="F1", files_root=w.files,
                                       now=NOW)
    sha = hashlib.sha256(PDF).hexdigest()
    ev = added.file
    assert (ev.sha256, ev.size, ev.mime_type, ev.path) == (sha, len(PDF), "application/pdf", f"{case_id}/{sha}.pdf")
    assert ev.file_name == "passwd.pdf"  # display only; never part of the path
    stored = w.files / str(case_id) / f"{sha}.pdf"
    assert stored.read_bytes() == PDF
    assert reports.evidence_path(w.files, ev) == stored.resolve()
    # The same content again is recognised, not stored twice.
    again = await reports.add_evidence(w.db, w.liaison1, rid, data=PDF, file_name="copy.pdf", mime_type=None,
                                       telegram_file_id="F2", files_root=w.files, now=NOW)
    assert again.duplicate and len(again.draft.evidence) == 1
    # A photo has no name: the type comes from its MIME type.
    photo = await reports.add_evidence(w.db, w.liaison1, rid, data=PNG, file_name=None, mime_type="image/png",
                                       telegram_file_id="P1", files_root=w.files, now=NOW)
    assert photo.file.path.endswith(".png") and photo.file.file_name.startswith("photo-")
    # Telegram says image/jpeg for photos; the bytes decide (a PNG stays a PNG).
    sniffed = await reports.add_evidence(w.db, w.liaison1, rid, data=PNG + b"\x01", file_name=None,
                                         mime_type="image/jpeg", telegram_file_id="P2", files_root=w.files, now=NOW)
    assert sniffed.file.mime_type == "image/png"
    # Refused: other types, a renamed executable, more than 20 MB, an empty file.
    for name, mime, data in (("setup.exe", "application/x-msdownload", b"MZ\x90\x00"),
                             ("notes.txt", "text/plain", b"hello"),
                             ("report.pdf", "application/pdf", b"MZ\x90\x00 not a pdf"),
                             ("empty.docx", None, b"")):
        with pytest.raises(DomainError):
            await reports.add_evidence(w.db, w.liaison1, rid, data=data, file_name=name, mime_type=mime,
                                       telegram_file_id=None, files_root=w.files, now=NOW)
    with pytest.raises(DomainError, match="20 MB"):
        reports.check_evidence("big.pdf", "application/pdf", reports.MAX_EVIDENCE_BYTES + 1)
    assert reports.check_evidence("表格.XLSX", None, 10) == "xlsx"
    assert reports.check_evidence("公文.wps", None, 10) == "wps"
    assert reports.check_evidence("IMG_0001.HEIC", None, 10) == "heic"
    t = translator_for_locale("zh_CN")
    with pytest.raises(DomainError) as info:
        reports.check_evidence("a.zip", "application/zip", 10)
    assert "PDF" in info.value.render(t)
    assert len((await reports.load_draft(w.db, w.liaison1, rid)).evidence) == 3


async def test_late_submission_and_not_yet_needs_reason(world: World) -> None:
    w = world
    case_id = await add_case(w.db, w.edu, due_on=date(2026, 2, 27))
    draft = await reports.start_draft(w.db, w.liaison1, case_id, now=NOW)
    await reports.add_measures(w.db, w.liaison1, draft.report.id, "已制定方案", now=NOW)
    await reports.finish_measures(w.db, w.liaison1, draft.report.id, now=NOW)
    await reports.set_progress(w.db, w.liaison1, draft.report.id, "not_yet", now=NOW)
    with pytest.raises(DomainError):
        await reports.set_reason(w.db, w.liaison1, draft.report.id, "   ", now=NOW)
    await reports.set_reason(w.db, w.liaison1, draft.report.id, "等待上级批复", now=NOW)
    done = await reports.submit_report(w.db, w.liaison1, draft.report.id, now=NOW, today=TODAY)
    assert done.report.on_time is False and done.report.progress == "not_yet"


async def test_due_day_itself_is_on_time_and_cancel_removes_the_draft(world: World) -> None:
    w = world
    case_id = await add_case(w.db, w.edu, due_on=TODAY)
    draft = await reports.start_draft(w.db, w.liaison1, case_id, now=NOW)
    await reports.add_measures(w.db, w.liaison1, draft.report.id, "已整改", now=NOW)
    await reports.finish_measures(w.db, w.liaison1, draft.report.id, now=NOW)
    await reports.set_progress(w.db, w.liaison1, draft.report.id, "done", now=NOW)
    other = await reports.start_draft(w.db, w.liaison2, case_id, now=NOW)
    case = await reports.cancel_draft(w.db, w.liaison2, other.report.id, now=NOW)
    assert case.id == case_id and await repo.get_report(w.db, other.report.id) is None
    done = await reports.submit_report(w.db, w.liaison1, draft.report.id, now=NOW, today=TODAY)
    assert done.report.on_time is True
    assert (await cases_repo.get_case(w.db, case_id)).status == "reported"  # type: ignore[union-attr]


async def test_confidential_report_sends_no_evidence_and_no_details(world: World) -> None:
    w = world
    case_id = await add_case(w.db, w.edu, confidential=True, project="涉密项目甲")
    draft = await reports.start_draft(w.db, w.liaison1, case_id, now=NOW)
    await reports.add_measures(w.db, w.liaison1, draft.report.id, "详见正式报送材料", now=NOW)
    await reports.finish_measures(w.db, w.liaison1, draft.report.id, now=NOW)
    await reports.set_progress(w.db, w.liaison1, draft.report.id, "done", now=NOW)
    await reports.add_evidence(w.db, w.liaison1, draft.report.id, data=PDF, file_name="a.pdf", mime_type=None,
                               telegram_file_id=None, files_root=w.files, now=NOW)
    await reports.submit_report(w.db, w.liaison1, draft.report.id, now=NOW, today=TODAY)
    assert "review_evidence" not in [k for _, _, k in await outbox(w.db)]
    from bot.review import review_card

    t = translator_for_locale("zh_CN")
    card = await review_card(w.db, t, draft.report.id)
    assert "涉密项目甲" not in card.text and "详见正式报送材料" not in card.text and f"#{case_id}" in card.text
    assert card.buttons  # still decidable


def test_deadline_status_traffic_light() -> None:
    from tests.test_reports_helpers import NOW as now

    def case(due: date | None) -> object:
        from bot.domain import Case

        return Case(id=1, department_id=1, department_name="d", project="p", source="evaluation", grade=None,
                    findings="", suggestions="", feedback_doc_no="", evaluation_ended_on=None, feedback_sent_on=None,
                    feedback_received_on=None, period=None, explicit_due_on=None, feedback_due_on=None,
                    feedback_due_provisional=False, due_on=due, due_provisional=False, due_rule=None,
                    confidential=False, status="in_progress", next_action_at=None, origin_case_id=None,
                    created_by="cli", created_at=now, updated_at=now)

    today = date(2026, 3, 2)  # Monday
    assert reports.deadline_status(case(date(2026, 3, 31)), today, CALENDAR).light == "green"  # type: ignore[arg-type]
    yellow = reports.deadline_status(case(date(2026, 3, 5)), today, CALENDAR)  # type: ignore[arg-type]
    assert (yellow.light, yellow.working_days_left) == ("yellow", 3)
    red = reports.deadline_status(case(date(2026, 2, 26)), today, CALENDAR)  # type: ignore[arg-type]
    assert (red.light, red.overdue_working_days) == ("red", 3)  # Fri 27, Sat 28 Feb (调休补班), Mon 2 Mar
    t = translator_for_locale("zh_CN")
    assert "🔴" in reports.describe_deadline(case(date(2026, 2, 26)), today, CALENDAR, t)  # type: ignore[arg-type]
