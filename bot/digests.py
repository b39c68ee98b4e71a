"""The supervisors' daily digest (汇总) and the lists behind its buttons; the missing-calendar warning.

The digest is computed when it is enqueued (its figures are those of that morning) and rendered
at send time in each supervisor's language; its buttons open the current lists. It goes through
the outbox with the key digest:<date>:p<person>, so restarts never send it twice a day.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from bot import todo
from bot.callbacks import DIGEST
from bot.case_text import case_label
from bot.dates import format_deadline
from bot.domain import Kind, Notification, WatchedItem
from bot.i18n import Translator
from bot.logs import log_event
from bot.notify import Rendered
from bot.paging import Listing, Page, page, window, with_page_line
from bot.reminders import (
    TARGET_FEEDBACK,
    TARGET_REPORT,
    Standing,
    Target,
    case_standing,
    local_today,
    standing_of,
)
from bot.services import Services
from bot.settings import Settings
from bot.workcalendar import WorkCalendar
from storage import outbox as outbox_repo
from storage import reminders as repo
from storage import todo as todo_repo
from storage.db import Conn, Database
from storage.outbox import enqueue

log = logging.getLogger(__name__)

DIGEST_STATE = "digest.last_date"
CALENDAR_WARNING_STATE = "calendar_warning.last_week"
SECTIONS = ("new", "overdue", "soon", "review", "provisional", "noliaison")
DateRange = tuple[date | None, date]  # inclusive; a None start is open below
LIST_PAGE = 10  # items per page of a digest list (bot/paging.py): an item is at most ~400 characters


@dataclass(frozen=True)
class DigestItem:
    case_id: int
    department: str
    project: str | None         # None for confidential cases: number and deadline only
    due: str                    # ISO date
    provisional: bool
    target: str                 # report / feedback
    working_days_left: int = 0
    working_days_overdue: int = 0
    risk: bool = False          # escalation level 2: 拒不整改风险


@dataclass
class Digest:
    day: str
    new: list[DigestItem] = field(default_factory=list)
    overdue: list[DigestItem] = field(default_factory=list)      # still overdue (overdue before today)
    soon: list[DigestItem] = field(default_factory=list)         # due within 3 working days
    review: list[DigestItem] = field(default_factory=list)       # reports awaiting review
    provisional: list[DigestItem] = field(default_factory=list)
    noliaison: list[str] = field(default_factory=list)           # departments without a reachable liaison
    # The enqueued digest carries only these (issue 14: its payload no longer grows with the cases);
    # None for a digest built with its lists (the pages behind the buttons, older payloads).
    counts: dict[str, int] | None = None
    risky: int = 0                                               # overdue with non-compliance risk

    def count(self, section: str) -> int:
        return self.counts.get(section, 0) if self.counts is not None else len(getattr(self, section))

    def risky_count(self) -> int:
        return self.risky if self.counts is not None else sum(1 for i in self.overdue if i.risk)

    @property
    def empty(self) -> bool:
        return not any(self.count(s) for s in SECTIONS)

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Digest:
        d = cls(day=str(payload["day"]))
        counts = payload.get("counts")
        if isinstance(counts, Mapping):
            d.counts = {str(k): int(v) for k, v in counts.items()}
            d.risky = int(payload.get("risky", 0))
        for s in SECTIONS:
            value = payload.get(s, [])
            setattr(d, s, list(value) if s == "noliaison" else [DigestItem(**item) for item in value])
        return d


async def build_digest(db: Database, calendar: WorkCalendar, settings: Settings, now: datetime) -> Digest:
    today = local_today(settings, now)
    digest = Digest(day=today.isoformat())
    for case in await repo.watched_cases(db):
        st = case_standing(case, today, calendar, settings)
        if st is None:
            continue
        item = DigestItem(
            case_id=case.id, department=case.department_name, project=None if case.confidential else case.project,
            due=st.target.due.isoformat(), provisional=st.target.provisional, target=st.target.name,
            working_days_left=st.working_days_left, working_days_overdue=st.working_days_overdue,
            risk=st.level >= 2,
        )
        if st.overdue and st.working_days_overdue == 1:
            digest.new.append(item)
        elif st.overdue and st.working_days_overdue > 1:
            digest.overdue.append(item)
        elif not st.overdue and st.working_days_left <= 3:
            digest.soon.append(item)
        if st.target.provisional:
            digest.provisional.append(item)
    digest.overdue.sort(key=lambda i: (i.department, i.due, i.case_id))  # most overdue first, as in SQL
    digest.soon.sort(key=lambda i: (i.due, i.case_id))
    for r in await repo.reports_awaiting_review(db):
        digest.review.append(DigestItem(
            case_id=r.case_id, department=r.department_name, project=None if r.confidential else r.project,
            due=(r.submitted_at or "")[:10], provisional=False, target="review",
        ))
    digest.noliaison = [name for _id, name in await repo.departments_without_reachable_liaison(db)]
    return digest


async def build_digest_counts(db: Conn, calendar: WorkCalendar, settings: Settings, now: datetime,
                              groups: Sequence[tuple[date, bool, bool, int]] | None = None) -> Digest:
    """The digest's figures without its lists: the same sections as `build_digest`, counted from SQL
    aggregates (open cases grouped by running deadline: the standing is computed once per distinct
    day, not once per case), so its cost and its payload stay small at any size. `groups`: those
    groups (`repo.target_groups`) when the caller has read them already."""
    today = local_today(settings, now)
    counts = dict.fromkeys(SECTIONS, 0)
    risky = 0
    if groups is None:
        groups = await repo.target_groups(db)
    standings: dict[date, Standing] = {}  # a day's groups (provisional or not, either clock) share it
    for due, provisional, report, n in groups:
        st = standings.get(due)  # the standing depends on the deadline's day only (reminders.standing_of)
        if st is None:
            target = Target(TARGET_REPORT if report else TARGET_FEEDBACK, due, provisional)
            st = standings[due] = standing_of(target, today, calendar, settings.escalation.levels)
        section = _section_of(st)
        if section is not None:
            counts[section] += n
        if section == "overdue" and st.level >= 2:
            risky += n
        if provisional:
            counts["provisional"] += n
    counts["review"] = await repo.count_reports_awaiting_review(db)
    counts["noliaison"] = len(await repo.departments_without_reachable_liaison(db))
    return Digest(day=today.isoformat(), counts=counts, risky=risky)


async def digest_and_todo(db: Database, calendar: WorkCalendar, settings: Settings, now: datetime,
                          ) -> tuple[Digest, todo.Todo]:
    """The digest's counts and the bureau's to-do, read on a connection of their own (`Database.reader`):
    they count every open case (~20 ms at 100k), and on the shared connection every other person's
    reply would wait behind them. The open cases are grouped by running deadline once, for both: the
    to-do's overdue count and escalation levels are sums over those groups, not two more SQL passes."""
    async with db.reader() as ro:
        groups = await repo.target_groups(ro)
        digest = await build_digest_counts(ro, calendar, settings, now, groups)
        body = await todo.build(ro, calendar, settings, audience=todo.BUREAU, today=local_today(settings, now),
                                deadlines=[(due, n) for due, _provisional, _report, n in groups])
    return digest, body


