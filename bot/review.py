"""The bureau's review of a report: close (销号), return for rework (退回补充), or non-compliance.

The first decision counts: reviews.report_id is UNIQUE, the check and the insert happen in one
BEGIN IMMEDIATE transaction, and a later press (a second supervisor, a double tap, a stale
card) is told who decided and when. Non-compliance — refused without cause (拒不整改),
inadequate (整改不到位), falsely reported (虚报) — needs a note and feeds the budget
suggestion (bot.budget). A return sets a new deadline (default 10 working days) that the
reminders follow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any

from bot.callbacks import REVIEW
from bot.case_text import case_title
from bot.clock import iso
from bot.dates import _Day, format_date, format_deadline
from bot.domain import Case, CaseStatus, Decision, Kind, Notification, Person, Report, ReportState, Review, Role
from bot.errors import DomainError, Msg
from bot.i18n import N_, Translator
from bot.notify import Rendered
from bot.people import BUREAU_ROLES, actor_of, require_role
from bot.periods import Period, compute_deadline
from bot.reports import evidence_path, last_return, report_body, resubmission_lines
from bot.workcalendar import WorkCalendar
from storage import cases as cases_repo
from storage import people as people_repo
from storage import reports as repo
from storage.db import Database, audit
from storage.outbox import enqueue

DEFAULT_REWORK_PERIOD = Period.parse("10wd")
MAX_NOTE_CHARS = 2000




NON_COMPLIANCE = (Decision.REFUSED, Decision.INADEQUATE, Decision.FALSELY_REPORTED)

DECISION_NAMES = {
    Decision.CLOSE: N_("accepted and closed"),
    Decision.RETURN_FOR_REWORK: N_("returned for rework"),
    Decision.REFUSED: N_("refused to rectify without good cause"),
    Decision.INADEQUATE: N_("rectification inadequate"),
    Decision.FALSELY_REPORTED: N_("rectification falsely reported"),
}

_REPORT_STATE = {
    Decision.CLOSE: ReportState.ACCEPTED,
    Decision.RETURN_FOR_REWORK: ReportState.RETURNED,
    Decision.REFUSED: ReportState.NON_COMPLIANT,
    Decision.INADEQUATE: ReportState.NON_COMPLIANT,
    Decision.FALSELY_REPORTED: ReportState.NON_COMPLIANT,
}
_CASE_STATUS = {
    Decision.CLOSE: CaseStatus.CLOSED,
    Decision.RETURN_FOR_REWORK: CaseStatus.RETURNED,
    Decision.REFUSED: CaseStatus.REFUSED,
    Decision.INADEQUATE: CaseStatus.INADEQUATE,
    Decision.FALSELY_REPORTED: CaseStatus.FALSELY_REPORTED,
}

# Admins may do everything supervisors may, deciding reports included.
REVIEWERS = BUREAU_ROLES


class AlreadyDecided(DomainError):
    """Someone decided first; carries who and when."""


def decision_name(decision: str) -> Msg:
    return Msg(DECISION_NAMES[Decision(decision)])


def _already(review: Review, tz: tzinfo) -> AlreadyDecided:
    when = review.decided_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    return AlreadyDecided(N_("This report was already decided by {name} at {when}: {decision}."),
                          name=review.reviewer_name, when=when, decision=decision_name(review.decision))


def parse_decision(value: str) -> Decision:
    try:
        return Decision(value)
    except ValueError:
        raise DomainError(N_("This button is no longer valid.")) from None


def default_rework_deadline(today: date, calendar: WorkCalendar) -> tuple[date, bool]:
    """10 working days from today (Civil Code art. 201: today is not counted); provisional flag."""
    deadline = compute_deadline(today, DEFAULT_REWORK_PERIOD, calendar)
    return deadline.due, deadline.provisional


class EarlierThanDeadline(DomainError):
    """A return's new deadline is before the current one: only on the supervisor's explicit choice."""

    def __init__(self, new: date, current: date) -> None:
        super().__init__(N_("The new deadline {new} is earlier than the current deadline {current}."),
                         new=_Day(new), current=_Day(current))
        self.new, self.current = new, current


def may_keep_deadline(case: Case, today: date) -> bool:
    """保持原期限 makes sense only while the current deadline is still ahead."""
    return case.due_on is not None and case.due_on > today


def rework_due(case: Case, wanted: date | None, *, keep_due: bool, allow_earlier: bool, today: date,
               calendar: WorkCalendar) -> tuple[date | None, bool]:
    """The deadline a return leaves the case with, and whether it is provisional; refuses a silent change.

    keep → the current deadline (refused once it has passed); no date → 10 working days; a date before
    the current deadline → EarlierThanDeadline unless `allow_earlier`.
    """
    if keep_due:
        if not may_keep_deadline(case, today):
            raise DomainError(N_("The current deadline has passed; please set a new deadline."))
        return case.due_on, case.due_provisional
    if wanted is None:
        wanted, provisional = default_rework_deadline(today, calendar)
    elif wanted <= today:
        raise DomainError(N_("The new deadline must be after today."))
    else:
        provisional = calendar.is_guessed(wanted)
    if case.due_on is not None and wanted < case.due_on and not allow_earlier:
        raise EarlierThanDeadline(wanted, case.due_on)
    return wanted, provisional


@dataclass(frozen=True)
class Decided:
    review: Review
    report: Report
    case: Case
    previous_due_on: date | None = None  # the case's deadline before the decision (a return may move it)


async def report_for_review(db: Database, person: Person | None, report_id: int, tz: tzinfo) -> tuple[Report, Case]:
    """What a review card or a decision prompt needs; refused unless the report still awaits review."""
    require_role(person, *REVIEWERS)
    report = await repo.get_report(db, report_id)
    if report is None or report.state == ReportState.DRAFT:
        raise DomainError(N_("This report does not exist."))
    existing = await repo.review_of(db, report_id)
    if existing is not None:
        raise _already(existing, tz)
    if report.state != ReportState.SUBMITTED:
        raise DomainError(N_("This report is not awaiting review."))
    case = await cases_repo.get_case(db, report.case_id)
    assert case is not None
    return report, case


async def decide(
    db: Database, person: Person | None, report_id: int, decision: str, *, note: str = "",
    new_due_on: date | None = None, keep_due: bool = False, allow_earlier: bool = False,
    now: datetime, today: date, calendar: WorkCalendar, tz: tzinfo,
) -> Decided:
    """Record a supervisor's decision on a submitted report; the first decision counts.

    A return keeps the case's deadline (`keep_due`) or sets `new_due_on` (default: 10 working days);
    a date earlier than the current deadline is refused unless `allow_earlier` says the supervisor
    chose it (a return once silently moved a deadline forward by seven weeks).
    """
    reviewer = require_role(person, *REVIEWERS)
    choice = parse_decision(decision)
    note = note.strip()
    if len(note) > MAX_NOTE_CHARS:
        raise DomainError(N_("The note is too long ({limit} characters at most)."), limit=MAX_NOTE_CHARS)
    if choice is Decision.RETURN_FOR_REWORK and not note:
        raise DomainError(N_("Please give the reason for returning the report."))
    if choice in NON_COMPLIANCE and not note:
        raise DomainError(N_("A non-compliance finding needs a note explaining it."))
    liaisons = []
    async with db.transaction() as conn:
        existing = await repo.review_of(conn, report_id)
        if existing is not None:
            raise _already(existing, tz)
        report = await repo.get_report(conn, report_id)
        if report is None or report.state == ReportState.DRAFT:
            raise DomainError(N_("This report does not exist."))
        if report.state != ReportState.SUBMITTED:
            raise DomainError(N_("This report is not awaiting review."))
        case = await cases_repo.get_case(conn, report.case_id)
        assert case is not None
        provisional = False
        if choice is Decision.RETURN_FOR_REWORK:
            new_due_on, provisional = rework_due(case, new_due_on, keep_due=keep_due, allow_earlier=allow_earlier,
                                                 today=today, calendar=calendar)
        else:
            new_due_on = None
        review_id = await repo.insert_review(conn, report_id=report_id, reviewer_id=reviewer.id, decision=choice,
                                             note=note, new_due_on=None if keep_due else new_due_on, at=iso(now))
        await repo.update_report(conn, report_id, {"state": _REPORT_STATE[choice], "updated_at": iso(now)})
        changes: dict[str, Any] = {"status": _CASE_STATUS[choice], "next_action_at": now, "updated_at": now}
        before: dict[str, Any] = {"status": case.status}
        if new_due_on is not None and not keep_due:
            changes.update(due_on=new_due_on, due_provisional=provisional,
                           due_rule=f"return_for_rework:{report_id}")
            before.update(due_on=case.due_on, due_provisional=case.due_provisional, due_rule=case.due_rule)
        await cases_repo.update_case(conn, case.id, changes)
        after: dict[str, Any] = {"status": _CASE_STATUS[choice].value, "decision": choice.value, "note": note,
                                 "report_id": report_id, "review_id": review_id, "round": report.round,
                                 "confidential": case.confidential}
        if keep_due:
            after.update(due_kept=True, due_on=case.due_on.isoformat() if case.due_on else None)
        elif new_due_on is not None:
            after.update(due_on=new_due_on.isoformat(), due_provisional=provisional)
        await audit(conn, actor=actor_of(reviewer), action=f"review.{choice.value}", entity="report",
                    entity_id=report_id, before={"state": report.state},
                    after={"state": _REPORT_STATE[choice].value, "decision": choice.value, "note": note}, at=now)
        await audit(conn, actor=actor_of(reviewer), action=f"case.review.{choice.value}", entity="case",
                    entity_id=case.id, before=before, after=after, at=now)
        liaisons = await people_repo.active_liaison_ids(conn, case.department_id)
        await enqueue(conn, [
            Notification(key=f"review:{review_id}:decided:p{pid}", person_id=pid, kind=Kind.REVIEW_DECIDED,
                         payload={"review_id": review_id, "report_id": report_id}, not_before=now, case_id=case.id)
            for pid in liaisons
        ], now=now)
    review = await repo.review_of(db, report_id)
    report_after = await repo.get_report(db, report_id)
    case_after = await cases_repo.get_case(db, case.id)
    assert review is not None and report_after is not None and case_after is not None
    return Decided(review, report_after, case_after, case.due_on)


async def awaiting_review(db: Database, person: Person | None) -> list[tuple[Report, Case]]:
    """/review: the reports that await a decision, oldest first."""
    require_role(person, *REVIEWERS)
    out = []
    for report in await repo.awaiting_review(db):
        case = await cases_repo.get_case(db, report.case_id)
        if case is not None:
            out.append((report, case))
    return out


# --------------------------------------------------------------------------- rendering


def review_buttons(report_id: int, t: Translator) -> list[list[tuple[str, str]]]:
    """The decision buttons of a review card; callback data is re-authorized on every press."""
    return [
        [(t._("Accept and close (销号)"), REVIEW.build("close", report_id)),
         (t._("Return for rework"), REVIEW.build("return_for_rework", report_id))],
        [(t._("Refused (拒不整改)"), REVIEW.build("refused", report_id)),
         (t._("Inadequate (整改不到位)"), REVIEW.build("inadequate", report_id)),
         (t._("False report (虚报)"), REVIEW.build("falsely_reported", report_id))],
    ]


async def review_card(db: Database, t: Translator, report_id: int) -> Rendered:
    """The card a supervisor decides from: the report (no content for confidential cases) and buttons."""
    report = await repo.get_report(db, report_id)
    if report is None:
        return Rendered(t._("This report does not exist."))
    case = await cases_repo.get_case(db, report.case_id)
    assert case is not None
    evidence = await repo.evidence_of(db, report_id)
    when = format_date(report.submitted_on, t)
    lines = [t._("Rectification report for review: {case}").format(case=case_title(t, case))]
    lines += resubmission_lines(report, await last_return(db, case.id, before_report=report.id), t,
                                confidential=case.confidential)
    if not case.confidential:
        lines.append(t._("Department: {department}").format(department=case.department_name))
    lines.append(t._("Deadline: {deadline}").format(deadline=format_deadline(case.due_on, case.due_provisional, t)))
    timing = t._("on time") if report.on_time else t._("late")
    lines.append(t._("Submitted by {author} on {date} ({timing})").format(author=report.author_name, date=when,
                                                                          timing=timing))
    lines += report_body(case, report, evidence, t, with_content=not case.confidential,
                         items=await repo.items_of(db, report_id))
    if case.confidential:
        lines.append(t._("This is a confidential case: the report's content and evidence are not sent through "
                         "the chat. Consult them through official channels."))
    buttons = review_buttons(report_id, t) if report.state == ReportState.SUBMITTED else []
    return Rendered("\n".join(lines), buttons)


async def render_review_card(db: Database, t: Translator, payload: Mapping[str, Any]) -> Rendered:
    return await review_card(db, t, int(payload["report_id"]))


async def evidence_document(db: Database, report_id: int, evidence_id: int, files_root: Path) -> tuple[str, bytes]:
    files = {e.id: e for e in await repo.evidence_of(db, report_id)}
    ev = files.get(evidence_id)
    if ev is None:
        raise DomainError(N_("This evidence file is missing."))
    return ev.file_name, evidence_path(files_root, ev).read_bytes()


async def render_review_evidence(
    db: Database, t: Translator, payload: Mapping[str, Any], *, files_root: Path,
) -> Rendered:
    """One evidence file of a report, sent to a supervisor right after the review card.

    The composition root binds `files_root` (settings.storage.files) when it registers this renderer.
    """
    report_id, evidence_id = int(payload["report_id"]), int(payload["evidence_id"])
    report = await repo.get_report(db, report_id)
    case = await cases_repo.get_case(db, report.case_id) if report else None
    if report is None or case is None or case.confidential:
        return Rendered(t._("This evidence file is missing."))
    try:
        document = await evidence_document(db, report_id, evidence_id, files_root)
    except (DomainError, OSError):
        return Rendered(t._("Evidence for {case}: the file is missing on the server.").format(
            case=case_title(t, case)))
    return Rendered(t._("Evidence for {case}").format(case=case_title(t, case)), document=document)


async def render_review_decided(db: Database, t: Translator, payload: Mapping[str, Any]) -> Rendered:
    """To the department's liaisons: the bureau's decision on their report."""
    report = await repo.get_report(db, int(payload["report_id"]))
    review = await repo.review_of(db, int(payload["report_id"]))
    if report is None or review is None:
        return Rendered(t._("This report does not exist."))
    case = await cases_repo.get_case(db, report.case_id)
    assert case is not None
    label = case_title(t, case)
    decision = Decision(review.decision)
    if decision is Decision.CLOSE:
        lines = [t._("Your report on {case} was accepted and the case is closed (销号).").format(case=label)]
    elif decision is Decision.RETURN_FOR_REWORK:
        due = (t._("New deadline: {deadline}").format(
                   deadline=format_deadline(review.new_due_on, case.due_provisional, t)) if review.new_due_on
               else t._("Deadline unchanged: {deadline}").format(
                   deadline=format_deadline(case.due_on, case.due_provisional, t)))
        lines = [t._("Your report on {case} was returned for rework.").format(case=label), due,
                 t._("Send /report to report again.")]
    else:
        lines = [t._("The bureau recorded on {case}: {decision}.").format(
            case=label, decision=t._(DECISION_NAMES[decision]))]
    if review.note and not case.confidential:
        if decision is Decision.RETURN_FOR_REWORK:
            lines.insert(1, t._("Reason for return: {note}").format(note=review.note))
        elif decision is Decision.CLOSE:
            lines.insert(1, t._("Review opinion: {note}").format(note=review.note))
        else:
            lines.insert(1, t._("Note: {note}").format(note=review.note))
    return Rendered("\n".join(lines))


async def supervisors(db: Database) -> list[Person]:
    return await people_repo.people_with_role(db, Role.SUPERVISOR)


# How the audit actions written here read in a case's history (/case); merged in bot/bootstrap.py.
HISTORY_LABELS: Mapping[str, str] = {
    "case.reported": N_("submitted a rectification report"),
    "case.review.close": N_("accepted the report and closed the case (销号)"),
    "case.review.return_for_rework": N_("returned the report for rework (退回补充)"),
    "case.review.refused": N_("recorded: refused to rectify without good cause (拒不整改)"),
    "case.review.inadequate": N_("recorded: rectification inadequate (整改不到位)"),
    "case.review.falsely_reported": N_("recorded: rectification falsely reported (虚报)"),
}


async def evidence_ids(db: Database, report_id: int) -> list[int]:
    """The report's evidence files in the order they were sent (see evidence_document)."""
    return [e.id for e in await repo.evidence_of(db, report_id)]
