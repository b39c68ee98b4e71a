"""Case lifecycle: registration, feedback, receipt, deadlines per source, history, who may see what.

Deadline rules (measures arts. 7-12; periods counted by bot.periods under Civil Code 201-203):
* evaluation: the bureau's own feedback deadline = evaluation end + 1 month; the unit's report
  deadline = feedback receipt + 2 months.
* every other source: the period or date the bureau sets, counted from receipt (default 10
  working days).
* an explicit date set by the bureau overrides the computed report deadline.
The clock starts when the liaison taps 确认收到 (or a supervisor records the receipt by hand).

Every change runs in one transaction with its audit row, sets next_action_at = now so the
reminder sweep looks at the case again, and enqueues the notices it causes in the outbox.
Confidential (涉密) cases never have project, findings, suggestions or grade in a message.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from bot.clock import iso
from bot.domain import AuditEntry, Case, CaseStatus, Grade, Kind, NewCase, Notification, Person, Role, Source
from bot.errors import DomainError, NotAuthorized
from bot.i18n import N_
from bot.people import BUREAU_ROLES, actor_of, require_role
from bot.periods import RULES, Period, compute_deadline
from bot.text import clean_text
from bot.workcalendar import WorkCalendar
from storage import cases as repo
from storage import people as people_repo
from storage.db import Conn, Database, Tx, audit
from storage.outbox import enqueue

# Statuses whose report deadline is still running (reminders and overdue escalation apply).
OPEN_STATUSES = (CaseStatus.IN_PROGRESS, CaseStatus.RETURNED)
# Statuses in which a deadline still matters to someone (notices about deadline changes go out).
LIVE_STATUSES = (CaseStatus.PENDING_FEEDBACK, CaseStatus.IN_PROGRESS, CaseStatus.RETURNED, CaseStatus.REPORTED)

# The 1-month feedback clock: the bureau's own deadline after an evaluation ends.
EVALUATION_FEEDBACK_PERIOD = Period.parse("1m")
# The 2-month clock: the evaluated unit reports within 2 months of receiving the feedback.
EVALUATION_REPORT_PERIOD = Period.parse("2m")
DEFAULT_PERIOD = Period.parse("10wd")
EXPLICIT_RULE = "explicit"

MAX_PROJECT = 200
MAX_TEXT = 3000
MAX_DOC_NO = 100


# --------------------------------------------------------------------------- drafts and deadlines


@dataclass(frozen=True)
class CaseDraft:
    """Everything a case is registered from: the /new conversation and each ledger row."""

    department_name: str
    project: str
    source: str
    grade: str | None = None
    findings: str = ""
    suggestions: str = ""
    feedback_doc_no: str = ""
    evaluation_ended_on: date | None = None
    feedback_sent_on: date | None = None
    feedback_received_on: date | None = None
    period: str | None = None            # "10wd"; None = the source's rule (evaluation 2m, else 10wd)
    explicit_due_on: date | None = None
    confidential: bool = False
    department_id: int | None = None     # known in chat; the ledger resolves or creates by name

    def normalized(self) -> CaseDraft:
        """Validated and cleaned (trimmed text, canonical period); DomainError on the first problem."""
        project = clean_text(self.project, max_len=MAX_PROJECT,
                             too_long=N_("The project name is too long ({limit} characters at most)."))
        if not project:
            raise DomainError(N_("The project name is empty."))
        department_name = clean_text(self.department_name, max_len=None)
        if not department_name and self.department_id is None:
            raise DomainError(N_("The department is missing."))
        try:
            source = Source(self.source)
        except ValueError:
            raise DomainError(N_("Unknown source {source}."), source=self.source) from None
        grade = None
        if self.grade:
            try:
                grade = Grade(self.grade).value
            except ValueError:
                raise DomainError(N_("Unknown grade {grade}: use 优, 良, 中 or 差."), grade=self.grade) from None
        findings = clean_text(self.findings, max_len=MAX_TEXT, multiline=True)
        suggestions = clean_text(self.suggestions, max_len=MAX_TEXT, multiline=True)
        # multiline=True only trims: inner spaces stay, as the import's identity (a dedupe key) always had them.
        doc_no = clean_text(self.feedback_doc_no, max_len=MAX_DOC_NO, multiline=True,
                            too_long=N_("The feedback document number is too long ({limit} characters at most)."))
        period = None
        if self.period:
            parsed = Period.parse(self.period)
            if source is Source.EVALUATION and parsed != EVALUATION_REPORT_PERIOD:
                raise DomainError(N_("An evaluation case has the 2-month report period of art. 10; "
                                     "set a deadline date instead of the period {period}."), period=self.period)
            period = str(parsed)
        if source is Source.EVALUATION:
            period = str(EVALUATION_REPORT_PERIOD)
        elif period is None and self.explicit_due_on is None:
            period = str(DEFAULT_PERIOD)
        sent, received = self.feedback_sent_on, self.feedback_received_on
        if sent and received and received < sent:
            raise DomainError(N_("The feedback was received ({received}) before it was sent ({sent})."),
                              received=received.isoformat(), sent=sent.isoformat())
        if self.evaluation_ended_on and sent and sent < self.evaluation_ended_on:
            raise DomainError(N_("The feedback was sent ({sent}) before the evaluation ended ({ended})."),
                              sent=sent.isoformat(), ended=self.evaluation_ended_on.isoformat())
        start = received or sent
        if self.explicit_due_on and start and self.explicit_due_on <= start:
            raise DomainError(N_("The deadline {due} is not after the start date {start}."),
                              due=self.explicit_due_on.isoformat(), start=start.isoformat())
        # The constructor, not dataclasses.replace: an import normalizes every row (replace costs 5 µs more).
        return CaseDraft(
            department_name=department_name, project=project, source=source.value, grade=grade, findings=findings,
            suggestions=suggestions, feedback_doc_no=doc_no, evaluation_ended_on=self.evaluation_ended_on,
            feedback_sent_on=sent, feedback_received_on=received, period=period,
            explicit_due_on=self.explicit_due_on, confidential=self.confidential, department_id=self.department_id,
        )


@dataclass(frozen=True)
class CaseDeadlines:
    feedback_due_on: date | None = None
    feedback_due_provisional: bool = False
    feedback_due_rule: str | None = None
    due_on: date | None = None
    due_provisional: bool = False
    due_rule: str | None = None

    def as_columns(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # flat: no deep copy


def compute_case_deadlines(
    *,
    source: str,
    evaluation_ended_on: date | None,
    feedback_received_on: date | None,
    period: str | None,
    explicit_due_on: date | None,
    calendar: WorkCalendar,
) -> CaseDeadlines:
    """The deadlines a case has by the rules of its source (pure; see the module docstring)."""
    fb_due = fb_prov = fb_rule = None
    if source == Source.EVALUATION and evaluation_ended_on is not None:
        d = compute_deadline(evaluation_ended_on, EVALUATION_FEEDBACK_PERIOD, calendar)
        fb_due, fb_prov, fb_rule = d.due, d.provisional, d.rule
    if explicit_due_on is not None:
        return CaseDeadlines(fb_due, bool(fb_prov), fb_rule, explicit_due_on, False, EXPLICIT_RULE)
    if feedback_received_on is None:
        return CaseDeadlines(fb_due, bool(fb_prov), fb_rule)
    p = EVALUATION_REPORT_PERIOD if source == Source.EVALUATION else Period.parse(period or str(DEFAULT_PERIOD))
    d = compute_deadline(feedback_received_on, p, calendar)
    return CaseDeadlines(fb_due, bool(fb_prov), fb_rule, d.due, d.provisional, d.rule)


def deadlines_of(case: Case, calendar: WorkCalendar, **overrides: Any) -> CaseDeadlines:
    fields: dict[str, Any] = {
        "source": case.source, "evaluation_ended_on": case.evaluation_ended_on,
        "feedback_received_on": case.feedback_received_on, "period": case.period,
        "explicit_due_on": case.explicit_due_on,
    }
    fields.update(overrides)
    return compute_case_deadlines(calendar=calendar, **fields)


def case_values(
    draft: CaseDraft, *, department_id: int, calendar: WorkCalendar, created_by: str, now: datetime,
    received_by: str | None = None, cache: dict[tuple[Any, ...], CaseDeadlines] | None = None,
) -> NewCase:
    """The new case for a (normalized) draft: deadlines computed, status from the receipt. With
    `cache` (an import), the deadlines are computed once per distinct set of their inputs: a ledger
    of 50,000 rows has a few hundred."""
    inputs = (draft.source, draft.evaluation_ended_on, draft.feedback_received_on, draft.period, draft.explicit_due_on)
    deadlines = cache.get(inputs) if cache is not None else None
    if deadlines is None:
        deadlines = compute_case_deadlines(
            source=draft.source, evaluation_ended_on=draft.evaluation_ended_on,
            feedback_received_on=draft.feedback_received_on, period=draft.period,
            explicit_due_on=draft.explicit_due_on, calendar=calendar,
        )
        if cache is not None:
            cache[inputs] = deadlines
    status = CaseStatus.IN_PROGRESS if draft.feedback_received_on else CaseStatus.PENDING_FEEDBACK
    return NewCase(
        department_id=department_id, project=draft.project, source=Source(draft.source),
        grade=Grade(draft.grade) if draft.grade else None, findings=draft.findings, suggestions=draft.suggestions,
        feedback_doc_no=draft.feedback_doc_no, evaluation_ended_on=draft.evaluation_ended_on,
        feedback_sent_on=draft.feedback_sent_on, feedback_received_on=draft.feedback_received_on,
        period=draft.period, explicit_due_on=draft.explicit_due_on, **deadlines.as_columns(),
        confidential=draft.confidential, status=status, next_action_at=now,
        received_by=received_by if draft.feedback_received_on else None,
        received_at=now if draft.feedback_received_on else None,
        created_by=created_by, created_at=now, updated_at=now,
    )


def audit_view(values: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-able copy of case columns for the audit log."""
    return {k: (v.isoformat() if isinstance(v, date | datetime) else v) for k, v in values.items()}