# ----------------------------------------------------------------------------- wording

def _title(t: Translator, section: str) -> str:
    return {
        "new": t._("Newly overdue"),
        "overdue": t._("Still overdue"),
        "soon": t._("Due within 3 working days"),
        "review": t._("Reports awaiting review"),
        "provisional": t._("Provisional deadlines (暂定)"),
        "noliaison": t._("Departments without a reachable liaison"),
    }[section]


def item_line(t: Translator, item: DigestItem) -> str:
    parts = [case_label(t, item.case_id)]
    if item.project is not None:
        parts += [item.department, item.project]
    if item.target == "review":
        parts.append(t._("submitted {date}").format(date=item.due))
        return " · ".join(parts)
    due = format_deadline(date.fromisoformat(item.due), item.provisional, t)
    parts.append((t._("feedback due {date}") if item.target == TARGET_FEEDBACK else t._("due {date}")).format(date=due))
    if item.working_days_overdue:
        parts.append(t.ngettext("{n} working day overdue", "{n} working days overdue",
                                item.working_days_overdue).format(n=item.working_days_overdue))
    elif item.target != "review":
        parts.append(t.ngettext("{n} working day left", "{n} working days left",
                                item.working_days_left).format(n=item.working_days_left))
    line = ("🔴 " if item.working_days_overdue else "🟡 " if item.working_days_left <= 3 else "🟢 ") + " · ".join(parts)
    if item.risk:
        line += " · " + t._("⚠️ non-compliance risk (拒不整改风险)")
    return line


