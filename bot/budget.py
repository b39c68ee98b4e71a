"""Budget consequences per case (arts. 12 and 24) for the budget season.

Art. 12: a unit that refuses without good cause (拒不整改), rectifies inadequately (整改不到位)
or falsely reports (虚报) gets its budget reduced (调减/核减) or held until rectified (整改到位后再予
安排). rectbot suggests: refused and falsely reported → reduce; inadequate → hold until
rectified (the unit is trying; the money waits for the result). Art. 24: grade 中/差 → reduce
(核减, improve management); 优/良 → support (支持). Non-compliance outranks the grade. These are
suggestions for the bureau's budget office, not decisions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.case_text import GRADE_NAMES, STATUS_NAMES
from bot.confidential import shown
from bot.domain import Case, CaseStatus, Grade, Person
from bot.errors import Msg
from bot.i18n import N_, Translator
from bot.paging import Listing, page, with_page_line
from bot.people import BUREAU_ROLES, require_role
from bot.sheets import XlsxSheet
from storage import cases as cases_repo
from storage.db import Database


class Suggestion(StrEnum):
    SUPPORT = "support"   # 支持
    REDUCE = "reduce"     # 核减
    HOLD = "hold"         # 整改到位后再予安排


SUGGESTION_NAMES = {
    Suggestion.SUPPORT: N_("support"),
    Suggestion.REDUCE: N_("reduce the budget"),
    Suggestion.HOLD: N_("hold until rectified"),
}

_NON_COMPLIANCE = {
    CaseStatus.REFUSED: Suggestion.REDUCE,
    CaseStatus.FALSELY_REPORTED: Suggestion.REDUCE,
    CaseStatus.INADEQUATE: Suggestion.HOLD,
}


@dataclass(frozen=True)
class BudgetAdvice:
    case_id: int
    suggestion: Suggestion
    basis: Msg   # why, for the listing and the spreadsheet

    def name(self, t: Translator) -> str:
        return t._(SUGGESTION_NAMES[self.suggestion])


def budget_suggestion(case: Case) -> BudgetAdvice | None:
    """The suggestion for one case, or None when neither non-compliance nor a grade calls for one."""
    status = case.status
    if status in _NON_COMPLIANCE:
        return BudgetAdvice(case.id, _NON_COMPLIANCE[CaseStatus(status)],
                            Msg(N_("art. 12: {status}"), status=Msg(STATUS_NAMES[CaseStatus(status)])))
    if case.grade in (Grade.FAIR, Grade.POOR):
        return BudgetAdvice(case.id, Suggestion.REDUCE,
                            Msg(N_("art. 24: grade {grade}"), grade=GRADE_NAMES[Grade(case.grade)]))
    if case.grade in (Grade.EXCELLENT, Grade.GOOD):
        return BudgetAdvice(case.id, Suggestion.SUPPORT,
                            Msg(N_("art. 24: grade {grade}"), grade=GRADE_NAMES[Grade(case.grade)]))
    return None


def suggestion_label(case: Case, t: Translator) -> str:
    """For the ledger export's 预算建议 column: 支持 / 核减 / 整改到位后再予安排, or empty."""
    advice = budget_suggestion(case)
    return advice.name(t) if advice else ""


@dataclass(frozen=True)
class BudgetLine:
    case: Case
    advice: BudgetAdvice


async def budget_lines(db: Database, person: Person | None) -> list[BudgetLine]:
    """Every case with a suggestion, grouped by department name then case number (bureau only)."""
    require_role(person, *BUREAU_ROLES)
    lines = []
    for case in await cases_repo.list_cases(db):
        advice = budget_suggestion(case)
        if advice is not None:
            lines.append(BudgetLine(case, advice))
    lines.sort(key=lambda line: (line.case.department_name, line.case.id))
    return lines


def budget_text(lines: Sequence[BudgetLine], t: Translator) -> str:
    """The first page of the chat listing (see `budget_page`)."""
    return budget_page(lines, t, 1).text


def budget_page(lines: Sequence[BudgetLine], t: Translator, number: int) -> Listing:
    """One page of the chat listing, by department (each page repeats its first department's name);
    confidential cases show their number and suggestion only (bot.confidential). The XLSX stays whole."""
    if not lines:
        return Listing(t._("No case calls for a budget consequence yet."), page(lines, 1))
    current = page(lines, number)
    out = [t._("Budget suggestions by department (arts. 12, 24):")]
    department = None
    for line in current.items:
        if line.case.department_name != department:
            department = line.case.department_name
            out.append(f"\n{department}")
        what = shown(line.case, "project", line.case.project, placeholder=t._("confidential"))
        basis = shown(line.case, "budget_basis", line.advice.basis.render(t))
        out.append(f"  #{line.case.id} {what} — {line.advice.name(t)}" + (f"（{basis}）" if basis else ""))
    return Listing(with_page_line(t, "\n".join(out), current), current)


def budget_xlsx(lines: Sequence[BudgetLine], t: Translator) -> bytes:
    """The same listing as a spreadsheet (frozen header, a row per case) for the budget office.

    Written through bot.sheets (text is never a formula), each column through the one
    confidentiality rule (bot.confidential).
    """
    sheet = XlsxSheet(t._("Budget suggestions"), (20, 10, 36, 8, 16, 22, 26))
    sheet.header([t._("Department"), t._("Case number"), t._("Project"), t._("Grade"), t._("Status"),
                  t._("Budget suggestion"), t._("Basis")])
    for line in lines:
        case = line.case
        row = {
            "department": case.department_name, "case_id": case.id, "project": case.project,
            "grade": GRADE_NAMES[Grade(case.grade)] if case.grade else "",
            "status": t._(STATUS_NAMES[CaseStatus(case.status)]) if case.status in STATUS_NAMES else case.status,
            "budget_consequence": line.advice.name(t), "budget_basis": line.advice.basis.render(t),
        }
        sheet.row([shown(case, key, value, placeholder=t._("confidential") if key == "project" else "")
                   for key, value in row.items()])
    return sheet.to_bytes()
