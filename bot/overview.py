"""各单位情况 (/status, issue 11): each department at a glance, and one department's cases with their colour.

Bureau staff (supervisors, admins) see every department; a liaison sees the same view of their own
department only, and asking for another is refused without saying whether it exists. Counts are SQL
aggregates (storage/stats.py); a department's colour is that of its worst case, which — the ladder
being monotone in the deadline — is the colour of its earliest deadline among the cases being rectified.
Lists are paged with bot/paging.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot import ladder
from bot.case_text import case_label, due_text, status_name
from bot.domain import Case, CaseStatus, Department, DepartmentCounts, Person, Role
from bot.errors import NotAuthorized
from bot.i18n import N_, Translator
from bot.ladder import Colour
from bot.paging import Listing, page, with_page_line
from bot.people import BUREAU_ROLES, find_department, normalize_department_name, require_role
from bot.reminders import traffic_light
from bot.settings import Settings
from bot.workcalendar import WorkCalendar
from storage import cases as cases_repo
from storage import stats as stats_repo
from storage.db import Database

NOT_YOUR_DEPARTMENT = N_("You can only see your own department ({department}).")


@dataclass(frozen=True)
class DepartmentStatus:
    counts: DepartmentCounts
    worst: Colour

    @property
    def open(self) -> int:
        return self.counts.awaiting_receipt + self.counts.in_progress + self.counts.reported


@dataclass(frozen=True)
class CaseLine:
    case: Case
    colour: Colour
    working_days_left: int
    working_days_overdue: int


def _sort_key(s: DepartmentStatus) -> tuple[int, int, int, str]:
    """Worst first: colour, then overdue cases, then open cases, then the name."""
    return (-s.worst.rank, -s.counts.overdue, -s.open, s.counts.name)


def _allowed_department(person: Person) -> int | None:
    """None for bureau staff (every department), the liaison's own department otherwise."""
    require_role(person, Role.ADMIN, Role.SUPERVISOR, Role.LIAISON)
    if person.role in BUREAU_ROLES:
        return None
    assert person.department_id is not None
    return person.department_id


async def department_statuses(db: Database, calendar: WorkCalendar, settings: Settings, person: Person,
                              today: date) -> list[DepartmentStatus]:
    """/status: every department the person may see, worst first."""
    only = _allowed_department(person)
    counts = await stats_repo.department_counts(db, today, only)
    statuses = [DepartmentStatus(c, ladder.colour_of(
        c.earliest_due, today, calendar, blue_working_days=settings.ladder.blue_working_days,
        levels=settings.escalation.levels)) for c in counts]
    return sorted(statuses, key=_sort_key)


async def resolve_department(db: Database, person: Person, name: str) -> Department:
    """The department named in /status NAME. A liaison naming another one is refused before any lookup,
    so the refusal cannot tell them which departments exist."""
    only = _allowed_department(person)
    if only is not None and normalize_department_name(name) != person.department_name:
        raise NotAuthorized(NOT_YOUR_DEPARTMENT, department=person.department_name or "")
    return await find_department(db, name)


async def department_cases(db: Database, calendar: WorkCalendar, settings: Settings, person: Person,
                           department_id: int, today: date) -> tuple[DepartmentStatus, list[CaseLine]]:
    """/status NAME (and its pages): the department's line and its unclosed cases, worst first.

    Authorized on every call (a page button carries the department id, which anyone can forge).
    """
    only = _allowed_department(person)
    if only is not None and only != department_id:
        raise NotAuthorized(NOT_YOUR_DEPARTMENT, department=person.department_name or "")
    counts = await stats_repo.department_counts(db, today, department_id)
    if not counts:
        raise NotAuthorized(N_("This department no longer exists."))
    lines = []
    for case in await cases_repo.list_cases(db, department_id=department_id):
        if case.status == CaseStatus.CLOSED:
            continue
        colour = ladder.case_colour(case, today, calendar, settings)
        left = over = 0
        if case.due_on is not None:
            _, left, over = traffic_light(case.due_on, today, calendar)
        lines.append(CaseLine(case, colour, left, over))
    lines.sort(key=lambda c: (-c.colour.rank, c.case.due_on or date.max, c.case.id))
    worst = max((c.colour for c in lines), key=lambda c: c.rank, default=Colour.NONE)
    return DepartmentStatus(counts[0], worst), lines


# ----------------------------------------------------------------------------- wording


def counts_text(t: Translator, c: DepartmentCounts) -> str:
    return t._("awaiting receipt {a} · rectifying {b} · awaiting review {c} · overdue {d} · closed {e}").format(
        a=c.awaiting_receipt, b=c.in_progress, c=c.reported, d=c.overdue, e=c.closed)


def department_line(t: Translator, s: DepartmentStatus) -> str:
    return f"{s.worst.emoji} {s.counts.name}：{counts_text(t, s.counts)}"


def status_page(t: Translator, statuses: list[DepartmentStatus], number: int, today: date) -> Listing:
    p = page(statuses, number)
    lines = [t._("📊 Each department at a glance ({date})").format(date=today.isoformat()),
             t._("🔴 escalation level 2 · 🟡 overdue · 🔵 due within a few working days · ⚪ none of these"), ""]
    lines += [department_line(t, s) for s in p.items] or [t._("No departments yet.")]
    lines += ["", t._("Tap a department, or send /status DEPARTMENT, for its cases.")]
    return Listing(with_page_line(t, "\n".join(lines), p), p)


def case_line(t: Translator, line: CaseLine) -> str:
    case = line.case
    parts = [case_label(t, case.id)]
    if not case.confidential:  # art. 6: a confidential case is its number and deadline only
        parts.append(case.project)
    parts.append(status_name(t, case.status))
    parts.append(t._("due {date}").format(date=due_text(t, case)))
    if line.colour in (Colour.YELLOW, Colour.RED) and line.working_days_overdue:
        parts.append(t.ngettext("{n} working day overdue", "{n} working days overdue",
                                line.working_days_overdue).format(n=line.working_days_overdue))
    elif line.colour is Colour.BLUE:
        parts.append(t.ngettext("{n} working day left", "{n} working days left",
                                line.working_days_left).format(n=line.working_days_left))
    return f"{line.colour.emoji} " + " · ".join(parts)


def department_page(t: Translator, status: DepartmentStatus, lines: list[CaseLine], number: int) -> Listing:
    p = page(lines, number)
    text = [f"{status.worst.emoji} {status.counts.name}", counts_text(t, status.counts), ""]
    text += [case_line(t, line) for line in p.items] or [t._("No open cases.")]
    return Listing(with_page_line(t, "\n".join(text), p), p)
