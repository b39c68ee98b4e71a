"""The weekly bulletin (通报, issue 11, arts. 26–29): the ranking with its moves, praise, who must explain.

The bulletin of ISO week W covers the year to date up to the Sunday before W (the bulletin of
2026-W01, issued Monday 29 December 2025, covers 2025-01-01..2025-12-28). It is computed from
bot.stats and bot.ranking, stored when issued (storage/bulletins.py) so it can be shown again
unchanged, and compared with the previous stored one for the moves (↑2, ↓1, 新). The chart is
bot.chart's bar chart of 按期整改率; the same table goes out as an XLSX sheet.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import Any

from bot import chart, ranking, stats
from bot.cases import EXPLICIT_RULE
from bot.clock import iso
from bot.domain import CaseStatus, Kind, NewCase, Notification, Source
from bot.errors import DomainError
from bot.i18n import N_, Translator
from bot.logs import log_event
from bot.notify import Rendered
from bot.services import Services
from bot.settings import Settings
from bot.sheets import XlsxSheet
from bot.stats import StatsPeriod
from bot.workcalendar import WorkCalendar
from storage import bulletins as repo
from storage import cases as cases_repo
from storage import outbox as outbox_repo
from storage import reminders as reminders_repo
from storage.db import Database, audit
from storage.outbox import enqueue

log = logging.getLogger(__name__)

BAD_WEEK = N_("I could not read the week {text}; write it like 2026-W49.")
PRAISED = 3  # 通报表扬 (art. 27): the best three ranked departments


def parse_week(text: str) -> date:
    """'2026-W49' → the Monday of that ISO week."""
    m = re.fullmatch(r"\s*(\d{4})-?[Ww](\d{1,2})\s*", text)
    try:
        if m:
            return date.fromisocalendar(int(m[1]), int(m[2]), 1)
    except ValueError:
        pass
    raise DomainError(BAD_WEEK, text=text[:20])


def week_of(d: date) -> str:
    year, week, _ = d.isocalendar()
    return f"{year}-W{week:02d}"


def period_of(monday: date) -> StatsPeriod:
    end = monday - timedelta(days=1)
    return StatsPeriod(date(end.year, 1, 1), end)


@dataclass(frozen=True)
class Line:
    """One department in a bulletin, as issued (plain values: this is what is stored)."""

    department_id: int
    name: str
    rank: int | None
    score: str             # two decimals
    rate: str              # "87.5%" or "—"
    due: int
    on_time: int
    overdue: int
    overdue_working_days: int
    returned: int
    move: str = ""         # "↑2", "↓1", "→", "新", or "" when unranked


@dataclass(frozen=True)
class Bulletin:
    week: str
    period: StatsPeriod
    lines: list[Line]
    praised: list[str]
    explain: list[str]     # art. 29: the bottom ranking.explain_bottom departments (never a praised one)
    bureau: str            # whose bulletin (the chart's title)

    def to_payload(self) -> dict[str, Any]:
        return {"week": self.week, "start": self.period.start.isoformat(), "end": self.period.end.isoformat(),
                "lines": [asdict(line) for line in self.lines], "praised": self.praised, "explain": self.explain,
                "bureau": self.bureau}

    @classmethod
    def from_payload(cls, p: Mapping[str, Any]) -> Bulletin:
        return cls(str(p["week"]), StatsPeriod(date.fromisoformat(p["start"]), date.fromisoformat(p["end"])),
                   [Line(**line) for line in p["lines"]], list(p["praised"]), list(p["explain"]), str(p["bureau"]))


def move_words(t: Translator, move: str) -> str:
    """A stored move (↑2, ↓1, →, 新) as a reader says it, in brackets; the sheet and the chart keep the symbol."""
    if not move:
        return ""
    if move == "新":
        return t._("(ranked for the first time)")
    if move == "→":
        return t._("(unchanged)")
    n = move[1:]
    return (t._("(up {n})") if move.startswith("↑") else t._("(down {n})")).format(n=n)


def _move(rank: int | None, before: int | None, known: bool) -> str:
    if rank is None:
        return ""
    if not known or before is None:
        return "新"
    if before == rank:
        return "→"
    return f"↑{before - rank}" if before > rank else f"↓{rank - before}"


async def compute(db: Database, calendar: WorkCalendar, settings: Settings, monday: date) -> Bulletin:
    """The bulletin of the week starting `monday`, fresh from the data (not stored)."""
    week = week_of(monday)
    period = period_of(monday)
    report = await stats.compute(db, calendar, settings, period, monday)
    ranked = ranking.rank(report.departments, settings.ranking)
    prev = await repo.previous(db, week)
    before = {int(line["department_id"]): line.get("rank") for line in prev["lines"]} if prev else {}
    lines = []
    for r in ranked:
        s = r.stats
        move = _move(r.rank, before.get(s.department_id), prev is not None and s.department_id in before)
        lines.append(Line(s.department_id, s.name, r.rank, ranking.points(r.score), stats.percent(s.on_time_rate),
                          s.due, s.on_time, s.overdue, s.overdue_working_days, s.returned, move))
    top, bottom = ranking.commended_and_explaining(ranked, PRAISED, settings.ranking.explain_bottom)
    return Bulletin(week, period, lines, [r.stats.name for r in top], [r.stats.name for r in bottom],
                    settings.bureau.name)


async def stored_or_fresh(db: Database, calendar: WorkCalendar, settings: Settings, monday: date) -> Bulletin:
    """The stored bulletin of that week when it was issued, else a fresh one (not stored)."""
    stored = await repo.get(db, week_of(monday))
    return Bulletin.from_payload(stored) if stored else await compute(db, calendar, settings, monday)


async def issue(db: Database, bulletin: Bulletin, now: datetime) -> bool:
    """Store the bulletin as issued; False when that week's had been issued already."""
    async with db.transaction() as conn:
        return await repo.insert(conn, bulletin.week, bulletin.period.start.isoformat(),
                                 bulletin.period.end.isoformat(), bulletin.to_payload(), iso(now))