def _snapshot(case: Case, keys: Sequence[str]) -> dict[str, Any]:
    return audit_view({k: getattr(case, k) for k in keys})


# --------------------------------------------------------------------------- authorization


def require_bureau(person: Person | None) -> Person | None:
    """The CLI (None) acts as the bureau; in chat only supervisors and admins."""
    if person is None:
        return None
    return require_role(person, *BUREAU_ROLES)


def may_view(person: Person, case: Case) -> bool:
    if not person.active:
        return False
    if person.role in BUREAU_ROLES:
        return True
    return person.role == Role.LIAISON and person.department_id == case.department_id


async def load_case(db: Conn, case_id: int) -> Case:
    case = await repo.get_case(db, case_id)
    if case is None:
        raise DomainError(N_("There is no case number {id}."), id=case_id)
    return case


# What a liaison hears about a case number that is not theirs, whether it is another department's or
# does not exist at all: one answer for both, so case numbers cannot be enumerated (reports.py says the same).
NOT_YOUR_CASE = N_("Case #{id} is not one of your department's cases.")


async def case_for(db: Database, case_id: int, person: Person) -> Case:
    """The case, if this person may see it (bureau staff; liaisons of its own department).

    Bureau staff are told when a number does not exist; a liaison gets NOT_YOUR_CASE either way.
    """
    require_role(person, Role.ADMIN, Role.SUPERVISOR, Role.LIAISON)
    if person.role in BUREAU_ROLES:
        return await load_case(db, case_id)
    case = await repo.get_case(db, case_id)
    if case is None or not may_view(person, case):
        raise NotAuthorized(NOT_YOUR_CASE, id=case_id)
    return case