def render_digest(t: Translator, digest: Digest) -> Rendered:
    """The summary: one line per non-empty section, with a button to open each list."""
    day = format_deadline(date.fromisoformat(digest.day), False, t)
    if digest.empty:
        return Rendered(t._("📋 Daily digest {day}: nothing needs attention today.").format(day=day))
    lines = [t._("📋 Daily digest {day}").format(day=day)]
    buttons: list[list[tuple[str, str]]] = []
    for s in SECTIONS:
        count = digest.count(s)
        if not count:
            continue
        lines.append(t._("• {title}: {count}").format(title=_title(t, s), count=count))
        if s == "overdue":
            risky = digest.risky_count()
            if risky:
                lines.append("  " + t._("of which {n} with non-compliance risk (拒不整改风险)").format(n=risky))
        buttons.append([(t._("{title} ({count})").format(title=_title(t, s), count=count), DIGEST.build(s))])
    return Rendered("\n".join(lines), buttons)


def render_section(t: Translator, digest: Digest, section: str) -> str:
    """The first page of the list behind one digest button (see `section_page`)."""
    return section_page(t, digest, section, 1).text


def section_page(t: Translator, digest: Digest, section: str, number: int) -> Listing:
    """One page of the list of a digest built with its lists (`build_digest`): see `_listing`."""
    items: Sequence[Any] = getattr(digest, section)
    if section in ("overdue", "new"):
        items = sorted(items, key=lambda i: i.project is None)  # confidential ones last, apart
    return _listing(t, section, page(items, number, LIST_PAGE))


def _listing(t: Translator, section: str, current: Page[Any]) -> Listing:
    """One page of the list behind one digest button (overdue grouped by department: each page
    names the department of its first line again, so no page starts without one)."""
    title = _title(t, section)
    if not current.total:
        return Listing(t._("{title}: none.").format(title=title), current)
    lines = [t._("{title} ({count})").format(title=title, count=current.total)]
    if section == "noliaison":
        lines += [f"• {name}" for name in current.items]
    elif section in ("overdue", "new"):
        header = None
        for item in current.items:
            group = item.department if item.project is not None else t._("Confidential matters (涉密)")
            if group != header:
                header = group
                lines.append(f"【{header}】")
            lines.append(item_line(t, item))
    else:
        lines += [item_line(t, item) for item in current.items]
    return Listing(with_page_line(t, "\n".join(lines), current), current)


def render_overdue_list(t: Translator, digest: Digest) -> str:
    """/overdue's first page (see `overdue_page`)."""
    return overdue_page(t, digest, 1).text


def overdue_page(t: Translator, digest: Digest, number: int) -> Listing:
    """/overdue: every overdue case (new and old), grouped by department, confidential ones last."""
    merged = Digest(day=digest.day, overdue=sorted(
        [*digest.new, *digest.overdue], key=lambda i: (i.department, i.due, i.case_id)))
    if not merged.overdue:
        return Listing(t._("No case is overdue. 🟢"), page(merged.overdue, 1))
    return section_page(t, merged, "overdue", number)


# ----------------------------------------------------------------------------- the lists, paged in SQL

_NEAR_PAST, _NEAR_FUTURE = 60, 40  # calendar days around today where a list's deadlines are classified


def _section_of(st: Standing) -> str | None:
    """Which of the digest's running-deadline lists a standing belongs to (the one rule of both the
    counts and the lists)."""
    if st.overdue and st.working_days_overdue == 1:
        return "new"
    if st.overdue and st.working_days_overdue > 1:
        return "overdue"
    if not st.overdue and st.working_days_left <= 3:
        return "soon"
    return None


