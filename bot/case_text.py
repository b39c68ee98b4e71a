"""How a case reads: names of sources, grades and statuses, /case with its history, and the case notices.

Kept apart from the lifecycle (bot/cases.py) as bot/deadline_text.py is from the deadline engine:
the lifecycle decides, this module words. History labels are one plain table per module that
writes audit actions (HISTORY_LABELS here, in bot/review.py, bot/extensions.py, bot/spotcheck.py),
merged in the composition root and passed to `render_case`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from bot.callbacks import RECEIPT
from bot.cases import DEFAULT_PERIOD, EXPLICIT_RULE, CaseDraft, Receipt
from bot.dates import format_date, format_deadline
from bot.domain import AuditEntry, Case, CaseStatus, Grade, Source
from bot.i18n import N_, Translator
from bot.notify import Rendered
from bot.periods import RULE_DESCRIPTIONS, Period
from bot.review_text import history_detail, is_review_event
from storage import cases as repo
from storage.db import Database

SOURCE_NAMES = {
    Source.EX_ANTE: N_("ex-ante performance assessment"),
    Source.TARGET_REVIEW: N_("performance target review"),
    Source.MONITORING: N_("performance monitoring"),
    Source.EVALUATION: N_("performance evaluation"),
    Source.SPOT_CHECK: N_("spot check"),
    Source.RANKING: N_("low assessment ranking"),
}

GRADE_NAMES = {Grade.EXCELLENT: "优", Grade.GOOD: "良", Grade.FAIR: "中", Grade.POOR: "差"}

STATUS_NAMES = {
    CaseStatus.PENDING_FEEDBACK: N_("awaiting feedback"),
    CaseStatus.IN_PROGRESS: N_("rectifying"),
    CaseStatus.REPORTED: N_("reported"),
    CaseStatus.CLOSED: N_("closed"),
    CaseStatus.RETURNED: N_("returned for rework"),
    CaseStatus.REFUSED: N_("refused to rectify"),
    CaseStatus.INADEQUATE: N_("rectification inadequate"),
    CaseStatus.FALSELY_REPORTED: N_("falsely reported"),
}

# The measures' fixed periods (art. 10) and the bureau's default for everything else.


# --------------------------------------------------------------------------- how a case reads


def case_label(t: Translator, case_id: int) -> str:
    """A case by its number alone (整改事项#N), where the project is shown beside it or not needed."""
    return t._("Case No. {id}").format(id=case_id)


def case_title(t: Translator, case: Case) -> str:
    """A case by number and project; a confidential case is only its number (art. 6)."""
    if case.confidential:
        return t._("Case #{id} (confidential)").format(id=case.id)
    return t._("Case #{id} {project}").format(id=case.id, project=case.project)


def source_name(t: Translator, source: str) -> str:
    try:
        return t._(SOURCE_NAMES[Source(source)])
    except ValueError:
        return source


def status_name(t: Translator, status: str) -> str:
    try:
        return t._(STATUS_NAMES[CaseStatus(status)])
    except ValueError:
        return status


def grade_name(grade: str | None) -> str:
    if not grade:
        return "—"
    try:
        return GRADE_NAMES[Grade(grade)]
    except ValueError:
        return grade


def deadline_rule_text(t: Translator, case: Case | CaseDraft) -> str:
    """The rule the report deadline follows, in words (shown on cards and on /case)."""
    if case.explicit_due_on is not None:
        return t._("the deadline set by the finance bureau")
    if case.source == Source.EVALUATION:
        return t._("report within 2 months of receiving the feedback (art. 10 of the measures)")
    period = Period.parse(case.period or str(DEFAULT_PERIOD))
    return t._("report within {period} of receiving the feedback").format(period=period.describe(t))


def rule_detail(t: Translator, rule: str | None) -> str:
    if not rule:
        return ""
    if rule == EXPLICIT_RULE:
        return t._("a date set by the finance bureau")
    kind = rule.split(":", 1)[0]
    if kind in RULE_ORIGINS:  # "return_for_rework:12", "extension:3": the decision that set the date
        return t._(RULE_ORIGINS[kind])
    # An unknown rule is an internal code: say nothing rather than show it.
    return t._(RULE_DESCRIPTIONS[rule]) if rule in RULE_DESCRIPTIONS else ""


# Deadlines set by a decision rather than by a period: the due_rule is "<decision>:<id>" (bot/review.py,
# bot/extensions.py); people read which decision set it.
RULE_ORIGINS: Mapping[str, str] = {
    "return_for_rework": N_("the new deadline set when the report was returned for rework"),
    "extension": N_("the new deadline of an approved extension"),
}


def due_text(t: Translator, case: Case) -> str:
    if case.due_on is None:
        if case.explicit_due_on is None:
            return t._("counted from receipt: {rule}").format(rule=deadline_rule_text(t, case))
        return format_date(case.explicit_due_on, t)
    return format_deadline(case.due_on, case.due_provisional, t)


def case_details(t: Translator, case: Case) -> list[str]:
    """The lines a case shows in chat; a confidential case shows no substance at all."""
    lines = [t._("Department: {name}").format(name=case.department_name)]
    if case.confidential:
        lines.append(t._("Confidential matter (涉密): the details are sent through official channels only."))
    else:
        lines += [
            t._("Project: {project}").format(project=case.project),
            t._("Source: {source}").format(source=source_name(t, case.source)),
            t._("Grade: {grade}").format(grade=grade_name(case.grade)),
        ]
        if case.findings:
            lines.append(t._("Findings: {text}").format(text=case.findings))
        if case.suggestions:
            lines.append(t._("Suggestions: {text}").format(text=case.suggestions))
    if case.feedback_doc_no:
        lines.append(t._("Feedback document: {doc}").format(doc=case.feedback_doc_no))
    return lines


def render_case(
    t: Translator, case: Case, history: Sequence[AuditEntry], names: Mapping[int, str], tz: ZoneInfo,
    labels: Mapping[str, str],
) -> str:
    """/case: the case with its deadlines and full history (times in the bureau's timezone)."""
    lines = [f"{case_label(t, case.id)} · {status_name(t, case.status)}", *case_details(t, case)]
    if case.evaluation_ended_on:
        lines.append(t._("Evaluation ended: {date}").format(date=format_date(case.evaluation_ended_on, t)))
    if case.feedback_due_on:
        lines.append(t._("Feedback due (bureau): {date}").format(
            date=format_deadline(case.feedback_due_on, case.feedback_due_provisional, t)))
    lines.append(t._("Feedback sent: {date}").format(date=format_date(case.feedback_sent_on, t)))
    lines.append(t._("Feedback received: {date}").format(date=format_date(case.feedback_received_on, t)))
    lines.append(t._("Report deadline: {date}").format(date=due_text(t, case)))
    lines.append(t._("Rule: {rule}").format(rule=deadline_rule_text(t, case)))
    if detail := rule_detail(t, case.due_rule):
        lines.append("  " + t._("({detail})").format(detail=detail))
    if history:
        lines.append("")
        lines.append(t._("History:"))
        for entry in history:
            when = entry.at.astimezone(tz)
            lines.append(t._("· {when} {who}: {what}").format(
                when=f"{when:%Y-%m-%d %H:%M}", who=actor_name(t, entry.actor, names),
                what=history_text(t, entry, labels)))
    return "\n".join(lines)


def actor_name(t: Translator, actor: str, names: Mapping[int, str]) -> str:
    """Who did it, in words: a person's name (or 用户N when the name is gone), never "person:12"."""
    if actor.startswith("person:"):
        try:
            person_id = int(actor.split(":", 1)[1])
        except ValueError:
            return t._("system")
        return names.get(person_id) or t._("user {id}").format(id=person_id)
    return {"cli": t._("command line"), "system": t._("system"), "import": t._("ledger import")}.get(
        actor, t._("system"))


# How the audit actions bot/cases.py writes read in a case's history (/case).
HISTORY_LABELS: Mapping[str, str] = {
    "case.register": N_("registered the case"),
    "case.import": N_("imported the case from the ledger"),
    "case.feedback_sent": N_("sent the feedback"),
    "case.feedback_resent": N_("sent the feedback to new liaison officers"),
    "case.receipt_acknowledged": N_("acknowledged receipt of the feedback"),
    "case.receipt_recorded": N_("recorded the receipt of the feedback"),
    "case.deadline_changed": N_("changed the deadline"),
    "case.deadline_recomputed": N_("deadline recomputed with the new holiday schedule"),
}


def history_text(t: Translator, entry: AuditEntry, labels: Mapping[str, str]) -> str:
    """One history line: the action, and for deadline changes old → new (never case substance)."""
    label = labels.get(entry.action)
    # An action without a label would show its code (case.xyz): say plainly that something was recorded.
    text = t._(label) if label else t._("recorded a change")
    before = _json(entry.before)
    after = _json(entry.after)
    if entry.action in ("case.receipt_acknowledged", "case.receipt_recorded"):
        got = _date_or_none(after.get("feedback_received_on"))
        due = _date_or_none(after.get("due_on"))
        if got:
            text += t._(": received {date}").format(date=format_date(got, t))
        if due:
            text += t._(", deadline {date}").format(date=format_deadline(due, bool(after.get("due_provisional")), t))
    elif entry.action in ("case.deadline_changed", "case.deadline_recomputed"):
        for key in ("due_on", "feedback_due_on"):
            if key in after:
                old, new = _date_or_none(before.get(key)), _date_or_none(after.get(key))
                text += t._(": {old} → {new}").format(old=format_date(old, t), new=format_deadline(
                    new, bool(after.get(key.replace("_on", "_provisional"))), t))
        if after.get("reason"):
            text += t._("; reason: {reason}").format(reason=after["reason"])
    elif is_review_event(entry.action):
        text += history_detail(t, entry.action, before, after)
    elif entry.action == "case.feedback_sent" and after.get("feedback_sent_on"):
        text += t._(": {date}").format(date=format_date(_date_or_none(after["feedback_sent_on"]), t))
    return text


def _json(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _date_or_none(value: Any) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


# --------------------------------------------------------------------------- outbox renderers


async def _case_or_none(db: Database, payload: Mapping[str, Any]) -> Case | None:
    try:
        return await repo.get_case(db, int(payload["case_id"]))
    except (KeyError, TypeError, ValueError):
        return None


async def render_feedback_card(db: Database, t: Translator, payload: Mapping[str, Any]) -> Rendered:
    """The feedback card a liaison receives, with the 确认收到 button."""
    case = await _case_or_none(db, payload)
    if case is None:
        return Rendered(t._("This case no longer exists."))
    button = [[(t._("Confirm receipt"), RECEIPT.build("ack", case.id))]]
    if case.confidential:
        prompt = t._("When your department has received it, tap the button below to start the rectification clock.")
    else:
        prompt = t._("Please tap the button below to confirm receipt; the rectification deadline is counted "
                     "from the day of receipt.")
    return Rendered("\n".join([*_feedback_lines(t, case), "", prompt]), button)


def confirmed_feedback_card(t: Translator, case: Case) -> str:
    """The feedback card once confirmed: the same lines, the prompt replaced by when and until when."""
    assert case.feedback_received_on is not None
    done = t._("✅ Receipt confirmed on {date}; rectification deadline {deadline}").format(
        date=format_date(case.feedback_received_on, t), deadline=due_text(t, case))
    return "\n".join([*_feedback_lines(t, case), "", done])


def _feedback_lines(t: Translator, case: Case) -> list[str]:
    deadline = (format_date(case.explicit_due_on, t) if case.explicit_due_on else deadline_rule_text(t, case))
    if case.confidential:
        return [
            t._("Feedback: {case}").format(case=case_label(t, case.id)),
            t._("A confidential matter (涉密) for your department has been sent through official channels. "
                "Please collect the official document; its contents are not sent here."),
            t._("Deadline: {deadline}").format(deadline=deadline),
        ]
    lines = [t._("Feedback: {case}").format(case=case_label(t, case.id)), *case_details(t, case),
             t._("Rule: {rule}").format(rule=deadline_rule_text(t, case))]
    if case.explicit_due_on:
        lines.append(t._("Deadline: {deadline}").format(deadline=deadline))
    return lines


async def render_receipt_acknowledged(db: Database, t: Translator, payload: Mapping[str, Any]) -> Rendered:
    """To the supervisor who sent the feedback: the unit confirmed receipt; the report clock runs."""
    case = await _case_or_none(db, payload)
    if case is None or case.feedback_received_on is None:
        return Rendered(t._("This case no longer exists."))
    return Rendered("\n".join([
        t._("{department} confirmed receipt of the feedback of {case} on {date} ({by}).").format(
            department=case.department_name, case=case_title(t, case), date=format_date(case.feedback_received_on, t),
            by=str(payload.get("by") or "—")),
        t._("Report deadline: {date}").format(date=due_text(t, case)),
    ]))


async def render_deadline_changed(db: Database, t: Translator, payload: Mapping[str, Any]) -> Rendered:
    case_id = payload.get("case_id")
    old = _date_or_none(payload.get("old"))
    new = _date_or_none(payload.get("new"))
    lines = [
        t._("The deadline of {case} has been changed by the finance bureau.").format(
            case=case_label(t, int(case_id or 0))),
        t._("New deadline: {date}").format(date=format_deadline(new, bool(payload.get("provisional")), t)),
    ]
    if old:
        lines.append(t._("Previous deadline: {date}").format(
            date=format_deadline(old, bool(payload.get("old_provisional")), t)))
    if payload.get("reason"):
        lines.append(t._("Reason: {reason}").format(reason=payload["reason"]))
    return Rendered("\n".join(lines))


async def render_deadline_recomputed(db: Database, t: Translator, payload: Mapping[str, Any]) -> Rendered:
    case_id = int(payload.get("case_id") or 0)
    old = _date_or_none(payload.get("old"))
    new = _date_or_none(payload.get("new"))
    what = (t._("the report deadline") if payload.get("field") == "due_on"
            else t._("the bureau's feedback deadline"))
    lines = [
        t._("The official holiday schedule has been published, so {what} of {case} has been recomputed.").format(
            what=what, case=case_label(t, case_id)),
        t._("New deadline: {date}").format(date=format_deadline(new, bool(payload.get("provisional")), t)),
        t._("Previous (provisional) deadline: {date}").format(date=format_date(old, t)),
    ]
    return Rendered("\n".join(lines))


async def render_receipt_recorded(db: Database, t: Translator, payload: Mapping[str, Any]) -> Rendered:
    case = await _case_or_none(db, payload)
    if case is None or case.feedback_received_on is None:
        return Rendered(t._("This case no longer exists."))
    return Rendered("\n".join([
        t._("The finance bureau recorded that your department received the feedback of {case} on {date}.").format(
            case=case_label(t, case.id), date=format_date(case.feedback_received_on, t)),
        t._("Report deadline: {date}").format(date=due_text(t, case)),
    ]))


def receipt_answer(t: Translator, receipt: Receipt) -> str:
    """What the liaison is told after tapping 确认收到 (first or repeated tap)."""
    case = receipt.case
    assert case.feedback_received_on is not None
    if receipt.already:
        head = t._("Receipt of {case} was already recorded on {date}.").format(
            case=case_label(t, case.id), date=format_date(case.feedback_received_on, t))
    else:
        head = t._("Receipt of {case} recorded on {date}.").format(
            case=case_label(t, case.id), date=format_date(case.feedback_received_on, t))
    return "\n".join([head, t._("Report deadline: {date}").format(date=due_text(t, case))])