# --------------------------------------------------------------------------- registration and feedback


async def register_case(
    db: Database, calendar: WorkCalendar, draft: CaseDraft, *, actor: Person | None, now: datetime,
) -> tuple[Case, int]:
    """Register one case (chat /new or CLI); when its feedback is sent, cards go to the liaisons.

    Returns the case and the number of feedback cards enqueued.
    """
    require_bureau(actor)
    clean = draft.normalized()
    if clean.department_id is not None:
        dept = await people_repo.department_by_id(db, clean.department_id)
    else:
        dept = await people_repo.department_by_name(db, clean.department_name)
    if dept is None:
        raise DomainError(N_("Unknown department {name}."), name=clean.department_name or clean.department_id)
    liaisons = await people_repo.liaisons_of(db, dept.id)
    actor_s = actor_of(actor)
    async with db.transaction() as conn:
        if await repo.find_by_key(conn, dept.id, clean.project, clean.source, clean.feedback_doc_no):
            raise DomainError(N_("This case is already registered (same department, project, source and "
                                 "feedback document number)."))
        values = case_values(clean, department_id=dept.id, calendar=calendar, created_by=actor_s, now=now,
                             received_by=actor_s)
        case_id = await repo.insert_case(conn, values)
        await audit(conn, actor=actor_s, action="case.register", entity="case", entity_id=case_id,
                    after=audit_view(dataclasses.asdict(values)), at=now)
        sent = 0
        if clean.feedback_sent_on is not None and clean.feedback_received_on is None:
            sent = await _enqueue_cards(conn, case_id, clean.feedback_sent_on, liaisons, now)
        case = await load_case(conn, case_id)
    return case, sent


