"""The to-do (今日待办 / 我的待办, issue 10 item 3): what each person has to do now, counts first.

Bureau staff: reports awaiting review, extension requests to decide, feedback not yet acknowledged
(days since it was sent), overdue cases by escalation level. Liaisons, for their department: feedback
to acknowledge (确认收到), reports due soonest, returned reports to resubmit. One list over those
sections, paged with bot/paging.py's page size; each page reads only its own rows (storage/todo.py:
a COUNT per section and LIMITed slices), so a department with hundreds of cases costs one page.
The same to-do is the body of the supervisors' daily digest (bot/digests.py), stored in its payload
so the figures are those of the morning it was enqueued. Telegram-free: buttons are (label, data).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

from bot.callbacks import OPEN_CASE, PAGE, REPORT, REVIEW, TODO
from bot.case_text import case_label, confirmed_feedback_card, render_feedback_card
from bot.cases import case_for
from bot.dates import format_date, format_deadline
from bot.domain import Person, Role, TodoItem
from bot.i18n import N_, Translator
from bot.notify import Rendered
from bot.paging import PAGE_SIZE, Page, nav_row, with_page_line
from bot.people import require_role
from bot.reminders import traffic_light
from bot.settings import Settings
from bot.workcalendar import WorkCalendar
from storage import todo as repo
from storage.db import Conn, Database

BUREAU = "bureau"
LIAISON = "liaison"
SECTIONS: dict[str, tuple[str, ...]] = {
    BUREAU: ("review", "extension", "feedback", "overdue"),
    LIAISON: ("feedback", "due", "returned"),
}

Buttons = list[list[tuple[str, str]]]
LEVEL_NAMES = {1: N_("escalation level 1"), 2: N_("escalation level 2 (non-compliance risk)")}


@dataclass(frozen=True)
class TodoLine:
    """An item with what the line says of it: `days` since the feedback was sent, working days left
    (negative: overdue) of a deadline; `level` the escalation level an overdue case reached."""

    item: TodoItem
    days: int = 0
    level: int = 0


@dataclass(frozen=True)
class Todo:
    audience: str                  # BUREAU or LIAISON
    day: date
    counts: Mapping[str, int]      # section -> how many
    levels: tuple[int, int]        # overdue cases at escalation level 1 and at level 2 (bureau)
    page: Page[TodoLine]

    @property
    def empty(self) -> bool:
        return self.page.total == 0

    def to_payload(self) -> dict[str, Any]:
        return {"audience": self.audience, "day": self.day.isoformat(), "counts": dict(self.counts),
                "levels": list(self.levels), "number": self.page.number, "pages": self.page.pages,
                "total": self.page.total, "lines": [_line_payload(line) for line in self.page.items]}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Todo:
        lines = []
        for raw in payload.get("lines", []):
            item = dict(raw["item"])
            item["on"] = date.fromisoformat(item["on"]) if item.get("on") else None
            lines.append(TodoLine(TodoItem(**item), int(raw.get("days", 0)), int(raw.get("level", 0))))
        levels = payload.get("levels", [0, 0])
        return cls(str(payload["audience"]), date.fromisoformat(str(payload["day"])),
                   {str(k): int(v) for k, v in payload.get("counts", {}).items()},
                   (int(levels[0]), int(levels[1])),
                   Page(tuple(lines), int(payload["number"]), int(payload["pages"]), int(payload["total"])))


def _line_payload(line: TodoLine) -> dict[str, Any]:
    """A line as JSON (the outbox stores payloads as JSON): its date as ISO text."""
    raw = asdict(line)
    raw["item"]["on"] = line.item.on.isoformat() if line.item.on else None
    return raw


def _cutoff(calendar: WorkCalendar, today: date, k: int) -> date:
    """The k-th working day counting back from today (today included when it is one): a deadline before
    it has at least k working days overdue (bot.reminders.standing_of counts them the same way)."""
    if k <= 0:
        return today
    d, seen = today, 0
    for _ in range(3700):
        if calendar.is_working_day(d):
            seen += 1
            if seen == k:
                return d
        d -= timedelta(days=1)
    return d  # pragma: no cover - ten years without k working days


def _level(calendar: WorkCalendar, due: date, today: date, levels: Sequence[int]) -> tuple[int, int]:
    _light, left, over = traffic_light(due, today, calendar)
    if today <= due:
        return left, 0
    return -over, 2 if over >= levels[1] else 1 if over >= levels[0] else 0


async def build(db: Conn, calendar: WorkCalendar, settings: Settings, *, audience: str, today: date,
                number: int = 1, department_id: int | None = None,
                deadlines: Iterable[tuple[date, int]] | None = None) -> Todo:
    """Page `number` (clamped to the nearest that exists) of the to-do of an audience.

    `deadlines`: the running deadlines of all open cases with how many cases have each, when the caller
    already has them (the daily digest groups them for its own counts): the bureau's overdue count and
    its escalation levels are then sums over those few hundred days instead of two more passes over
    the overdue cases in SQL. The same figures either way (tests/test_digest_shared_counts.py)."""
    sections = SECTIONS[audience]
    shared = _overdue_counts(calendar, today, settings.escalation.levels, deadlines) \
        if deadlines is not None and department_id is None and "overdue" in sections else None
    counts = {s: shared[0] if shared is not None and s == "overdue"
              else await repo.count(db, s, today=today, department_id=department_id) for s in sections}
    total = sum(counts.values())
    pages = max(1, -(-total // PAGE_SIZE))
    number = min(max(number, 1), pages)
    start, room = (number - 1) * PAGE_SIZE, PAGE_SIZE
    found: list[TodoItem] = []
    for s in sections:
        if room == 0:
            break
        if start >= counts[s]:
            start -= counts[s]
            continue
        take = min(room, counts[s] - start)
        found += await repo.items(db, s, today=today, limit=take, offset=start, department_id=department_id)
        start, room = 0, room - take
    levels = settings.escalation.levels
    lines = []
    for item in found:
        days, level = 0, 0
        if item.section == "feedback" and item.on is not None:
            days = (today - item.on).days
        elif item.section in ("overdue", "due", "returned") and item.on is not None:
            days, level = _level(calendar, item.on, today, levels)
        lines.append(TodoLine(item, days, level))
    level_counts = (0, 0)
    if shared is not None:
        level_counts = shared[1]
    elif "overdue" in sections and counts["overdue"]:
        at1, at2 = await repo.overdue_before(
            db, [_cutoff(calendar, today, levels[0]), _cutoff(calendar, today, levels[1])], today=today,
            department_id=department_id)
        level_counts = (at1 - at2, at2)
    return Todo(audience, today, counts, level_counts, Page(tuple(lines), number, pages, total))


def _overdue_counts(calendar: WorkCalendar, today: date, levels: Sequence[int],
                    deadlines: Iterable[tuple[date, int]]) -> tuple[int, tuple[int, int]]:
    """The overdue cases (deadline before today) and those at escalation level 1 and 2, from the cases
    per running deadline: the same cut-offs as `repo.overdue_before`."""
    cut1, cut2 = _cutoff(calendar, today, levels[0]), _cutoff(calendar, today, levels[1])
    overdue = at1 = at2 = 0
    for due, n in deadlines:
        if due < today:
            overdue += n
            at1 += n if due < cut1 else 0
            at2 += n if due < cut2 else 0
    return overdue, (at1 - at2, at2) if overdue else (0, 0)


async def todo_for(db: Conn, calendar: WorkCalendar, settings: Settings, person: Person | None, *, today: date,
                   number: int = 1) -> Todo:
    """The sender's to-do: a liaison's is their department's, bureau staff's the bureau's (checked on
    every page, so a forwarded ◀ ▶ shows the presser their own)."""
    who = require_role(person, Role.ADMIN, Role.SUPERVISOR, Role.LIAISON)
    if who.role == Role.LIAISON:
        return await build(db, calendar, settings, audience=LIAISON, today=today, number=number,
                           department_id=who.department_id)
    return await build(db, calendar, settings, audience=BUREAU, today=today, number=number)


async def feedback_card(db: Database, t: Translator, person: Person | None, case_id: int) -> Rendered:
    """A liaison's to-do line of feedback to acknowledge opens the feedback card itself, as a new
    message (its 确认收到 edits that card, never the to-do); once confirmed, the confirmed card."""
    who = require_role(person, Role.LIAISON)
    case = await case_for(db, case_id, who)  # their own department's only
    if case.feedback_received_on is not None:
        return Rendered(confirmed_feedback_card(t, case))
    return await render_feedback_card(db, t, {"case_id": case.id})


# ----------------------------------------------------------------------------- wording

def section_title(t: Translator, audience: str, section: str) -> str:
    if section == "feedback" and audience == LIAISON:
        return t._("Feedback to acknowledge (confirm receipt)")
    if section == "feedback":
        return t._("Feedback not yet acknowledged")
    return {
        "review": t._("Reports awaiting review"),
        "extension": t._("Extension requests to decide"),
        "overdue": t._("Overdue cases"),
        "due": t._("Reports due soonest"),
        "returned": t._("Returned reports to resubmit"),
    }[section]


def _count_line(t: Translator, todo: Todo, section: str) -> str:
    name, count = section_title(t, todo.audience, section), todo.counts[section]
    if section == "overdue" and count and any(todo.levels):
        return t._("• {title}: {count} (escalation level 1: {one}; level 2, non-compliance risk: {two})").format(
            title=name, count=count, one=todo.levels[0], two=todo.levels[1])
    return t._("• {title}: {count}").format(title=name, count=count)


def _item_line(t: Translator, audience: str, line: TodoLine) -> str:
    """One item: a liaison's lines leave out their own department and the bureau's escalation levels."""
    item = line.item
    parts = [case_label(t, item.case_id)]
    if not item.confidential:
        parts += [item.project] if audience == LIAISON else [item.department_name, item.project]
    else:
        parts.append(t._("confidential"))
    if item.section == "review":
        parts.append(t._("submitted {date}").format(date=format_date(item.on, t)))
    elif item.section == "extension":
        parts.append(t._("asks for {date}").format(date=format_date(item.on, t)))
    elif item.section == "feedback":
        parts.append(t.ngettext("sent {n} day ago", "sent {n} days ago", line.days).format(n=line.days))
    else:
        parts.append(t._("due {date}").format(date=format_deadline(item.on, item.provisional, t)))
        if line.days < 0:
            parts.append(t.ngettext("{n} working day overdue", "{n} working days overdue", -line.days).format(
                n=-line.days))
            if line.level and audience == BUREAU:
                parts.append(t._(LEVEL_NAMES[line.level]))
        elif item.on is not None:
            parts.append(t.ngettext("{n} working day left", "{n} working days left", line.days).format(n=line.days))
    mark = "🔴 " if line.days < 0 else ""
    return mark + " · ".join(parts)


def _button(t: Translator, audience: str, line: TodoLine) -> tuple[str, str]:
    item = line.item
    if item.section == "review":
        return t._("Review #{id}").format(id=item.case_id), REVIEW.build("open", item.ref_id)
    if item.section == "extension":
        return t._("Decide extension #{id}").format(id=item.case_id), TODO.build("ext", item.ref_id)
    if item.section in ("due", "returned"):
        return t._("Report on #{id}").format(id=item.case_id), REPORT.build("c", item.case_id)
    if item.section == "feedback" and audience == LIAISON:
        return t._("Open feedback #{id}").format(id=item.case_id), TODO.build("fb", item.case_id)
    return t._("Open #{id}").format(id=item.case_id), OPEN_CASE.build("o", item.case_id)


def title(t: Translator, todo: Todo) -> str:
    day = format_date(todo.day, t)
    if todo.audience == LIAISON:
        return t._("📝 My to-do: {day}").format(day=day)
    return t._("📝 Today's to-do: {day}").format(day=day)


def render(t: Translator, todo: Todo, *, heading: str | None = None) -> tuple[str, Buttons]:
    """A page of the to-do: the heading, the count of every section, then this page's items under their
    sections, the page line; a button per item (opening it) and the ◀ ▶ row."""
    head = heading if heading is not None else title(t, todo)
    if todo.empty:
        return head + "\n" + t._("Nothing to do right now. 🟢"), []
    lines = [head, *(_count_line(t, todo, s) for s in SECTIONS[todo.audience])]
    rows: Buttons = []
    current = None
    for line in todo.page.items:
        if line.item.section != current:
            current = line.item.section
            lines += ["", f"【{section_title(t, todo.audience, current)}】"]
        lines.append(_item_line(t, todo.audience, line))
        rows.append([_button(t, todo.audience, line)])
    nav = nav_row(t, todo.page, lambda n: PAGE.build("todo", n))
    if nav:
        rows.append(nav)
    return with_page_line(t, "\n".join(lines), todo.page), rows
