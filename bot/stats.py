"""Statistics for a period (issue 11, arts. 13–16): per department and in total.

Every formula is written out in docs/STATISTICS.md and printed by `rectbot stats --explain`
(`EXPLAIN` below); a test computes them by hand on a fixture of 30 departments and 600 cases.
Counts are SQL aggregates (storage/stats.py); working days need the holiday calendar, so the two
working-day figures are summed here over the cases concerned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from fractions import Fraction

from bot.clock import iso
from bot.domain import DepartmentTally, Person, Role
from bot.errors import DomainError, NotAuthorized
from bot.i18n import N_, Translator
from bot.overview import NOT_YOUR_DEPARTMENT
from bot.people import BUREAU_ROLES, require_role
from bot.settings import Settings
from bot.workcalendar import WorkCalendar
from storage import stats as repo
from storage.db import Database

ON_TIME_STATES = ("submitted", "accepted")  # a returned or non-compliant report does not answer its deadline
BAD_PERIOD = N_("I could not read the period {text}. Use 本月, 本季度, 本年, 上月, 上季度, 去年, a year (2026), "
                "a month (2026-03) or a range such as 2026-01-01..2026-06-30.")


@dataclass(frozen=True)
class StatsPeriod:
    start: date
    end: date

    def label(self, t: Translator) -> str:
        return t._("{start} to {end}").format(start=self.start.isoformat(), end=self.end.isoformat())

    def bounds(self, settings: Settings) -> tuple[str, str]:
        """[from, to) as stored UTC timestamps: the bureau-local midnights around the period."""
        tz = settings.bureau.tz
        return (iso(datetime.combine(self.start, time(0), tzinfo=tz)),
                iso(datetime.combine(self.end + timedelta(days=1), time(0), tzinfo=tz)))


def _month(y: int, m: int) -> StatsPeriod:
    nxt = date(y + (m == 12), m % 12 + 1, 1)
    return StatsPeriod(date(y, m, 1), nxt - timedelta(days=1))


def _quarter(y: int, q: int) -> StatsPeriod:
    return StatsPeriod(_month(y, 3 * q - 2).start, _month(y, 3 * q).end)


def parse_period(text: str, today: date) -> StatsPeriod:
    """本月 / 本季度 / 本年 (and last month, quarter, year), 2026, 2026-03, or 2026-01-01..2026-06-30."""
    s = text.strip().lower().replace("—", "..").replace("～", "..").replace("~", "..").replace("至", "..")
    q = (today.month - 1) // 3 + 1
    named = {
        "本月": _month(today.year, today.month), "month": _month(today.year, today.month),
        "本季度": _quarter(today.year, q), "本季": _quarter(today.year, q), "quarter": _quarter(today.year, q),
        "本年": StatsPeriod(date(today.year, 1, 1), date(today.year, 12, 31)),
        "今年": StatsPeriod(date(today.year, 1, 1), date(today.year, 12, 31)),
        "year": StatsPeriod(date(today.year, 1, 1), date(today.year, 12, 31)),
        "上月": _month(today.year - (today.month == 1), (today.month - 2) % 12 + 1),
        "上季度": _quarter(today.year - (q == 1), (q - 2) % 4 + 1),
        "去年": StatsPeriod(date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)),
        "上年": StatsPeriod(date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)),
    }
    if s in named:
        return named[s]
    try:
        if m := re.fullmatch(r"(\d{4})", s):
            return StatsPeriod(date(int(s), 1, 1), date(int(s), 12, 31))
        if m := re.fullmatch(r"(\d{4})-(\d{1,2})", s):
            return _month(int(m[1]), int(m[2]))
        if m := re.fullmatch(r"(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})", s):
            start, end = date.fromisoformat(m[1]), date.fromisoformat(m[2])
            if start <= end and end - start <= timedelta(days=3660):
                return StatsPeriod(start, end)
    except ValueError:
        pass
    raise DomainError(BAD_PERIOD, text=text[:40])


def looks_like_period(text: str, today: date) -> bool:
    try:
        parse_period(text, today)
    except DomainError:
        return False
    return True


@dataclass(frozen=True)
class DepartmentStats:
    """A department's (or the total's) figures for a period; rates are exact fractions."""

    department_id: int            # 0 for the total
    name: str
    registered: int = 0
    due: int = 0
    on_time: int = 0
    overdue: int = 0
    overdue_working_days: int = 0
    closed: int = 0
    returned: int = 0
    refused: int = 0
    inadequate: int = 0
    falsely_reported: int = 0
    reports: int = 0                     # first reports submitted in the period
    receipt_to_report_days: int = 0      # their working days from receipt, summed

    @property
    def on_time_rate(self) -> Fraction | None:
        """按期整改率 = on_time ÷ due (None when nothing fell due)."""
        return Fraction(self.on_time, self.due) if self.due else None

    @property
    def close_rate(self) -> Fraction | None:
        """销号率 = closed ÷ due."""
        return Fraction(self.closed, self.due) if self.due else None

    @property
    def average_days(self) -> Fraction | None:
        return Fraction(self.receipt_to_report_days, self.reports) if self.reports else None

    def plus(self, other: DepartmentStats) -> DepartmentStats:
        values = {f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)
                  if f.name not in ("department_id", "name")}
        return DepartmentStats(self.department_id, self.name, **values)


@dataclass(frozen=True)
class StatsReport:
    period: StatsPeriod
    as_of: date                      # the last day counted (the period's end, or today if earlier)
    departments: list[DepartmentStats]
    total: DepartmentStats


def _cutoff(period: StatsPeriod, today: date) -> date:
    """A deadline has fallen due once its last day has ended: the latest deadline counted."""
    return min(period.end, today - timedelta(days=1))


async def compute(db: Database, calendar: WorkCalendar, settings: Settings, period: StatsPeriod, today: date, *,
                  department_id: int | None = None) -> StatsReport:
    """The figures of every department (or one) for the period, as of `today` (no authorization: the
    callers are the CLI, the bulletin and `stats_for`, which checks the person)."""
    cutoff = _cutoff(period, today)
    as_of = min(period.end, today)
    from_ts, to_ts = period.bounds(settings)
    tallies = await repo.period_tallies(db, start=period.start, end=cutoff, from_ts=from_ts, to_ts=to_ts,
                                        department_id=department_id)
    overdue: dict[int, list[int]] = {}
    for c in await repo.due_cases(db, start=period.start, end=cutoff, department_id=department_id):
        on_time = c.report_state in ON_TIME_STATES and c.submitted_on is not None and c.submitted_on <= c.due_on
        if on_time:
            continue
        stop = as_of
        if c.report_state in ON_TIME_STATES and c.submitted_on is not None:
            stop = min(stop, c.submitted_on)        # reported late: overdue until the day it was submitted
        overdue.setdefault(c.department_id, []).append(calendar.working_days_between(c.due_on, stop))
    receipt: dict[int, list[int]] = {}
    for r in await repo.first_reports(db, start=period.start, end=as_of, department_id=department_id):
        receipt.setdefault(r.department_id, []).append(calendar.working_days_between(r.received_on, r.submitted_on))
    departments = [_department(t, overdue.get(t.department_id, []), receipt.get(t.department_id, []))
                   for t in tallies]
    total = DepartmentStats(0, "")
    for d in departments:
        total = total.plus(d)
    return StatsReport(period, as_of, departments, total)


def _department(t: DepartmentTally, overdue: list[int], receipt: list[int]) -> DepartmentStats:
    return DepartmentStats(
        t.department_id, t.name, registered=t.registered, due=t.due, on_time=t.on_time, overdue=len(overdue),
        overdue_working_days=sum(overdue), closed=t.closed, returned=t.returned, refused=t.refused,
        inadequate=t.inadequate, falsely_reported=t.falsely_reported, reports=len(receipt),
        receipt_to_report_days=sum(receipt),
    )


async def stats_for(db: Database, calendar: WorkCalendar, settings: Settings, person: Person, period: StatsPeriod,
                    today: date, department_id: int | None) -> StatsReport:
    """/stats: bureau staff any department or all; a liaison their own department only."""
    require_role(person, Role.ADMIN, Role.SUPERVISOR, Role.LIAISON)
    if person.role not in BUREAU_ROLES:
        if department_id is not None and department_id != person.department_id:
            raise NotAuthorized(NOT_YOUR_DEPARTMENT, department=person.department_name or "")
        department_id = person.department_id
    return await compute(db, calendar, settings, period, today, department_id=department_id)


# ----------------------------------------------------------------------------- wording


def percent(value: Fraction | None) -> str:
    """"87.5%" (one decimal, half up); "—" when there is nothing to divide."""
    if value is None:
        return "—"
    tenths = (value * 1000 + Fraction(1, 2)) // 1
    return f"{tenths / 10:.1f}%"


def number(value: Fraction | None) -> str:
    if value is None:
        return "—"
    tenths = (value * 10 + Fraction(1, 2)) // 1
    return f"{tenths / 10:.1f}"


def stats_lines(t: Translator, s: DepartmentStats) -> list[str]:
    return [
        t._("Cases registered: {n}").format(n=s.registered),
        t._("Reports due: {due}, reported on time: {on_time}, on-time rate: {rate}").format(
            due=s.due, on_time=s.on_time, rate=percent(s.on_time_rate)),
        t._("Overdue: {n} case(s), {days} overdue working day(s)").format(n=s.overdue, days=s.overdue_working_days),
        t._("Closed: {n}, closing rate: {rate}").format(n=s.closed, rate=percent(s.close_rate)),
        t._("Returned for rework: {n}").format(n=s.returned),
        t._("Refused: {refused} · inadequate: {inadequate} · falsely reported: {false}").format(
            refused=s.refused, inadequate=s.inadequate, false=s.falsely_reported),
        t._("Average working days from receipt to report: {n}").format(n=number(s.average_days)),
    ]


EXPLAIN: tuple[str, ...] = (
    N_("How the statistics are counted (docs/STATISTICS.md):"),
    N_("- Period: from its first to its last day, bureau-local dates; figures are as of the period's end, or "
       "today if earlier."),
    N_("- Cases registered: cases registered in the period."),
    N_("- Reports due: cases whose report deadline fell in the period and whose last day has ended. The "
       "deadline is the one in force now: an approved extension counts by the extended date, a return for "
       "rework by its new deadline."),
    N_("- Reported on time: of those, the case's latest submitted report is awaiting review or accepted, and was "
       "submitted on or before the deadline."),
    N_("- On-time rate (按期整改率) = reported on time ÷ reports due."),
    N_("- Overdue cases: reports due that were not reported on time. Overdue working days: for each, the working "
       "days after the deadline up to the day the late report was submitted, or to the end of the period."),
    N_("- Closing rate (销号率) = reports due whose case is now closed ÷ reports due."),
    N_("- Returned (退回), refused (拒不整改), inadequate (整改不到位), falsely reported (虚报): review "
       "decisions made in the period."),
    N_("- Average working days from receipt to report: over the cases whose first report was submitted in the "
       "period, the working days from the day the feedback was received to that report."),
)


def explain(t: Translator) -> str:
    return "\n".join(t._(line) for line in EXPLAIN)


def period_code(period: StatsPeriod) -> tuple[int, int]:
    """The period as two yyyymmdd numbers, for a page button."""
    return int(period.start.strftime("%Y%m%d")), int(period.end.strftime("%Y%m%d"))


def period_from_code(start: int, end: int) -> StatsPeriod:
    """Back from a page button (forged data raises DomainError, like typed input)."""
    try:
        s, e = date(start // 10000, start // 100 % 100, start % 100), date(end // 10000, end // 100 % 100, end % 100)
    except ValueError:
        raise DomainError(BAD_PERIOD, text=f"{start}..{end}") from None
    if s > e:
        raise DomainError(BAD_PERIOD, text=f"{start}..{end}")
    return StatsPeriod(s, e)
