"""How review events read in a case's history (/case): the round, the deadline a return left, the words.

Kept apart from bot/review.py so that bot/case_text.py (which bot/review.py imports) can word them
without an import cycle. The audit rows are written by bot/review.py and bot/reports.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from bot.dates import format_date, format_deadline
from bot.i18n import Translator


def is_review_event(action: str) -> bool:
    return action == "case.reported" or action.startswith("case.review.")


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def history_detail(t: Translator, action: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """The tail of one history line: 第2次报送; 整改期限不变／A → B; 退回理由／审核意见."""
    parts: list[str] = []
    rounds = after.get("round")
    if action == "case.reported" and isinstance(rounds, int) and rounds > 1:
        parts.append(t._("submission no. {n}").format(n=rounds))
    words = "" if after.get("confidential") else str(after.get("note") or "")  # 涉密: the words stay offline
    if action == "case.review.return_for_rework":
        if after.get("due_kept"):
            parts.append(t._("deadline unchanged: {date}").format(date=format_date(_day(after.get("due_on")), t)))
        elif after.get("due_on"):
            parts.append(t._("deadline {old} → {new}").format(
                old=format_date(_day(before.get("due_on")), t),
                new=format_deadline(_day(after.get("due_on")), bool(after.get("due_provisional")), t)))
        if words:
            parts.append(t._("reason for return: {note}").format(note=words))
    elif action.startswith("case.review.") and words:
        parts.append(t._("review opinion: {note}").format(note=words))
    if not parts:
        return ""
    zh = t.locale.startswith("zh")
    return ("，" if zh else ", ") + ("；" if zh else "; ").join(parts)