def feedback_key(case_id: int, sent_on: date, person_id: int) -> str:
    return f"case:{case_id}:feedback:{sent_on.isoformat()}:p{person_id}"


async def _enqueue_cards(
    conn: Tx, case_id: int, sent_on: date, liaisons: Sequence[Person], now: datetime
) -> int:
    return await enqueue(conn, [
        Notification(feedback_key(case_id, sent_on, p.id), p.id, Kind.FEEDBACK_CARD, {"case_id": case_id}, now,
                     case_id)
        for p in liaisons
    ], now=now)


@dataclass(frozen=True)
class FeedbackSent:
    case: Case
    recipients: int     # liaisons of the department
    enqueued: int       # cards newly queued (a repeat /feedback only reaches new liaisons)


async def send_feedback(
    db: Database, case_id: int, *, actor: Person | None, now: datetime, today: date, sent_on: date | None = None,
) -> FeedbackSent:
    """Send (or re-send to liaisons who have not had it) the feedback card of a case."""
    require_bureau(actor)
    case = await load_case(db, case_id)
    if case.feedback_received_on is not None:
        raise DomainError(N_("The feedback of case {id} was already received on {date}."), id=case_id,
                          date=case.feedback_received_on.isoformat())
    if case.status != CaseStatus.PENDING_FEEDBACK:
        raise DomainError(N_("Case {id} is no longer waiting for feedback."), id=case_id)
    liaisons = await people_repo.liaisons_of(db, case.department_id)
    when = case.feedback_sent_on or sent_on or today
    async with db.transaction() as conn:
        if case.feedback_sent_on is None:
            await repo.update_case(conn, case_id, {"feedback_sent_on": when, "next_action_at": now,
                                                   "updated_at": now})
            await audit(conn, actor=actor_of(actor), action="case.feedback_sent", entity="case", entity_id=case_id,
                        before={"feedback_sent_on": None}, after={"feedback_sent_on": when.isoformat(),
                                                                  "liaisons": [p.id for p in liaisons]}, at=now)
        enqueued = await _enqueue_cards(conn, case_id, when, liaisons, now)
        if enqueued and case.feedback_sent_on is not None:
            await audit(conn, actor=actor_of(actor), action="case.feedback_resent", entity="case",
                        entity_id=case_id, after={"liaisons": [p.id for p in liaisons]}, at=now)
        case = await load_case(conn, case_id)
    return FeedbackSent(case, len(liaisons), enqueued)


@dataclass(frozen=True)
class Receipt:
    case: Case
    already: bool       # the receipt had been recorded before (idempotent second tap)


async def acknowledge_receipt(
    db: Database, calendar: WorkCalendar, case_id: int, *, person: Person, now: datetime, today: date,
) -> Receipt:
    """A liaison's 确认收到: records today as the receipt date and starts the report clock."""
    require_role(person, Role.LIAISON)
    async with db.transaction() as conn:
        case = await repo.get_case(conn, case_id)
        if case is None or person.department_id != case.department_id:
            raise NotAuthorized(NOT_YOUR_CASE, id=case_id)
        if case.feedback_received_on is not None:
            return Receipt(case, True)
        if case.feedback_sent_on is None or case.status != CaseStatus.PENDING_FEEDBACK:
            raise DomainError(N_("The feedback of case {id} has not been sent yet."), id=case_id)
        await _record_receipt(conn, calendar, case, today, actor=actor_of(person), action="case.receipt_acknowledged",
                              now=now)
        await enqueue(conn, [
            Notification(f"case:{case_id}:receipt_acknowledged:p{pid}", pid, Kind.RECEIPT_ACKNOWLEDGED,
                         {"case_id": case_id, "by": person.name}, now, case_id)
            for pid in await _feedback_senders(conn, db, case_id)
        ], now=now)
        return Receipt(await load_case(conn, case_id), False)


async def _feedback_senders(conn: Tx, db: Database, case_id: int) -> list[int]:
    """Who is told of a receipt: the bureau member who sent the feedback, if still active; else (sent
    from the CLI or an import, or that person has left) every supervisor."""
    actor = await repo.feedback_sender(conn, case_id)
    if actor and actor.startswith("person:") and actor[7:].isdigit():
        sender = await people_repo.person_by_id(db, int(actor[7:]))
        if sender is not None and sender.active and sender.role in BUREAU_ROLES:
            return [sender.id]
    return [p.id for p in await people_repo.people_with_role(db, Role.SUPERVISOR)]


