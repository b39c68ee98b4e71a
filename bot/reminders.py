"""The reminder policy: a pure function from a case's state and the calendar to the notifications due.

Steps (defaults from the settings):
* before the deadline: reminders at 10, 3, 1 and 0 working days before it (0 = the last day,
  "until 24:00") — to the department's liaisons for the report deadline, to the supervisors for
  the bureau's own feedback deadline (evaluation cases whose feedback has not been sent);
* after it: an overdue notice (提醒, art. 12) on the first working day after the deadline and
  every `overdue_every_working_days` working days while it stays overdue;
* escalation ladder in working days overdue (`escalation.levels`, default [1, 10]): level 1 —
  each supervisor is told once; level 2 — non-compliance risk (拒不整改风险), each admin is told.
  For the feedback deadline the overdue notices already go to the supervisors, so only level 2
  (admins) is added.

Keys are `case:<id>:<kind>:<target>:<step>:<due date>:p<person>`: the outbox's UNIQUE key makes
duplicates impossible, and a changed deadline starts a fresh series. Only the *latest*
applicable step is ever produced, so after downtime each recipient gets one up-to-date message
per case instead of a backlog (the sweep drops older pending ones as superseded).

The policy acts only on days messages may go out (working days unless
`reminders.working_days_only` is false) and before the send window closes, so the numbers in a
message are those of the day it is delivered; otherwise it waits for the next such day.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from bot import paging
from bot.callbacks import DIGEST, OPEN_CASE, PAGE, REPORT
from bot.case_text import case_label, case_title
from bot.cases import OPEN_STATUSES, may_view
from bot.clock import iso
from bot.dates import format_deadline
from bot.domain import Case, CaseStatus, Kind, NewCase, Notification, OutboxRow, Person, Source, SweepCase
from bot.errors import NotAuthorized
from bot.i18n import N_, Translator
from bot.notify import Rendered, RendererRegistry
from bot.periods import due_end
from bot.settings import Settings
from bot.workcalendar import WorkCalendar
from storage import cases as cases_repo
from storage import outbox as outbox_repo
from storage.db import Database, audit

REMINDER_KINDS = (Kind.REMINDER, Kind.OVERDUE, Kind.ESCALATION)
SERIES_KINDS = (Kind.REMINDER, Kind.OVERDUE)  # one latest message per recipient and case

TARGET_REPORT = "report"      # the unit's rectification report deadline (due_on)
TARGET_FEEDBACK = "feedback"  # the bureau's own feedback deadline (feedback_due_on)

YELLOW_WORKING_DAYS = 3


class Light(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"   # ≤ 3 working days left
    RED = "red"         # overdue
    NONE = "none"       # no deadline running yet

    @property
    def emoji(self) -> str:
        return {"green": "🟢", "yellow": "🟡", "red": "🔴", "none": "⚪"}[self.value]


def traffic_light(due: date, today: date, calendar: WorkCalendar) -> tuple[Light, int, int]:
    """The one traffic light: (light, working days left, working days overdue).

    Red once the due day has passed, yellow with ≤ YELLOW_WORKING_DAYS working days left.
    """
    if today > due:
        return Light.RED, 0, calendar.working_days_between(due, today)
    left = calendar.working_days_between(today, due)
    return (Light.YELLOW if left <= YELLOW_WORKING_DAYS else Light.GREEN), left, 0


@dataclass(frozen=True)
class Target:
    """Which deadline of the case is running now."""

    name: str          # TARGET_REPORT or TARGET_FEEDBACK
    due: date
    provisional: bool


@dataclass(frozen=True)
class Standing:
    """Where a case stands on a given day (for reminders, digests and /overdue)."""

    target: Target
    today: date
    overdue: bool
    working_days_left: int      # working days d with today < d <= due (0 when overdue)
    working_days_overdue: int   # working days d with due < d <= today (0 when not overdue)
    level: int                  # escalation level reached: 0, 1 or 2
    light: Light


@dataclass(frozen=True)
class Recipients:
    """Reachable, active people the policy may address (person ids)."""

    liaisons: tuple[int, ...] = ()
    supervisors: tuple[int, ...] = ()
    admins: tuple[int, ...] = ()


@dataclass(frozen=True)
class PolicyResult:
    due: list[Notification]                 # not yet in the outbox: enqueue these
    current: list[Notification] | None      # the latest applicable messages; None = not acting now
    next_action_at: datetime | None         # when the sweep must look at the case again
    standing: Standing | None = None
    skipped_steps: list[str] = field(default_factory=list)  # older steps coalesced away (for logs/tests)


# ----------------------------------------------------------------------------- calendar helpers

def local_today(settings: Settings, now: datetime) -> date:
    return now.astimezone(settings.bureau.tz).date()


def working_day_on_or_before(calendar: WorkCalendar, d: date) -> date:
    while not calendar.is_working_day(d):
        d -= timedelta(days=1)
    return d


def step_day(calendar: WorkCalendar, due: date, n: int) -> date:
    """The working day `n` working days before the deadline (n=0: the last working day on or before it).

    Two table look-ups instead of a walk back day by day: counted from an anchor well before (even
    the Spring Festival leaves more than one working day a week), it is the working day whose count
    is the deadline's count minus n."""
    anchor = due - timedelta(days=7 * n + 60)
    count = calendar.working_days_between(anchor, due)  # working days in (anchor, due]
    if count <= n:  # pragma: no cover - a calendar with almost no working days
        d = working_day_on_or_before(calendar, due)
        for _ in range(n):
            d = working_day_on_or_before(calendar, d - timedelta(days=1))
        return d
    return calendar.add_working_days(anchor, count - n)