def section_ranges(today: date, calendar: WorkCalendar, levels: Sequence[int]) -> dict[str, list[DateRange]]:
    """The running deadlines of each list ("new", "overdue", "soon") as inclusive date ranges.

    A case's list depends only on its deadline (and today), so each day near today is classified once
    (~100 days); every deadline before that window is still overdue and every one after it is in no
    list (the window widens if a long holiday ever made that untrue). The lists are then ranges of
    the running-deadline index, counted and paged in SQL instead of classifying every open case."""
    def of(d: date) -> str | None:
        return _section_of(standing_of(Target(TARGET_REPORT, d, False), today, calendar, levels))

    past, future = timedelta(days=_NEAR_PAST), timedelta(days=_NEAR_FUTURE)
    first, last = today - past, today + future
    while of(first) != "overdue" and first > date.min + past:
        first -= past
    while of(last) is not None and last < date.max - future:
        last += future
    ranges: dict[str, list[DateRange]] = {"new": [], "overdue": [(None, first)], "soon": []}
    previous: str | None = "overdue"
    d = first + timedelta(days=1)
    while d <= last:
        section = of(d)
        if section is not None:
            if section == previous:
                ranges[section][-1] = (ranges[section][-1][0], d)
            else:
                ranges[section].append((d, d))
        previous = section
        d += timedelta(days=1)
    return ranges


def _digest_item(found: WatchedItem, today: date, calendar: WorkCalendar, levels: Sequence[int]) -> DigestItem:
    target = Target(TARGET_REPORT if found.report else TARGET_FEEDBACK, found.due, found.provisional)
    st = standing_of(target, today, calendar, levels)
    return DigestItem(
        case_id=found.case_id, department=found.department_name,
        project=None if found.confidential else found.project, due=found.due.isoformat(),
        provisional=found.provisional, target=target.name, working_days_left=st.working_days_left,
        working_days_overdue=st.working_days_overdue, risk=st.level >= 2,
    )


async def _watched_listing(db: Database, calendar: WorkCalendar, settings: Settings, today: date, t: Translator,
                           section: str, number: int, ranges: Sequence[DateRange] | None, order: str,
                           provisional_only: bool = False) -> Listing:
    levels = settings.escalation.levels
    total = await todo_repo.count_watched(db, ranges, provisional_only=provisional_only)
    number, pages, offset = window(total, number, LIST_PAGE)
    found = await todo_repo.watched_page(db, ranges, order=order, limit=LIST_PAGE, offset=offset,
                                         provisional_only=provisional_only) if total else []
    items = tuple(_digest_item(f, today, calendar, levels) for f in found)
    return _listing(t, section, Page(items, number, pages, total))


async def list_page(db: Database, calendar: WorkCalendar, settings: Settings, now: datetime, t: Translator,
                    section: str, number: int) -> Listing:
    """Page `number` of the list behind one digest button, as of now: a COUNT and one LIMITed page
    (issue 14), never every open case; the same texts as `section_page`."""
    today = local_today(settings, now)
    if section == "noliaison":  # one line per department: bounded by the departments, not the cases
        names = [name for _id, name in await repo.departments_without_reachable_liaison(db)]
        return _listing(t, section, page(names, number, LIST_PAGE))
    if section == "review":
        total = await todo_repo.count(db, "review", today=today)
        number, pages, offset = window(total, number, LIST_PAGE)
        rows = await todo_repo.items(db, "review", today=today, limit=LIST_PAGE, offset=offset) if total else []
        items = tuple(DigestItem(case_id=r.case_id, department=r.department_name,
                                 project=None if r.confidential else r.project,
                                 due=r.on.isoformat() if r.on else "", provisional=False, target="review")
                      for r in rows)
        return _listing(t, section, Page(items, number, pages, total))
    if section == "provisional":
        return await _watched_listing(db, calendar, settings, today, t, section, number, None, "id",
                                      provisional_only=True)
    ranges = section_ranges(today, calendar, settings.escalation.levels)[section]
    return await _watched_listing(db, calendar, settings, today, t, section, number, ranges,
                                  "due" if section == "soon" else "department")


async def overdue_listing(db: Database, calendar: WorkCalendar, settings: Settings, now: datetime, t: Translator,
                          number: int) -> Listing:
    """Page `number` of /overdue (every overdue case, new and old, by department), in SQL as `list_page`."""
    today = local_today(settings, now)
    ranges = section_ranges(today, calendar, settings.escalation.levels)
    listing = await _watched_listing(db, calendar, settings, today, t, "overdue", number,
                                     [*ranges["overdue"], *ranges["new"]], "department")
    if not listing.page.total:
        return Listing(t._("No case is overdue. 🟢"), listing.page)
    return listing