# ----------------------------------------------------------------------------- wording


def chart_png(t: Translator, b: Bulletin) -> bytes:
    bars = [chart.Bar(line.name, Fraction(line.on_time, line.due) if line.due else None) for line in b.lines]
    return chart.bar_chart(chart_title(t, b), chart_subtitle(t, b), bars, t._("On-time rate (%)"))


def chart_title(t: Translator, b: Bulletin) -> str:
    return t._("{bureau}: on-time rectification rate by department").format(bureau=b.bureau)


def chart_subtitle(t: Translator, b: Bulletin) -> str:
    return t._("Bulletin {week} · {period}").format(week=b.week, period=b.period.label(t))


def render_text(t: Translator, b: Bulletin) -> str:
    lines = [t._("📢 Weekly bulletin {week} ({period})").format(week=b.week, period=b.period.label(t)), "",
             t._("Ranking:")]
    for line in b.lines:
        if line.rank is None:
            lines.append(t._("— {name}: not ranked ({due} report(s) due)").format(name=line.name, due=line.due))
        else:
            lines.append(t._("{rank}. {name} {move}: {score} points · on time {rate} · overdue {overdue}").format(
                rank=line.rank, name=line.name, move=move_words(t, line.move), score=line.score, rate=line.rate,
                overdue=line.overdue))
    if b.praised:
        lines += ["", t._("👏 Commended (art. 27): {names}").format(names="、".join(b.praised))]
    if b.explain:
        lines += ["", t._("⚠️ Must explain and propose improvements (art. 29): {names}").format(
            names="、".join(b.explain))]
    return "\n".join(lines)


def xlsx(t: Translator, b: Bulletin) -> bytes:
    sheet = XlsxSheet(b.week, widths=(8, 28, 10, 10, 10, 10, 10, 12, 10, 8))
    sheet.header([t._("Rank"), t._("Department"), t._("Score"), t._("On-time rate"), t._("Reports due"),
                  t._("On time"), t._("Overdue cases"), t._("Overdue working days"), t._("Returned"),
                  t._("Change")])
    for line in b.lines:
        sheet.row([line.rank if line.rank is not None else "—", line.name, sheet_number(line.score),
                   sheet_rate(line.rate), line.due, line.on_time, line.overdue, line.overdue_working_days,
                   line.returned, line.move], formats={2: "0.00", 3: "0.0%"})
    return sheet.to_bytes()


