"""What of a confidential (涉密) case an export may show: decided here, once, per column.

The redacted ledger once hid the project and the findings but printed the review note in the
审核结果 column. So the rule is a list of the columns that may be shown and everything else,
including any column added later, is withheld until someone adds it here on purpose. Column
keys are the ledger's (bot.ledger.EXPORT_ORDER) plus the budget sheet's `budget_basis`.
"""

from __future__ import annotations

from typing import Any

from bot.domain import Case

# Bookkeeping a confidential case may show: who, when, where it stands. Not what it is about
# (project, findings, suggestions), not its grade, not the reviewer's words, and not the
# budget basis (it names the grade).
SHOWN_WHEN_CONFIDENTIAL = frozenset({
    "case_id", "department", "source", "feedback_doc_no", "evaluation_ended_on", "feedback_sent_on",
    "feedback_received_on", "due_on", "period", "confidential", "feedback_due_on", "deadline_status", "status",
    "ladder",
    "reported_on", "overdue_working_days", "budget_consequence", "liaisons",
})


def may_show(case: Case, column: str) -> bool:
    """May this column of this case appear in a redacted export?"""
    return not case.confidential or column in SHOWN_WHEN_CONFIDENTIAL


def shown(case: Case, column: str, value: Any, *, redact: bool = True, placeholder: Any = "") -> Any:
    """The value an export writes: `value` when allowed (or not redacting), else `placeholder`."""
    if not redact or may_show(case, column):
        return value
    return placeholder