def target_of(case: Case | SweepCase) -> Target | None:
    """The deadline that runs for this case now, or None when nobody has to be reminded."""
    if case.status in OPEN_STATUSES and case.due_on is not None:
        return Target(TARGET_REPORT, case.due_on, case.due_provisional)
    if (
        case.status == CaseStatus.PENDING_FEEDBACK
        and case.source == Source.EVALUATION
        and case.feedback_sent_on is None
        and case.feedback_due_on is not None
    ):
        return Target(TARGET_FEEDBACK, case.feedback_due_on, case.feedback_due_provisional)
    return None


def standing_of(target: Target, today: date, calendar: WorkCalendar, levels: Sequence[int]) -> Standing:
    light, left, wd_over = traffic_light(target.due, today, calendar)
    if light is Light.RED:
        level = 2 if wd_over >= levels[1] else 1 if wd_over >= levels[0] else 0
        return Standing(target, today, True, 0, wd_over, level, light)
    return Standing(target, today, False, left, 0, 0, light)


def case_standing(case: Case, today: date, calendar: WorkCalendar, settings: Settings) -> Standing | None:
    target = target_of(case)
    return standing_of(target, today, calendar, settings.escalation.levels) if target else None


def _eligible(settings: Settings, calendar: WorkCalendar, d: date) -> bool:
    return not settings.reminders.working_days_only or calendar.is_working_day(d)


def _acting(settings: Settings, calendar: WorkCalendar, now: datetime) -> bool:
    """Messages produced now would go out today: an eligible day, before the window closes."""
    local = now.astimezone(settings.bureau.tz)
    _start, end = settings.reminders.window
    return _eligible(settings, calendar, local.date()) and local.time().replace(tzinfo=None) < end


def _midnight(settings: Settings, d: date) -> datetime:
    return datetime.combine(d, time(0, 0), tzinfo=settings.bureau.tz)


def _next_eligible(settings: Settings, calendar: WorkCalendar, after: date) -> date:
    d = after + timedelta(days=1)
    for _ in range(400):
        if _eligible(settings, calendar, d):
            return d
        d += timedelta(days=1)
    return d  # pragma: no cover