async def record_receipt(
    db: Database, calendar: WorkCalendar, case_id: int, received_on: date, *, actor: Person | None,
    now: datetime, today: date,
) -> Receipt:
    """A supervisor records the receipt date by hand (e.g. the unit signed for a paper copy).

    A different date on a case already received corrects it (deadline recomputed, liaisons told).
    """
    require_bureau(actor)
    if received_on > today:
        raise DomainError(N_("The receipt date {date} is in the future."), date=received_on.isoformat())
    async with db.transaction() as conn:
        case = await load_case(conn, case_id)
        if case.feedback_received_on == received_on:
            return Receipt(case, True)
        if case.status not in (CaseStatus.PENDING_FEEDBACK, CaseStatus.IN_PROGRESS):
            raise DomainError(N_("Case {id} is past the rectification stage; its receipt date cannot change."),
                              id=case_id)
        if case.feedback_sent_on is not None and received_on < case.feedback_sent_on:
            raise DomainError(N_("The feedback was received ({received}) before it was sent ({sent})."),
                              received=received_on.isoformat(), sent=case.feedback_sent_on.isoformat())
        await _record_receipt(conn, calendar, case, received_on, actor=actor_of(actor),
                              action="case.receipt_recorded", now=now)
        updated = await load_case(conn, case_id)
        liaisons = await people_repo.liaisons_of(db, case.department_id)
        await enqueue(conn, [
            Notification(f"case:{case_id}:receipt:{received_on.isoformat()}:{iso(now)}:p{p.id}", p.id,
                         Kind.RECEIPT_RECORDED, {"case_id": case_id}, now, case_id)
            for p in liaisons
        ], now=now)
    return Receipt(updated, False)


async def _record_receipt(
    conn: Tx, calendar: WorkCalendar, case: Case, received_on: date, *, actor: str,
    action: str, now: datetime,
) -> None:
    deadlines = deadlines_of(case, calendar, feedback_received_on=received_on)
    changes: dict[str, Any] = {
        "feedback_received_on": received_on, "received_by": actor, "received_at": now,
        "feedback_sent_on": case.feedback_sent_on or received_on,
        "status": CaseStatus.IN_PROGRESS.value if case.status == CaseStatus.PENDING_FEEDBACK else case.status,
        **deadlines.as_columns(), "next_action_at": now, "updated_at": now,
    }
    keys = ["feedback_received_on", "feedback_sent_on", "status", "due_on", "due_provisional", "due_rule"]
    await repo.update_case(conn, case.id, changes)
    await audit(conn, actor=actor, action=action, entity="case", entity_id=case.id, before=_snapshot(case, keys),
                after=audit_view({k: changes[k] for k in keys}), at=now)


async def change_deadline(
    db: Database, case_id: int, new_due: date, reason: str, *, actor: Person | None, now: datetime, today: date,
) -> Case:
    """A supervisor sets a new report deadline; only with a reason; audited; the liaisons are told."""
    require_bureau(actor)
    reason = " ".join(reason.split())
    if not reason:
        raise DomainError(N_("Give a reason for changing the deadline."))
    if new_due < today:
        raise DomainError(N_("The new deadline {date} is in the past."), date=new_due.isoformat())
    liaisons = None
    async with db.transaction() as conn:
        case = await load_case(conn, case_id)
        if case.status not in LIVE_STATUSES:
            raise DomainError(N_("Case {id} is closed; its deadline cannot change."), id=case_id)
        if case.due_on == new_due and case.explicit_due_on == new_due:
            return case
        liaisons = await people_repo.liaisons_of(db, case.department_id)
        changes = {"explicit_due_on": new_due, "due_on": new_due, "due_provisional": False,
                   "due_rule": EXPLICIT_RULE, "next_action_at": now, "updated_at": now}
        await repo.update_case(conn, case_id, changes)
        keys = ["explicit_due_on", "due_on", "due_provisional", "due_rule"]
        await audit(conn, actor=actor_of(actor), action="case.deadline_changed", entity="case", entity_id=case_id,
                    before=_snapshot(case, keys), after={**audit_view({k: changes[k] for k in keys}),
                                                         "reason": reason}, at=now)
        payload = {"case_id": case_id, "old": case.due_on.isoformat() if case.due_on else None,
                   "old_provisional": case.due_provisional, "new": new_due.isoformat(), "provisional": False,
                   "reason": reason}
        await enqueue(conn, [
            Notification(f"case:{case_id}:deadline_changed:{new_due.isoformat()}:{iso(now)}:p{p.id}", p.id,
                         Kind.DEADLINE_CHANGED, payload, now, case_id)
            for p in liaisons
        ], now=now)
        return await load_case(conn, case_id)


