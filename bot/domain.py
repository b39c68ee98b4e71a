"""The entities and their statuses: what every layer talks about, owned by none of them.

storage/ builds these from rows and handlers/ receive them from the domain services; this
module imports nothing of rectbot's, of Telegram or of SQLite, so any layer may depend on it.
Names follow the glossary in docs/ARCHITECTURE.md (整改事项 = Case, 联络员 = liaison, …).
Statuses are StrEnums: they compare equal to the plain values stored in the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, NamedTuple

# ----------------------------------------------------------------------------- enums


class Role(StrEnum):
    ADMIN = "admin"            # 管理员
    SUPERVISOR = "supervisor"  # 财政局督办人员
    LIAISON = "liaison"        # 联络员


class Source(StrEnum):
    """Where a case comes from (the measures' articles 7–12 and 29)."""

    EX_ANTE = "ex_ante"
    TARGET_REVIEW = "target_review"
    MONITORING = "monitoring"
    EVALUATION = "evaluation"
    SPOT_CHECK = "spot_check"
    RANKING = "ranking"


class Grade(StrEnum):
    EXCELLENT = "excellent"  # 优
    GOOD = "good"            # 良
    FAIR = "fair"            # 中
    POOR = "poor"            # 差


class CaseStatus(StrEnum):
    PENDING_FEEDBACK = "pending_feedback"   # 待反馈: feedback not yet received by the unit
    IN_PROGRESS = "in_progress"             # 整改中: the report clock runs
    REPORTED = "reported"                   # 已报告: a report awaits review
    CLOSED = "closed"                       # 已销号
    RETURNED = "returned"                   # 退回补充: rework with a new deadline
    REFUSED = "refused"                     # 拒不整改
    INADEQUATE = "inadequate"               # 整改不到位
    FALSELY_REPORTED = "falsely_reported"   # 虚报


class Progress(StrEnum):
    """What a report says of the rectification."""

    DONE = "done"          # 已整改
    PARTLY = "partly"      # 部分整改
    NOT_YET = "not_yet"    # 未整改


class ItemStatus(StrEnum):
    """逐条整改: where one numbered finding stands."""

    DONE = "done"                # 已完成
    IN_PROGRESS = "in_progress"  # 正在整改
    CANNOT = "cannot"            # 无法整改


class Step(StrEnum):
    """Where a report draft stands; the conversation asks for this next."""

    ITEMS = "items"        # 逐条整改: the measures and status of each numbered finding, in turn
    MEASURES = "measures"
    PROGRESS = "progress"
    REASON = "reason"
    EVIDENCE = "evidence"
    SUMMARY = "summary"


class ReportState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    RETURNED = "returned"
    NON_COMPLIANT = "non_compliant"


class Decision(StrEnum):
    """A supervisor's review of a report (the first decision counts)."""

    CLOSE = "close"                          # 销号
    RETURN_FOR_REWORK = "return_for_rework"  # 退回补充
    REFUSED = "refused"                      # 拒不整改
    INADEQUATE = "inadequate"                # 整改不到位
    FALSELY_REPORTED = "falsely_reported"    # 虚报


class ExtensionState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"


class OutboxState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"   # claimed right before the request; a crash leaves it for recovery
    SENT = "sent"
    DROPPED = "dropped"   # deliberately not sent (recipient unreachable, expired)
    FAILED = "failed"     # refused for good by the channel


class Kind(StrEnum):
    """Every kind of notification the outbox carries; each needs exactly one renderer.

    mypy makes every enqueued Notification name one of these, and a test checks that the
    composition root registers a renderer for each, so no kind can be enqueued unrenderable.
    """

    FEEDBACK_CARD = "feedback_card"
    DEADLINE_CHANGED = "deadline_changed"
    DEADLINE_RECOMPUTED = "deadline_recomputed"
    RECEIPT_RECORDED = "receipt_recorded"
    RECEIPT_ACKNOWLEDGED = "receipt_acknowledged"  # to the supervisor who sent the feedback
    REPORT_SUBMITTED = "report_submitted"
    REVIEW_CARD = "review_card"
    REVIEW_EVIDENCE = "review_evidence"
    REVIEW_DECIDED = "review_decided"
    EXTENSION_REQUEST = "extension_request"
    EXTENSION_DECIDED = "extension_decided"
    SPOT_CHECK_OPENED = "spot_check_opened"
    REMINDER = "reminder"          # before the deadline
    OVERDUE = "overdue"            # 提醒 (art. 12) after the deadline
    ESCALATION = "escalation"      # 督办: level 1 to supervisors, level 2 to admins
    DIGEST = "digest"
    CALENDAR_MISSING = "calendar_missing"
    NO_REACHABLE_LIAISON = "no_reachable_liaison"
    BULLETIN = "bulletin"              # the weekly 通报 with its chart, to supervisors and admins
    BULLETIN_SHEET = "bulletin_sheet"  # the same bulletin as an XLSX sheet
    BULLETIN_LINE = "bulletin_line"    # a department's own line, to its liaisons


# ----------------------------------------------------------------------------- people


@dataclass(frozen=True)
class Department:
    id: int
    name: str


@dataclass(frozen=True)
class Person:
    id: int
    telegram_id: int
    name: str
    username: str | None
    role: Role
    department_id: int | None
    department_name: str | None
    locale: str
    reachable: bool
    active: bool


@dataclass(frozen=True)
class Invitation:
    id: int
    role: Role
    department_id: int | None
    department_name: str | None
    created_by: str
    created_at: str
    expires_at: str
    used_at: str | None
    used_by: int | None


# ----------------------------------------------------------------------------- cases


@dataclass(frozen=True, kw_only=True)
class NewCase:
    """A case about to be inserted: every stored field but the id (the department's name comes from its row)."""

    department_id: int
    project: str
    source: Source
    grade: Grade | None
    findings: str
    suggestions: str
    feedback_doc_no: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    status: CaseStatus
    evaluation_ended_on: date | None = None
    feedback_sent_on: date | None = None
    feedback_received_on: date | None = None
    period: str | None = None
    explicit_due_on: date | None = None
    feedback_due_on: date | None = None
    feedback_due_provisional: bool = False
    feedback_due_rule: str | None = None
    due_on: date | None = None
    due_provisional: bool = False
    due_rule: str | None = None
    confidential: bool = False
    next_action_at: datetime | None = None
    origin_case_id: int | None = None
    received_by: str | None = None
    received_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class Case(NewCase):
    """A stored case (整改事项): what it was registered with, plus its number and its department's name.

    feedback_received_on starts the 2-month clock (evaluation) or the bureau's set period; due_on is the
    unit's report deadline, feedback_due_on the bureau's own 1-month feedback deadline; next_action_at is
    when the reminder sweep must look at the case again.
    """

    id: int
    department_name: str

    @property
    def dedupe_key(self) -> tuple[int, str, str, str]:
        """How the ledger identifies a case: department, project, source, feedback document number."""
        return (self.department_id, self.project, self.source, self.feedback_doc_no)


class SweepCase(NamedTuple):
    """The columns of a case the reminder sweep needs (its running deadline), read without the
    department join or the texts: building a full `Case` per due case was a fifth of the sweep's
    time (issue 14); a tuple, since a frozen dataclass's __init__ alone cost a few µs a row.
    `bot.reminders.policy` accepts it wherever it takes a `Case`."""

    id: int
    department_id: int
    status: CaseStatus
    source: Source
    due_on: date | None
    due_provisional: bool
    feedback_sent_on: date | None
    feedback_due_on: date | None
    feedback_due_provisional: bool


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class LedgerExtras:
    """What the export adds from other tables: last report date and last review decision."""

    reported_on: date | None
    review_decision: Decision | None
    review_note: str | None


# ----------------------------------------------------------------------------- reports and reviews


@dataclass(frozen=True)
class Report:
    id: int
    case_id: int
    author_id: int
    author_name: str
    state: ReportState
    step: Step                 # where a draft stands
    measures: str
    progress: Progress | None
    reason: str | None
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    submitted_on: date | None
    on_time: bool | None
    round: int = 1             # 第N次报送: 1 + the case's earlier non-draft reports


@dataclass(frozen=True)
class ReportItem:
    """A report's answer to one numbered finding (逐条整改); item_no counts from 1."""

    report_id: int
    item_no: int
    measures: str
    status: ItemStatus | None


@dataclass(frozen=True)
class EvidenceFile:
    id: int
    report_id: int
    file_name: str
    mime_type: str
    size: int
    sha256: str
    path: str
    telegram_file_id: str | None
    created_at: datetime


@dataclass(frozen=True)
class Review:
    id: int
    report_id: int
    reviewer_id: int
    reviewer_name: str
    decision: Decision
    note: str
    new_due_on: date | None
    decided_at: datetime


@dataclass(frozen=True)
class ExtensionRequest:
    id: int
    case_id: int
    requester_id: int
    requester_name: str
    reason: str
    proposed_due_on: date
    previous_due_on: date | None
    state: ExtensionState
    decided_by: int | None
    granted_due_on: date | None
    decision_note: str | None
    created_at: datetime
    decided_at: datetime | None


@dataclass(frozen=True)
class PendingReview:
    """A submitted report as the digest lists it."""

    report_id: int
    case_id: int
    department_name: str
    project: str
    confidential: bool
    submitted_at: str | None


@dataclass(frozen=True)
class WatchedItem:
    """A case whose deadline runs, as the digest's lists and /overdue show it (one row of a page)."""

    case_id: int
    department_name: str
    project: str
    confidential: bool
    due: date
    provisional: bool
    report: bool          # the report deadline runs (else the bureau's feedback deadline)


@dataclass(frozen=True)
class TodoItem:
    """One line of a to-do (/todo, the digest): what needs doing and the row a button opens.

    `ref_id` is the report (review), the extension request (extension) or the case (the others);
    `on` is the date the line shows: submitted, proposed, feedback sent, or the running deadline.
    """

    section: str
    ref_id: int
    case_id: int
    department_name: str
    project: str
    confidential: bool
    on: date | None
    provisional: bool = False


# ----------------------------------------------------------------------------- notifications


@dataclass(frozen=True)
class Notification:
    """A message someone must get, stored in the outbox and rendered only when it is sent."""

    key: str                      # stable identity, e.g. "case:12:before_due:3:2026-03-02:p7"
    person_id: int
    kind: Kind                    # selects the renderer
    payload: Mapping[str, Any]
    not_before: datetime          # aware; delivery waits until then (and for the send window if the kind needs it)
    case_id: int | None = None


@dataclass(frozen=True)
class OutboxRow:
    id: int
    key: str
    person_id: int
    case_id: int | None
    kind: str                     # a Kind value; a row of an unknown kind (an older version's) is kept as text
    payload: Mapping[str, Any]
    state: OutboxState
    not_before: datetime
    attempts: int
    last_error: str | None
    telegram_message_id: int | None
    created_at: datetime
    sent_at: datetime | None
    telegram_id: int              # the recipient's chat
    locale: str
    reachable: bool


@dataclass(frozen=True)
class StoredYear:
    """A holiday schedule the bureau loaded (the schedule itself as bot.workcalendar's JSON)."""

    year: int
    schedule_json: str
    loaded_at: str
    loaded_by: str | None


# ----------------------------------------------------------------------------- the bureau's overview


@dataclass(frozen=True)
class LadderChange:
    """A case changed colour on the 督办 ladder (colours are bot.ladder.Colour values)."""

    case_id: int
    colour: str
    previous: str
    due_on: date | None
    changed_on: date      # bureau-local day
    changed_at: datetime


@dataclass(frozen=True)
class DepartmentCounts:
    """One department's cases by stage, counted in SQL (/status)."""

    department_id: int
    name: str
    awaiting_receipt: int     # 待签收: feedback not yet received
    in_progress: int          # 整改中 (including rework after 退回)
    reported: int             # 已报告待审
    overdue: int              # 逾期: rectifying past the deadline
    closed: int               # 已销号
    earliest_due: date | None  # the earliest deadline among the cases being rectified (its worst colour)


@dataclass(frozen=True)
class DepartmentTally:
    """One department's SQL-counted figures for a statistics period (bot/stats.py adds the working days)."""

    department_id: int
    name: str
    registered: int         # cases registered in the period
    due: int                # reports that fell due in the period (current deadline: extensions included)
    on_time: int            # of those, answered by a report submitted on or before the deadline
    closed: int             # of those, closed (销号) by now
    returned: int           # 退回补充 decisions made in the period
    refused: int            # 拒不整改 decisions made in the period
    inadequate: int         # 整改不到位 decisions made in the period
    falsely_reported: int   # 虚报 decisions made in the period


@dataclass(frozen=True)
class DueCase:
    """A case whose report fell due in a statistics period, with its latest submitted report (if any)."""

    case_id: int
    department_id: int
    due_on: date
    report_state: str | None
    submitted_on: date | None


@dataclass(frozen=True)
class FirstReport:
    """The first report submitted for a case, and when the unit received the feedback."""

    case_id: int
    department_id: int
    received_on: date
    submitted_on: date
