"""The weekly bulletin (通报, issue 11, arts. 26–29): the ranking with its moves, praise, who must explain.

The bulletin of ISO week W covers the year to date up to the Sunday before W (the bulletin of
2026-W01, issued Monday 29 December 2025, covers 2025-01-01..2025-12-28). It is computed from
bot.stats and bot.ranking, stored when issued (storage/bulletins.py) so it can be shown again
unchanged, and compared with the previous stored one for the moves (↑2, ↓1, 新). The chart is
bot.chart's bar chart of 按期整改率; the same table goes out as an XLSX sheet.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import Any

from bot import chart, ranking, stats
from bot.clock import iso
from bot.errors import DomainError
from bot.i18n import N_, Translator
from bot.settings import Settings
from bot.sheets import XlsxSheet
from bot.stats import StatsPeriod
from bot.workcalendar import WorkCalendar
from storage import bulletins as repo
from storage.db import Database

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
    explain: list[str]     # art. 29: the bottom ranking.explain_bottom departments

    def to_payload(self) -> dict[str, Any]:
        return {"week": self.week, "start": self.period.start.isoformat(), "end": self.period.end.isoformat(),
                "lines": [asdict(line) for line in self.lines], "praised": self.praised, "explain": self.explain}

    @classmethod
    def from_payload(cls, p: Mapping[str, Any]) -> Bulletin:
        return cls(str(p["week"]), StatsPeriod(date.fromisoformat(p["start"]), date.fromisoformat(p["end"])),
                   [Line(**line) for line in p["lines"]], list(p["praised"]), list(p["explain"]))


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
    praised = [r.stats.name for r in ranked if r.rank is not None and r.rank <= PRAISED]
    explain = [r.stats.name for r in ranking.bottom(ranked, settings.ranking.explain_bottom)]
    return Bulletin(week, period, lines, praised, explain)


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


def chart_png(t: Translator, settings: Settings, b: Bulletin) -> bytes:
    bars = [chart.Bar(line.name, Fraction(line.on_time, line.due) if line.due else None) for line in b.lines]
    return chart.bar_chart(chart_title(t, settings), chart_subtitle(t, b), bars, t._("On-time rate (%)"))


def chart_title(t: Translator, settings: Settings) -> str:
    return t._("{bureau}: on-time rectification rate by department").format(bureau=settings.bureau.name)


def chart_subtitle(t: Translator, b: Bulletin) -> str:
    return t._("Bulletin {week} · {period}").format(week=b.week, period=b.period.label(t))


def render_text(t: Translator, settings: Settings, b: Bulletin) -> str:
    lines = [t._("📢 Weekly bulletin {week} ({period})").format(week=b.week, period=b.period.label(t)), "",
             t._("Ranking:")]
    for line in b.lines:
        if line.rank is None:
            lines.append(t._("— {name}: not ranked ({due} report(s) due)").format(name=line.name, due=line.due))
        else:
            lines.append(t._("{rank}. {name} {move}: {score} points · on time {rate} · overdue {overdue}").format(
                rank=line.rank, name=line.name, move=line.move, score=line.score, rate=line.rate,
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
        sheet.row([line.rank if line.rank is not None else "—", line.name, line.score, line.rate, line.due,
                   line.on_time, line.overdue, line.overdue_working_days, line.returned, line.move])
    return sheet.to_bytes()