# --------------------------------------------------------------------------- provisional recompute


@dataclass(frozen=True)
class DeadlineChange:
    """One stored deadline that a newly loaded holiday schedule changed."""

    case_id: int
    field: str                 # "due_on" (the unit's report) or "feedback_due_on" (the bureau's feedback)
    old: date | None
    new: date | None
    old_provisional: bool
    provisional: bool

    @property
    def date_changed(self) -> bool:
        return self.old != self.new


async def recompute_provisional_deadlines(
    db: Database, calendar: WorkCalendar, now: datetime
) -> list[DeadlineChange]:
    """Recompute every provisional deadline with `calendar` (call after a year's schedule is loaded).

    Rows whose date or flag changed are updated and audited; where a date moved, the department's
    liaisons (report deadline) and the supervisors (both deadlines) get a "deadline_recomputed" notice.
    """
    cases = await repo.provisional_cases(db)
    if not cases:
        return []
    supervisors = await people_repo.people_with_role(db, Role.SUPERVISOR.value)
    liaisons_cache: dict[int, list[Person]] = {}
    changes: list[DeadlineChange] = []
    async with db.transaction() as conn:
        for case in cases:
            fresh = deadlines_of(case, calendar)
            found: list[DeadlineChange] = []
            if case.feedback_due_provisional and (
                fresh.feedback_due_on != case.feedback_due_on or not fresh.feedback_due_provisional
            ):
                found.append(DeadlineChange(case.id, "feedback_due_on", case.feedback_due_on, fresh.feedback_due_on,
                                            True, fresh.feedback_due_provisional))
            # Only a deadline this module computed from the receipt can be recomputed here; one set by
            # an extension or a review (another rule) keeps its date.
            if case.due_provisional and case.due_rule in RULES and (
                fresh.due_on != case.due_on or not fresh.due_provisional
            ):
                found.append(DeadlineChange(case.id, "due_on", case.due_on, fresh.due_on, True,
                                            fresh.due_provisional))
            if not found:
                continue
            cols = fresh.as_columns()
            update = {k: cols[k] for ch in found for k in _FIELD_COLUMNS[ch.field]}
            update.update(next_action_at=now, updated_at=now)
            await repo.update_case(conn, case.id, update)
            keys = [k for k in cols if k in update]
            await audit(conn, actor="system", action="case.deadline_recomputed", entity="case", entity_id=case.id,
                        before=_snapshot(case, keys), after=audit_view({k: update[k] for k in keys}), at=now)
            changes.extend(found)
            if case.status not in LIVE_STATUSES:
                continue
            for ch in found:
                if not ch.date_changed:
                    continue
                recipients = list(supervisors)
                if ch.field == "due_on":
                    if case.department_id not in liaisons_cache:
                        liaisons_cache[case.department_id] = await people_repo.liaisons_of(db, case.department_id)
                    recipients = liaisons_cache[case.department_id] + recipients
                payload = {"case_id": case.id, "field": ch.field, "old": _iso_or_none(ch.old),
                           "new": _iso_or_none(ch.new), "provisional": ch.provisional}
                await enqueue(conn, [
                    Notification(f"case:{case.id}:recomputed:{ch.field}:{_iso_or_none(ch.new)}:p{p.id}", p.id,
                                 Kind.DEADLINE_RECOMPUTED, payload, now, case.id)
                    for p in recipients
                ], now=now)
    return changes


_FIELD_COLUMNS = {
    "due_on": ("due_on", "due_provisional", "due_rule"),
    "feedback_due_on": ("feedback_due_on", "feedback_due_provisional", "feedback_due_rule"),
}


def _iso_or_none(d: date | None) -> str | None:
    return d.isoformat() if d else None


@dataclass(frozen=True)
class CaseView:
    case: Case
    history: list[AuditEntry] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)


async def view_case(db: Database, case_id: int, person: Person) -> CaseView:
    """/case ID: the case and its history, for bureau staff and the liaisons of its department."""
    case = await case_for(db, case_id, person)
    history = await repo.case_history(db, case_id)
    ids = [int(e.actor.split(":", 1)[1]) for e in history if e.actor.startswith("person:")
           and e.actor.split(":", 1)[1].isdigit()]
    return CaseView(case, history, await repo.person_names(db, ids))