def sheet_number(text: str) -> float | str:
    """A stored score ("87.50") as a number the sheet can sort and sum; anything else ("—") stays as it is."""
    try:
        return float(text)
    except ValueError:
        return text


def sheet_rate(text: str) -> float | str:
    """A stored rate ("87.5%") as the fraction Excel shows with its percent format; "—" stays as it is."""
    if text.endswith("%"):
        number = sheet_number(text[:-1])
        if isinstance(number, float):
            return round(number / 100, 6)
    return text


# ----------------------------------------------------------------------------- issuing it every week

BULLETIN_STATE = "bulletin.last_week"


def first_working_day(calendar: WorkCalendar, monday: date) -> date | None:
    return next((d for d in (monday + timedelta(days=i) for i in range(7)) if calendar.is_working_day(d)), None)


def explain_project(week: str) -> str:
    """The art. 29 case's project: one per department and bulletin (the case key makes it unique)."""
    return f"考核排名靠后说明情况（{week}通报）"


async def issue_weekly(svc: Services) -> int:
    """On the week's first working day from escalation.digest_time: issue the bulletin once.

    In one transaction: the bulletin is stored (its week is the key, so a rerun, a restart or a
    second process stores nothing twice), the bottom ranking.explain_bottom departments each get
    one case of source 考核排名靠后 (art. 29), and the notifications are enqueued. A SIGKILL before
    the commit leaves nothing, and the next round issues it whole. Returns notifications enqueued.
    On a fresh database the first week is only recorded, as the digest does.
    """
    settings, calendar, db = svc.settings, svc.calendar, svc.db
    now = svc.now()
    today = now.astimezone(settings.bureau.tz).date()
    monday = today - timedelta(days=today.weekday())
    first = first_working_day(calendar, monday)
    if first is None or today < first or (today == first and now.astimezone(settings.bureau.tz).time()
                                          .replace(tzinfo=None) < settings.escalation.digest_at):
        return 0
    week = week_of(monday)
    last = await outbox_repo.get_job_state(db, BULLETIN_STATE)
    if last is not None and last >= week:
        return 0
    if last is None:
        async with db.transaction() as conn:
            await outbox_repo.set_job_state(conn, BULLETIN_STATE, week)
        return 0
    b = await compute(db, calendar, settings, monday)
    bureau = [*await reminders_repo.reachable_people_by_role(db, "supervisor"),
              *await reminders_repo.reachable_people_by_role(db, "admin")]
    due = calendar.add_working_days(today, settings.ranking.explain_working_days)
    explain = {line.department_id: line for line in b.lines if line.name in b.explain}
    async with db.transaction() as conn:
        if not await repo.insert(conn, week, b.period.start.isoformat(), b.period.end.isoformat(), b.to_payload(),
                                 iso(now)):
            await outbox_repo.set_job_state(conn, BULLETIN_STATE, week)
            return 0
        for line in explain.values():
            await _explain_case(conn, line, week, today, due, calendar, now)
        notes = [Notification(f"bulletin:{week}:p{p}", p, Kind.BULLETIN, {"week": week}, now) for p in bureau]
        notes += [Notification(f"bulletin:{week}:sheet:p{p}", p, Kind.BULLETIN_SHEET, {"week": week}, now)
                  for p in bureau]
        for line in b.lines:
            notes += [Notification(f"bulletin:{week}:d{line.department_id}:p{p}", p, Kind.BULLETIN_LINE,
                                   {"week": week, "department_id": line.department_id}, now)
                      for p in await reminders_repo.reachable_liaisons(conn, line.department_id)]
        count = await enqueue(conn, notes, now=now)
        await audit(conn, actor="system", action="bulletin.issue", entity="bulletin", entity_id=None,
                    after={"week": week, "explain": b.explain, "praised": b.praised}, at=now)
        await outbox_repo.set_job_state(conn, BULLETIN_STATE, week)
    svc.wake_delivery()
    log_event(log, "bulletin issued", week=week, recipients=len({n.person_id for n in notes}), messages=count,
              explain=len(explain))
    return count