def render_digest_with_todo(t: Translator, digest: Digest, body: todo.Todo | None) -> Rendered:
    """The digest as supervisors get it: the bureau's to-do (counts, then the first page of items, each
    with its button) under the digest's heading, then the digest's own lists (due soon, provisional,
    departments without a liaison…) with their buttons. Without a to-do (a payload enqueued by an older
    version) just the summary."""
    summary = render_digest(t, digest)
    if body is None:
        return summary
    day = format_deadline(date.fromisoformat(digest.day), False, t)
    if body.empty and digest.empty:
        return summary
    text, rows = todo.render(t, body, heading=t._("📋 Daily digest {day}").format(day=day))
    more = summary.text.split("\n")[1:] if not digest.empty else []
    if more:
        text += "\n\n" + t._("Lists:") + "\n" + "\n".join(more)
    return Rendered(text, [*rows, *summary.buttons])


async def render_digest_notification(db: Database, t: Translator, payload: Mapping[str, Any]) -> Rendered:
    body = payload.get("todo")
    return render_digest_with_todo(t, Digest.from_payload(payload),
                                   todo.Todo.from_payload(body) if isinstance(body, Mapping) else None)


async def render_calendar_missing(db: Database, t: Translator, payload: Mapping[str, Any]) -> Rendered:
    return Rendered(t._(
        "📅 The official holiday schedule for {year} is not loaded yet. Deadlines in {year} are provisional "
        "(暂定) until it is. When the State Council publishes it, load it with: rectbot calendar load FILE"
    ).format(year=payload["year"]))


# ----------------------------------------------------------------------------- the daily jobs

def digest_due_today(settings: Settings, calendar: WorkCalendar, now: datetime) -> bool:
    local = now.astimezone(settings.bureau.tz)
    return calendar.is_working_day(local.date()) and local.time().replace(tzinfo=None) >= settings.escalation.digest_at


async def enqueue_daily_digests(services: Services, *, force: bool = False) -> int:
    """At digest time on a working day, once per day (a restart later that day catches up), from the
    first day the bot runs (a fresh database used to only record that day, so the first digest came a
    working day late). Its body is the bureau's to-do of that moment (bot/todo.py)."""
    settings, calendar, db = services.settings, services.calendar, services.db
    now = services.now()
    today = local_today(settings, now)
    if not force and not digest_due_today(settings, calendar, now):
        return 0
    last = await outbox_repo.get_job_state(db, DIGEST_STATE)
    if not force and last is not None and last >= today.isoformat():
        return 0
    digest, body = await digest_and_todo(db, calendar, settings, now)
    supervisors = await repo.reachable_people_by_role(db, "supervisor")
    payload = {**digest.to_payload(), "todo": body.to_payload()}
    async with db.transaction() as conn:
        count = await enqueue(conn, [
            Notification(f"digest:{today.isoformat()}:p{p}", p, Kind.DIGEST, payload, now) for p in supervisors
        ], now=now)
        await outbox_repo.set_job_state(conn, DIGEST_STATE, today.isoformat())
    if count:
        services.wake_delivery()
    log_event(log, "digest issued", day=today.isoformat(), recipients=count)
    return count


async def warn_missing_calendar(services: Services) -> int:
    """From 1 November, once a week: tell the admins (and the log) that next year's schedule is missing."""
    settings, calendar, db = services.settings, services.calendar, services.db
    now = services.now()
    today = local_today(settings, now)
    year = today.year + 1
    if today.month < 11 or calendar.is_known(year):
        return 0
    if not digest_due_today(settings, calendar, now):
        return 0
    iso_year, week, _ = today.isocalendar()
    week_key = f"{year}:{iso_year}-W{week:02d}"
    last = await outbox_repo.get_job_state(db, CALENDAR_WARNING_STATE)
    if last == week_key:
        return 0
    log.warning("the official holiday schedule for %s is not loaded: deadlines in %s are provisional", year, year)
    admins = await repo.reachable_people_by_role(db, "admin")
    async with db.transaction() as conn:
        count = 0
        if last is not None:  # a fresh database records the week first (see enqueue_daily_digests)
            count = await enqueue(conn, [
                Notification(f"calendar_missing:{week_key}:p{p}", p, Kind.CALENDAR_MISSING, {"year": year}, now)
                for p in admins
            ], now=now)
        await outbox_repo.set_job_state(conn, CALENDAR_WARNING_STATE, week_key)
    if count:
        services.wake_delivery()
    return count
