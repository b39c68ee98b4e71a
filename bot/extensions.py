"""Extension requests (延期申请): a liaison asks, a supervisor approves (maybe another date) or refuses.

A request must come before the deadline has passed (the due day itself still counts: it ends at
24:00). Approval moves cases.due_on and sets next_action_at = now so the reminders follow the
new date; the old date stays in the request (previous_due_on) and in the audit log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot.callbacks import EXTENSION
from bot.case_text import case_title
from bot.cases import OPEN_STATUSES
from bot.clock import iso
from bot.dates import format_deadline
from bot.domain import Case, ExtensionRequest, Kind, Notification, Person, Role
from bot.errors import DomainError
from bot.i18n import N_, Translator
from bot.notify import Rendered
from bot.people import BUREAU_ROLES, actor_of, require_role
from bot.reports import case_for_liaison
from bot.workcalendar import WorkCalendar
from storage import cases as cases_repo
from storage import people as people_repo
from storage import reports as repo
from storage.db import Database, audit
from storage.outbox import enqueue

MAX_REASON_CHARS = 2000
DECIDERS = BUREAU_ROLES  # admins may do everything supervisors may
PROPOSED_TOO_EARLY = N_("The proposed date must be after the current deadline ({deadline}).")


async def check_can_request(db: Database, person: Person | None, case_id: int, *, today: date) -> Case:
    """Refuse early (before asking for a reason) when no request is possible on this case."""
    case = await case_for_liaison(db, person, case_id)
    if case.status not in OPEN_STATUSES or case.due_on is None:
        raise DomainError(N_("Case #{id} has no running deadline to extend."), id=case.id)
    if today > case.due_on:
        raise DomainError(N_("The deadline of case #{id} ({deadline}) has passed: an extension must be requested "
                             "before the deadline. Please report as soon as possible."),
                          id=case.id, deadline=case.due_on.isoformat())
    if await repo.pending_extension_of(db, case.id) is not None:
        raise DomainError(N_("An extension request for case #{id} is already awaiting a decision."), id=case.id)
    return case


async def check_proposal(
    db: Database, person: Person | None, case_id: int, *, reason: str, proposed_due_on: date, today: date,
) -> Case:
    """Every refusal `request_extension` would give, before the liaison is shown the check step."""
    case = await check_can_request(db, person, case_id, today=today)
    assert case.due_on is not None
    reason = reason.strip()
    if not reason:
        raise DomainError(N_("Please give the reason for the extension."))
    if len(reason) > MAX_REASON_CHARS:
        raise DomainError(N_("The reason is too long ({limit} characters at most)."), limit=MAX_REASON_CHARS)
    if proposed_due_on <= case.due_on:
        raise DomainError(PROPOSED_TOO_EARLY, deadline=case.due_on.isoformat())
    return case


async def request_extension(
    db: Database, person: Person | None, case_id: int, *, reason: str, proposed_due_on: date,
    now: datetime, today: date,
) -> ExtensionRequest:
    """File the request and send it to the supervisors with Approve / Refuse buttons."""
    case = await check_proposal(db, person, case_id, reason=reason, proposed_due_on=proposed_due_on, today=today)
    assert person is not None and case.due_on is not None
    reason = reason.strip()
    supervisors = await people_repo.people_with_role(db, Role.SUPERVISOR)
    async with db.transaction() as conn:
        if await repo.pending_extension_of(conn, case.id) is not None:
            raise DomainError(N_("An extension request for case #{id} is already awaiting a decision."),
                              id=case.id)
        request_id = await repo.insert_extension(conn, case_id=case.id, requester_id=person.id, reason=reason,
                                                 proposed_due_on=proposed_due_on, previous_due_on=case.due_on,
                                                 at=iso(now))
        await audit(conn, actor=actor_of(person), action="extension.request", entity="case", entity_id=case.id,
                    after={"request_id": request_id, "reason": reason, "proposed_due_on": proposed_due_on,
                           "due_on": case.due_on}, at=now)
        await enqueue(conn, [
            Notification(key=f"extension:{request_id}:request:p{s.id}", person_id=s.id, kind=Kind.EXTENSION_REQUEST,
                         payload={"request_id": request_id}, not_before=now, case_id=case.id)
            for s in supervisors
        ], now=now)
    found = await repo.get_extension(db, request_id)
    assert found is not None
    return found


@dataclass(frozen=True)
class ExtensionDecided:
    request: ExtensionRequest
    case: Case


async def pending_request(db: Database, person: Person | None, request_id: int) -> tuple[ExtensionRequest, Case]:
    """A request a supervisor can still decide (refusal text otherwise)."""
    require_role(person, *DECIDERS)
    request = await repo.get_extension(db, request_id)
    if request is None:
        raise DomainError(N_("This extension request does not exist."))
    if request.state != "pending":
        raise DomainError(N_("This extension request was already decided."))
    case = await cases_repo.get_case(db, request.case_id)
    assert case is not None
    return request, case


async def decide_extension(
    db: Database, person: Person | None, request_id: int, *, approve: bool, granted_due_on: date | None = None,
    note: str = "", now: datetime, today: date, calendar: WorkCalendar,
) -> ExtensionDecided:
    """Approve (the proposed date, or another one) or refuse with a reason; the first decision counts."""
    decider = require_role(person, *DECIDERS)
    note = note.strip()
    if not approve and not note:
        raise DomainError(N_("Please give the reason for refusing the extension."))
    async with db.transaction() as conn:
        request = await repo.get_extension(conn, request_id)
        if request is None:
            raise DomainError(N_("This extension request does not exist."))
        if request.state != "pending":
            raise DomainError(N_("This extension request was already decided."))
        case = await cases_repo.get_case(conn, request.case_id)
        assert case is not None
        new_due = None
        if approve:
            new_due = granted_due_on or request.proposed_due_on
            if new_due <= today or (case.due_on is not None and new_due <= case.due_on):
                raise DomainError(N_("The new deadline must be after the current deadline and after today."))
        if not await repo.decide_extension(conn, request_id, state="approved" if approve else "refused",
                                           decided_by=decider.id, granted_due_on=new_due, note=note or None,
                                           at=iso(now)):
            raise DomainError(N_("This extension request was already decided."))
        if approve and new_due is not None:
            provisional = calendar.is_guessed(new_due)
            if case.status in OPEN_STATUSES:
                await cases_repo.update_case(conn, case.id, {
                    "due_on": new_due, "due_provisional": provisional, "due_rule": f"extension:{request_id}",
                    "next_action_at": now, "updated_at": now,
                })
            await audit(conn, actor=actor_of(decider), action="extension.approve", entity="case", entity_id=case.id,
                        before={"due_on": case.due_on, "due_provisional": case.due_provisional,
                                "due_rule": case.due_rule},
                        after={"due_on": new_due, "due_provisional": provisional, "request_id": request_id,
                               "proposed_due_on": request.proposed_due_on, "note": note}, at=now)
        else:
            await audit(conn, actor=actor_of(decider), action="extension.refuse", entity="case", entity_id=case.id,
                        after={"request_id": request_id, "note": note, "due_on": case.due_on}, at=now)
        await enqueue(conn, [
            Notification(key=f"extension:{request_id}:decided:p{pid}", person_id=pid,
                         kind=Kind.EXTENSION_DECIDED, payload={"request_id": request_id}, not_before=now,
                         case_id=case.id)
            for pid in await people_repo.active_liaison_ids(conn, case.department_id)
        ], now=now)
    decided = await repo.get_extension(db, request_id)
    case_after = await cases_repo.get_case(db, request.case_id)
    assert decided is not None and case_after is not None
    return ExtensionDecided(decided, case_after)


# --------------------------------------------------------------------------- rendering


def extension_buttons(request_id: int, t: Translator) -> list[list[tuple[str, str]]]:
    return [[(t._("Approve"), EXTENSION.build("approve", request_id)),
             (t._("Another date"), EXTENSION.build("other", request_id)),
             (t._("Refuse"), EXTENSION.build("refuse", request_id))]]


async def extension_card(db: Database, t: Translator, request_id: int) -> Rendered:
    request = await repo.get_extension(db, request_id)
    if request is None:
        return Rendered(t._("This extension request does not exist."))
    case = await cases_repo.get_case(db, request.case_id)
    assert case is not None
    lines = [t._("Extension request for {case}").format(case=case_title(t, case))]
    if not case.confidential:
        lines.append(t._("Department: {department}").format(department=case.department_name))
        lines.append(t._("Reason: {reason}").format(reason=request.reason))
    lines += [
        t._("Requested by: {name}").format(name=request.requester_name),
        t._("Current deadline: {deadline}").format(
            deadline=format_deadline(request.previous_due_on, case.due_provisional, t)),
        t._("Proposed deadline: {deadline}").format(
            deadline=format_deadline(request.proposed_due_on, False, t)),
    ]
    buttons = extension_buttons(request_id, t) if request.state == "pending" else []
    return Rendered("\n".join(lines), buttons)


async def render_extension_request(db: Database, t: Translator, payload: Mapping[str, Any]) -> Rendered:
    return await extension_card(db, t, int(payload["request_id"]))


async def render_extension_decided(db: Database, t: Translator, payload: Mapping[str, Any]) -> Rendered:
    request = await repo.get_extension(db, int(payload["request_id"]))
    if request is None:
        return Rendered(t._("This extension request does not exist."))
    case = await cases_repo.get_case(db, request.case_id)
    assert case is not None
    label = case_title(t, case)
    if request.state == "approved":
        lines = [t._("The extension for {case} was approved.").format(case=label),
                 t._("New deadline: {deadline}").format(
                     deadline=format_deadline(request.granted_due_on, case.due_provisional, t)),
                 t._("Original deadline: {deadline}").format(
                     deadline=format_deadline(request.previous_due_on, False, t))]
    else:
        lines = [t._("The extension for {case} was refused. The deadline stays {deadline}.").format(
            case=label, deadline=format_deadline(case.due_on, case.due_provisional, t))]
    if request.decision_note and not case.confidential:
        lines.append(t._("Note: {note}").format(note=request.decision_note))
    return Rendered("\n".join(lines))


# How the audit actions written here read in a case's history (/case); merged in bot/bootstrap.py.
HISTORY_LABELS: Mapping[str, str] = {
    "extension.request": N_("asked for an extension of the deadline"),
    "extension.approve": N_("approved an extension of the deadline"),
    "extension.refuse": N_("refused an extension of the deadline"),
}