async def _explain_case(conn: Any, line: Line, week: str, today: date, due: date, calendar: WorkCalendar,
                        now: datetime) -> None:
    project = explain_project(week)
    doc = f"{week}通报"
    if await cases_repo.find_by_key(conn, line.department_id, project, Source.RANKING, doc):
        return
    values = NewCase(
        department_id=line.department_id, project=project, source=Source.RANKING, grade=None,
        findings=f"在{week}整改工作通报中排名第{line.rank}名（{line.score}分，按期整改率{line.rate}）。",
        suggestions="请说明情况并提出改进措施（《办法》第二十九条）。", feedback_doc_no=doc, created_by="system",
        created_at=now, updated_at=now, status=CaseStatus.IN_PROGRESS, feedback_sent_on=today,
        feedback_received_on=today, explicit_due_on=due, due_on=due, due_provisional=calendar.is_guessed(due),
        due_rule=EXPLICIT_RULE, next_action_at=now, received_by="system", received_at=now,
    )
    case_id = await cases_repo.insert_case(conn, values)
    await audit(conn, actor="system", action="case.register", entity="case", entity_id=case_id,
                after={"source": Source.RANKING.value, "week": week, "due_on": due.isoformat()}, at=now)


async def _load(db: Database, payload: Mapping[str, Any]) -> Bulletin | None:
    stored = await repo.get(db, str(payload.get("week", "")))
    return Bulletin.from_payload(stored) if stored else None


async def render_bulletin(db: Database, t: Translator, payload: Mapping[str, Any]) -> Rendered:
    b = await _load(db, payload)
    if b is None:
        return Rendered(t._("This bulletin is no longer available."))
    # Drawing takes a few hundred ms: in a worker thread, never on the event loop (matplotlib's object
    # API keeps no global state, so a thread is safe).
    png = await asyncio.to_thread(chart_png, t, b)
    return Rendered(render_text(t, b), document=(f"通报{b.week}.png", png))


async def render_bulletin_sheet(db: Database, t: Translator, payload: Mapping[str, Any]) -> Rendered:
    b = await _load(db, payload)
    if b is None:
        return Rendered(t._("This bulletin is no longer available."))
    return Rendered(t._("The bulletin {week} as a spreadsheet.").format(week=b.week),
                    document=(f"通报{b.week}.xlsx", await asyncio.to_thread(xlsx, t, b)))


async def render_bulletin_line(db: Database, t: Translator, payload: Mapping[str, Any]) -> Rendered:
    """A liaison's own line: their rank, rate and overdue cases — never another department's figures."""
    b = await _load(db, payload)
    department_id = int(payload.get("department_id", 0))
    line = next((x for x in b.lines if x.department_id == department_id), None) if b else None
    if b is None or line is None:
        return Rendered(t._("This bulletin is no longer available."))
    lines = [t._("📢 Weekly bulletin {week} ({period})").format(week=b.week, period=b.period.label(t))]
    if line.rank is None:
        lines.append(t._("{name}: not ranked this week ({due} report(s) due).").format(name=line.name, due=line.due))
    else:
        lines.append(t._("{name}: rank {rank} of {total} {move}, {score} points, on-time rate {rate}.").format(
            name=line.name, rank=line.rank, total=sum(1 for x in b.lines if x.rank is not None),
            move=move_words(t, line.move),
            score=line.score, rate=line.rate))
    lines.append(t.ngettext("{n} case overdue.", "{n} cases overdue.", line.overdue).format(n=line.overdue)
                 if line.overdue else t._("Nothing overdue."))
    if line.name in b.praised:
        lines.append(t._("👏 Your department is commended in this bulletin (art. 27)."))
    if line.name in b.explain:
        lines.append(t._("⚠️ Your department is among the lowest ranked: please explain the situation and "
                         "propose improvements (art. 29); a case has been opened for it, see /cases."))
    return Rendered("\n".join(lines))
