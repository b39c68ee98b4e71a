"""What to answer a message no journey took: the commands a mistyped one was probably meant to be,
and a pointer for a question in words. Never silence (issue 10): silence reads as a bot that is down.

Pure and Telegram-free; handlers/guidance.py words the answers. Suggestions come only from the
sender's own commands (bot/commands.py), so a liaison is never pointed at /review.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from bot.commands import commands_for
from bot.domain import Role
from bot.i18n import N_

# How alike a typed command must be to a real one (difflib's ratio): /reprot → /report is 0.83, a
# random /xyz stays below. Three at most, best first.
CUTOFF = 0.6
MAX_SUGGESTIONS = 3


def command_word(text: str) -> str:
    """The command of "/Reprot@rectbot 12" → "reprot" (lower case, without the bot's name or arguments)."""
    first = text.strip().split(maxsplit=1)[0] if text.strip() else ""
    return first.lstrip("/").split("@", 1)[0].casefold()


def suggest_commands(text: str, role: str | None) -> list[str]:
    """The sender's commands closest to what they typed, best first ([] when none is close)."""
    names = [c.name for c in commands_for(role)]
    return difflib.get_close_matches(command_word(text), names, n=MAX_SUGGESTIONS, cutoff=CUTOFF)


# Questions in words, by keyword: (keywords, what to do). The first row with a keyword in the text wins,
# so 延期 (an extension) is tried before 整改 (which an extension question often mentions too).
LIAISON_HINTS: Sequence[tuple[tuple[str, ...], str]] = (
    (("延期", "延长", "推迟", "extension", "extend"),
     N_("To ask for more time for a case, send /extend and choose the case.")),
    (("期限", "截止", "到期", "deadline"),
     N_("To see your department's cases and their deadlines, send /cases.")),
    (("报送", "整改", "材料", "报告", "提交", "上传", "report", "evidence"),
     N_("To report on a case's rectification, send /report: choose the case, describe the measures taken, "
        "then send the evidence files.")),
)
BUREAU_HINTS: Sequence[tuple[tuple[str, ...], str]] = (
    (("审核", "待审", "review"), N_("Reports awaiting your review: send /review.")),
    (("登记", "新增", "录入", "register"), N_("To register a rectification case, send /new.")),
    (("逾期", "超期", "overdue"), N_("Overdue cases by department: send /overdue.")),
    (("导出", "台账", "export"), N_("To export the rectification ledger (Excel), send /export.")),
    (("期限", "截止", "到期", "延期", "deadline"),
     N_("To see a case and its deadline, send /case NUMBER; to change a deadline, /changedue.")),
)
KEYWORDS: frozenset[str] = frozenset(w for table in (LIAISON_HINTS, BUREAU_HINTS) for words, _ in table for w in words)

# When nothing fits: the one or two things this role does most (the caller adds /help).
ROLE_HINTS = {
    Role.LIAISON: N_("To report on a case send /report; to see your department's cases, /cases."),
    Role.SUPERVISOR: N_("To register a case send /new; to review reports, /review."),
}
ROLE_HINTS[Role.ADMIN] = ROLE_HINTS[Role.SUPERVISOR]
STRANGER_HINT = N_("To register, send /start with your invitation code.")


def keyword_hint(text: str, role: str | None) -> str | None:
    """The msgid pointing a question in words to the command that does it, or None."""
    if role is None:
        return None
    folded = text.casefold()
    table = LIAISON_HINTS if role == Role.LIAISON else BUREAU_HINTS
    for words, msgid in table:
        if any(w in folded for w in words):
            return msgid
    return None


def role_hint(role: str | None) -> str:
    """The msgid of the short, role-specific pointer for a message nothing else fits."""
    try:
        return ROLE_HINTS[Role(role)] if role else STRANGER_HINT
    except ValueError:
        return STRANGER_HINT