def key(case_id: int, kind: str, target: str, step: int, due: date, person_id: int) -> str:
    return f"case:{case_id}:{kind}:{target}:{step}:{due.isoformat()}:p{person_id}"


# ----------------------------------------------------------------------------- the policy

@dataclass(frozen=True)
class _Schedule:
    """Everything the policy decides from a running deadline and the moment alone, whatever the case:
    computed once per distinct deadline and sweep (`policy(cache=…)`), since a sweep's due cases
    share few deadlines (issue 14: the sweep's cost per due case)."""

    standing: Standing
    kind: Kind | None             # REMINDER or OVERDUE when a series message applies now
    step: int
    skipped: tuple[str, ...]
    payload: Mapping[str, Any]    # the series message's payload without the case's own fields
    esc_payload: Mapping[str, Any]
    acting: bool
    next_acting: datetime | None    # next_action_at when acting
    next_waiting: datetime | None   # … when not acting and something is still unsent
    next_idle: datetime | None      # … when not acting and everything was sent


def _schedule(target: Target, now: datetime, calendar: WorkCalendar, settings: Settings) -> _Schedule:
    today = local_today(settings, now)
    levels = settings.escalation.levels
    st = standing_of(target, today, calendar, levels)
    steps = sorted(settings.reminders.before_due_working_days, reverse=True)  # e.g. [10, 3, 1, 0]
    every = settings.reminders.overdue_every_working_days
    due = target.due
    base = {"target": target.name, "due": due.isoformat(), "provisional": target.provisional}
    day = today.isoformat()
    days = {n: step_day(calendar, due, n) for n in steps}
    kind: Kind | None = None
    step = 0
    skipped: list[str] = []
    payload: dict[str, Any] = {}
    esc_payload: dict[str, Any] = {}
    if not st.overdue:
        applicable = [n for n in steps if days[n] <= today]
        if applicable:
            kind, step = Kind.REMINDER, min(applicable)
            skipped = [f"{Kind.REMINDER}:{m}" for m in applicable if m != step]
            payload = {**base, "step": step, "days_left": st.working_days_left, "for_day": day,
                       "expires_at": iso(due_end(due, settings.bureau.tz))}
    elif st.working_days_overdue >= 1:
        wd = st.working_days_overdue
        kind, step = Kind.OVERDUE, (wd - 1) // every
        skipped = [f"{Kind.OVERDUE}:{k}" for k in range(step)]
        payload = {**base, "step": step, "working_days_overdue": wd, "for_day": day, "level": st.level}
        esc_payload = {**base, "working_days_overdue": wd, "for_day": day}

    # The next day anything new can happen: a later reminder step, the next overdue step, a level.
    events: list[date] = [d for d in days.values() if d > today]
    wd_now = st.working_days_overdue
    next_overdue_wd = 1 if wd_now < 1 else 1 + ((wd_now - 1) // every + 1) * every
    events.append(calendar.add_working_days(due, next_overdue_wd))
    events += [calendar.add_working_days(due, lv) for lv in levels if lv > wd_now]
    events = [d for d in events if d > today]
    first = min(events) if events else None
    waiting = min([*events, _next_eligible(settings, calendar, today)])
    return _Schedule(
        standing=st, kind=kind, step=step, skipped=tuple(skipped), payload=payload, esc_payload=esc_payload,
        acting=_acting(settings, calendar, now), next_acting=_midnight(settings, first) if first else None,
        next_waiting=_midnight(settings, waiting), next_idle=_midnight(settings, first) if first else None,
    )


def policy(
    case: Case | SweepCase,
    *,
    calendar: WorkCalendar,
    now: datetime,
    sent: frozenset[str] | set[str],
    settings: Settings,
    recipients: Recipients,
    cache: dict[Any, Any] | None = None,
) -> PolicyResult:
    """The notifications due for `case` at `now` (pure: no I/O, no clock of its own).

    `sent` holds every key already in the outbox for this case (whatever its state); the result's
    `due` excludes them, `current` lists the latest applicable messages so the sweep can drop older
    pending ones, `next_action_at` says when anything could change next. `cache` (one per sweep, or
    any calls with the same settings and calendar) keeps the per-deadline part between calls.
    """
    target = target_of(case)
    if target is None:
        return PolicyResult(due=[], current=[], next_action_at=None)
    ident = (target, now)
    plan: _Schedule | None = cache.get(ident) if cache is not None else None
    if plan is None:
        plan = _schedule(target, now, calendar, settings)
        if cache is not None:
            cache[ident] = plan
    st = plan.standing
    due = target.due
    feedback = target.name == TARGET_FEEDBACK
    series_to = recipients.supervisors if feedback else recipients.liaisons

    current: list[Notification] = []
    if plan.kind is not None:
        payload = {"case_id": case.id, **plan.payload}
        stem = key(case.id, plan.kind, target.name, plan.step, due, 0)[:-1]  # the key without the person
        if plan.kind is Kind.REMINDER:
            current += [Notification(f"{stem}{p}", p, Kind.REMINDER, payload, now, case.id) for p in series_to]
        else:
            current += [Notification(f"{stem}{p}", p, Kind.OVERDUE, payload, now, case.id) for p in series_to]
    if plan.kind is Kind.OVERDUE:
        esc_payload = {"case_id": case.id, **plan.esc_payload}
        if st.level >= 1 and not feedback:
            level1 = {**esc_payload, "level": 1, "step": 1}
            stem = key(case.id, Kind.ESCALATION, target.name, 1, due, 0)[:-1]
            current += [Notification(f"{stem}{p}", p, Kind.ESCALATION, level1, now, case.id)
                        for p in recipients.supervisors]
        if st.level >= 2:
            level2 = {**esc_payload, "level": 2, "step": 2}
            stem = key(case.id, Kind.ESCALATION, target.name, 2, due, 0)[:-1]
            current += [Notification(f"{stem}{p}", p, Kind.ESCALATION, level2, now, case.id)
                        for p in recipients.admins]

    if plan.acting:
        new = [n for n in current if n.key not in sent]
        return PolicyResult(due=new, current=current, standing=st, skipped_steps=list(plan.skipped),
                            next_action_at=plan.next_acting)
    # Not a sending day, or the window has closed: look again on the next day messages can go out.
    pending_now = any(n.key not in sent for n in current)
    return PolicyResult(due=[], current=None, standing=st,
                        next_action_at=plan.next_waiting if pending_now else plan.next_idle)


_ANYONE = Recipients(liaisons=(0,), supervisors=(0,), admins=(0,))


def first_action_at(new: NewCase, *, calendar: WorkCalendar, now: datetime, settings: Settings,
                    cache: dict[tuple[Any, ...], datetime | None] | None = None) -> datetime | None:
    """When the sweep must first look at a case about to be inserted in bulk (a ledger import): `now`
    when a reminder, overdue notice or escalation is due already, else the day the policy would plan,
    so importing a ledger does not make every imported case due at once (issue 14). The answer depends
    only on the running deadline, so `cache` (one per import, same `now`) computes it once per deadline."""
    ident = (new.status, new.source, new.feedback_sent_on is None, new.due_on, new.due_provisional,
             new.feedback_due_on, new.feedback_due_provisional)
    if cache is not None and ident in cache:
        return cache[ident]
    probe = Case(**{f.name: getattr(new, f.name) for f in fields(NewCase)}, id=0, department_name="")
    result = policy(probe, calendar=calendar, now=now, sent=frozenset(), settings=settings, recipients=_ANYONE)
    at = now if result.current else result.next_action_at
    if cache is not None:
        cache[ident] = at
    return at

# ----------------------------------------------------------------------------- wording

def _provisional_line(t: Translator, payload: Mapping[str, Any]) -> list[str]:
    if not payload.get("provisional"):
        return []
    return [t._("⚠️ This deadline is provisional (暂定): next year's official holiday schedule is not "
                "published yet, so it may still move.")]


def case_heading(t: Translator, case: Case | None, case_id: int | None) -> list[str]:
    """Case number always; department and project only for non-confidential cases."""
    lines = [case_label(t, case.id if case else int(case_id or 0))]
    if case is None:
        return lines
    if case.confidential:
        lines.append(t._("Confidential matter (涉密): details through official channels only."))
    else:
        lines.append(t._("Department: {name}").format(name=case.department_name))
        lines.append(t._("Project: {project}").format(project=case.project))
    return lines


async def _load(db: Database, payload: Mapping[str, Any]) -> Case | None:
    case_id = payload.get("case_id")
    return await cases_repo.get_case(db, int(case_id)) if case_id is not None else None


def _due(t: Translator, payload: Mapping[str, Any]) -> str:
    return format_deadline(date.fromisoformat(str(payload["due"])), bool(payload.get("provisional")), t)


def _reply_hint(t: Translator, payload: Mapping[str, Any]) -> list[str]:
    if payload.get("target") == TARGET_FEEDBACK:
        return []
    return [t._("Reply to this message (text or files) to report on this case's rectification.")]


def _time_left(t: Translator, payload: Mapping[str, Any]) -> str:
    """How a reminder says the time left (the same words in the single message and in a list)."""
    days_left = int(payload.get("days_left", 0))
    due_d = date.fromisoformat(str(payload["due"]))
    for_day = date.fromisoformat(str(payload.get("for_day", payload["due"])))
    if for_day == due_d:
        return t._("Today is the last day: the deadline ends today at 24:00.")
    if days_left == 0:
        return (t._("Today is the last working day before the deadline, which ends at 24:00 on {due}.")
                .format(due=_due(t, payload)))
    return t.ngettext("{n} working day left.", "{n} working days left.", days_left).format(n=days_left)


def _overdue_by(t: Translator, payload: Mapping[str, Any]) -> str:
    wd = int(payload.get("working_days_overdue", 1))
    return t.ngettext("Overdue by {n} working day.", "Overdue by {n} working days.", wd).format(n=wd)


async def render_reminder(db: Database, t: Translator, payload: Mapping[str, Any]) -> Rendered:
    case = await _load(db, payload)
    feedback = payload.get("target") == TARGET_FEEDBACK
    if feedback:
        title = t._("⏰ Reminder: the finance bureau's feedback for this evaluation is due.")
        what = t._("Feedback deadline (1 month after the evaluation ended): {due}")
    else:
        title = t._("⏰ Reminder: the rectification report for this case is due soon.")
        what = t._("Report deadline: {due}")
    lines = [title, *case_heading(t, case, payload.get("case_id")), what.format(due=_due(t, payload)),
             _time_left(t, payload)]
    lines += _provisional_line(t, payload)
    lines += _reply_hint(t, payload)
    return Rendered("\n".join(lines))


async def render_overdue(db: Database, t: Translator, payload: Mapping[str, Any]) -> Rendered:
    case = await _load(db, payload)
    if payload.get("target") == TARGET_FEEDBACK:
        title = t._("🔴 Overdue: the finance bureau's feedback for this evaluation has not been sent.")
        what = t._("Feedback deadline: {due}")
    else:
        title = t._("🔴 Reminder (art. 12 of the measures): the rectification report for this case is overdue.")
        what = t._("Report deadline: {due}")
    lines = [title, *case_heading(t, case, payload.get("case_id")), what.format(due=_due(t, payload)),
             _overdue_by(t, payload)]
    if payload.get("target") != TARGET_FEEDBACK:
        lines.append(t._("Please submit the rectification report as soon as possible, or ask for an extension "
                         "with the reason."))
    lines += _provisional_line(t, payload)
    lines += _reply_hint(t, payload)
    return Rendered("\n".join(lines))


async def render_escalation(db: Database, t: Translator, payload: Mapping[str, Any]) -> Rendered:
    case = await _load(db, payload)
    level = int(payload.get("level", 1))
    if level >= 2:
        title = t._("🚨 Escalation level 2 — non-compliance risk (拒不整改风险)")
    else:
        title = t._("📣 Escalation: a case has gone overdue")
    what = (t._("Feedback deadline: {due}") if payload.get("target") == TARGET_FEEDBACK
            else t._("Report deadline: {due}"))
    lines = [title, *case_heading(t, case, payload.get("case_id")), what.format(due=_due(t, payload)),
             _overdue_by(t, payload)]
    lines += _provisional_line(t, payload)
    buttons = [[(t._("Overdue list"), DIGEST.build("overdue"))]]
    return Rendered("\n".join(lines), buttons)


# ----------------------------------------------------------------------------- one message, many cases

# Issue 14: a person's rows of one kind from one sweep go out as one message listing them (delivery
# groups them; a single row still uses the renderers above). A list is paged with bot.paging, each
# case with its button; ◀ ▶ (pg:nt:N) re-renders the page from the rows that message carried.

def _deadline_label(t: Translator, payload: Mapping[str, Any]) -> str:
    what = (t._("Feedback deadline: {due}") if payload.get("target") == TARGET_FEEDBACK
            else t._("Report deadline: {due}"))
    return what.format(due=_due(t, payload))


def _list_order(payload: Mapping[str, Any]) -> tuple[int, str, int]:
    """Highest level first, then the earliest deadline, then the case number."""
    return (-int(payload.get("level", 0)), str(payload.get("due", "")), int(payload.get("case_id") or 0))


async def _list_page(
    db: Database, t: Translator, payloads: Sequence[Mapping[str, Any]], number: int, *, header: str,
    item_lines: Any, footer: Sequence[str] = (), sections: Any = None,
    extra_buttons: Sequence[list[tuple[str, str]]] = (),
) -> Rendered:
    """One page of a list notice: the header (with the count), the page's cases numbered across
    pages, each with its button opening the case, the footer, the page line and ◀ ▶."""
    ordered = sorted(payloads, key=_list_order)
    pg = paging.page(ordered, number)
    start = (pg.number - 1) * paging.PAGE_SIZE
    lines = [header]
    buttons: list[tuple[str, str]] = []
    section = None
    for i, payload in enumerate(pg.items, start + 1):
        case_id = int(payload.get("case_id") or 0)
        if sections is not None and sections(payload) != section:
            section = sections(payload)
            lines += ["", section]
        elif i == start + 1:
            lines.append("")
        case = await cases_repo.get_case(db, case_id) if case_id else None
        title = case_title(t, case) if case is not None else case_label(t, case_id)
        lines.append(f"{i}. {title}")
        lines += [f"    {line}" for line in item_lines(case, payload)]
        buttons.append((t._("Open #{id}").format(id=case_id), OPEN_CASE.build("o", case_id)))
    if any(p.get("provisional") for p in pg.items):
        lines += ["", t._("⚠️ A deadline marked provisional (暂定) may still move: next year's official holiday "
                          "schedule is not published yet.")]
    if footer:
        lines += ["", *footer]
    rows = [buttons[i:i + 2] for i in range(0, len(buttons), 2)] + [list(r) for r in extra_buttons]
    return Rendered(paging.with_page_line(t, "\n".join(lines), pg),
                    paging.with_nav(t, rows, pg, lambda n: PAGE.build("nt", n)))


async def render_reminder_list(db: Database, t: Translator, payloads: Sequence[Mapping[str, Any]],
                               number: int = 1) -> Rendered:
    """Several due reminders for one person in one message: the count, then each case's deadline."""
    n = len(payloads)
    if all(p.get("target") == TARGET_FEEDBACK for p in payloads):
        header = t.ngettext("⏰ Reminder: the finance bureau's feedback is due soon for {n} evaluation.",
                            "⏰ Reminder: the finance bureau's feedback is due soon for {n} evaluations.", n)
    else:
        header = t.ngettext("⏰ Reminder: the rectification report for {n} case is due soon.",
                            "⏰ Reminder: the rectification reports for {n} cases are due soon.", n)
    return await _list_page(
        db, t, payloads, number, header=header.format(n=n),
        item_lines=lambda case, p: [_deadline_label(t, p), _time_left(t, p)],
        footer=[t._("Tap a case below to open it and report on it.")])


async def render_overdue_list(db: Database, t: Translator, payloads: Sequence[Mapping[str, Any]],
                              number: int = 1) -> Rendered:
    """Several overdue notices for one person in one message."""
    n = len(payloads)
    footer: list[str] = []
    if all(p.get("target") == TARGET_FEEDBACK for p in payloads):
        header = t.ngettext("🔴 Overdue: the finance bureau's feedback for {n} evaluation has not been sent.",
                            "🔴 Overdue: the finance bureau's feedback for {n} evaluations has not been sent.", n)
    else:
        header = t.ngettext(
            "🔴 Reminder (art. 12 of the measures): the rectification report for {n} case is overdue.",
            "🔴 Reminder (art. 12 of the measures): the rectification reports for {n} cases are overdue.", n)
        footer = [t._("Please submit the rectification report as soon as possible, or ask for an extension "
                      "with the reason."), t._("Tap a case below to open it and report on it.")]
    return await _list_page(
        db, t, payloads, number, header=header.format(n=n),
        item_lines=lambda case, p: [_deadline_label(t, p), _overdue_by(t, p)], footer=footer)


def _department_line(t: Translator, case: Case | None) -> list[str]:
    if case is None or case.confidential:
        return []
    return [t._("Department: {name}").format(name=case.department_name)]


async def render_escalation_list(db: Database, t: Translator, payloads: Sequence[Mapping[str, Any]],
                                 number: int = 1) -> Rendered:
    """One escalation message per person and sweep: the newly escalated cases grouped by level."""
    n = len(payloads)
    per_level: dict[int, int] = {}
    for p in payloads:
        level = 2 if int(p.get("level", 1)) >= 2 else 1
        per_level[level] = per_level.get(level, 0) + 1

    def section(p: Mapping[str, Any]) -> str:
        if int(p.get("level", 1)) >= 2:
            return t._("🚨 Escalation level 2 — non-compliance risk (拒不整改风险): {n}").format(n=per_level[2])
        return t._("📣 Escalation level 1 (overdue): {n}").format(n=per_level[1])

    header = t.ngettext("📣 Escalation: {n} case has gone overdue.", "📣 Escalation: {n} cases have gone overdue.",
                        n).format(n=n)
    return await _list_page(
        db, t, payloads, number, header=header, sections=section,
        item_lines=lambda case, p: [*_department_line(t, case), _deadline_label(t, p), _overdue_by(t, p)],
        extra_buttons=[[(t._("Overdue list"), DIGEST.build("overdue"))]])


async def notice_rows(db: Database, person: Person, message_id: int) -> list[OutboxRow]:
    """The reminder rows one message in this person's chat carried, whose cases they may still see
    (button data and replies are user input: authorised again on every press)."""
    found = [r for r in await outbox_repo.rows_for_message(db, person.id, message_id)
             if r.kind in REPLYABLE_KINDS and r.case_id is not None]
    allowed: list[OutboxRow] = []
    for row in found:
        case = await cases_repo.get_case(db, int(row.case_id or 0))
        if case is not None and may_view(person, case):
            allowed.append(row)
    return allowed


async def notice_page(db: Database, registry: RendererRegistry, t: Translator, person: Person, message_id: int,
                      number: int) -> Rendered | None:
    """Page `number` of a list notice (◀ ▶ on it), recomputed for whoever pressed; None when the
    message is not a list notice of theirs."""
    found = await notice_rows(db, person, message_id)
    if len(found) < 2:
        return None
    render = registry.group(found[0].kind)
    if render is None:
        return None
    return await render(db, t, [r.payload for r in found if r.kind == found[0].kind], number)


def reply_chooser(t: Translator, person: Person, message_id: int, rows: Sequence[OutboxRow],
                  number: int) -> Rendered:
    """A reply to a message that lists several cases: which case is it about? Each case's button
    opens it (a liaison: starts its report), paged like every list (pg:nr:MESSAGE:N)."""
    case_ids = sorted({int(r.case_id or 0) for r in rows})
    pg = paging.page(case_ids, number)
    text = t.ngettext("That message lists {n} case, so I cannot tell which one your reply is about.",
                      "That message lists {n} cases, so I cannot tell which one your reply is about.",
                      len(case_ids)).format(n=len(case_ids))
    if person.role == "liaison":  # rp:c:CASE (the report journey's codec) starts that case's report
        text += "\n" + t._("Your reply was not recorded. Tap the case it is about to start its report, "
                           "then send your text or files again.")
        buttons = [(t._("Report on #{id}").format(id=c), REPORT.build("c", c)) for c in pg.items]
    else:
        text += "\n" + t._("Your reply was not recorded. Tap a case to open it.")
        buttons = [(t._("Open #{id}").format(id=c), OPEN_CASE.build("o", c)) for c in pg.items]
    rows_ = [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
    return Rendered(paging.with_page_line(t, text, pg),
                    paging.with_nav(t, rows_, pg, lambda n: PAGE.build("nr", message_id, n)))


# ----------------------------------------------------------------------------- replies to reminders

REPLYABLE_KINDS = (Kind.REMINDER, Kind.OVERDUE, Kind.ESCALATION)


@dataclass(frozen=True)
class ReminderReply:
    """A message a person sent in reply to a reminder: what the report feature takes over."""

    person_id: int
    case_id: int
    outbox_id: int
    kind: str
    text: str
    file_name: str | None = None
    mime_type: str | None = None
    file_size: int | None = None
    telegram_file_id: str | None = None


async def record_progress_note(db: Database, person: Person, reply: ReminderReply, *, now: datetime) -> int:
    """Store a reply to a reminder as a progress note on the case (audited); returns the note id.

    Authorized again here: the reminder must have been addressed to this person, and a liaison
    must still belong to the case's department.
    """
    row = await outbox_repo.get_row(db, reply.outbox_id)
    case = await cases_repo.get_case(db, reply.case_id)
    if row is None or case is None or row.person_id != person.id or row.case_id != case.id:
        raise NotAuthorized(N_("Sorry, this is not available for your role."))
    if person.role == "liaison" and person.department_id != case.department_id:
        raise NotAuthorized(N_("Sorry, this is not available for your role."))
    async with db.transaction() as conn:
        note_id = await outbox_repo.insert_note(
            conn, case_id=case.id, author_id=person.id, outbox_id=row.id, text=reply.text,
            file_name=reply.file_name, mime_type=reply.mime_type, file_size=reply.file_size,
            telegram_file_id=reply.telegram_file_id, now=now,
        )
        await audit(conn, actor=f"person:{person.id}", action="case.progress_note", entity="case",
                    entity_id=case.id, after={"note_id": note_id, "text": reply.text[:500],
                                              "file_name": reply.file_name}, at=now)
    return note_id


# How the audit action written here reads in a case's history (/case); merged in bot/bootstrap.py.
HISTORY_LABELS: Mapping[str, str] = {"case.progress_note": N_("added a progress note (a reply to a reminder)")}
