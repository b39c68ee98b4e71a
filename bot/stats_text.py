"""How /stats reads in chat: the total, then the ranking (paged); one department's figures."""

from __future__ import annotations

import re
from datetime import date

from bot.errors import DomainError
from bot.i18n import Translator
from bot.paging import Listing, page, with_page_line
from bot.ranking import rank, ranking_line
from bot.settings import RankingSettings
from bot.stats import StatsPeriod, StatsReport, parse_period, stats_lines


def split_args(args: list[str], today: date) -> tuple[str, StatsPeriod]:
    """/stats [DEPARTMENT] [PERIOD]: the last word is the period when it reads as one (default 本月)."""
    if args:
        try:
            return " ".join(args[:-1]), parse_period(args[-1], today)
        except DomainError:
            if re.search(r"\d", args[-1]):  # meant as a date, a month or a year, but unreadable: say so
                raise
    return " ".join(args), parse_period("本月", today)


def overall_page(t: Translator, report: StatsReport, weights: RankingSettings, number: int) -> Listing:
    ranked = rank(report.departments, weights)
    p = page(ranked, number)
    lines = [t._("📈 Statistics for {period} (as of {date})").format(period=report.period.label(t),
                                                                    date=report.as_of.isoformat()),
             t._("All departments:"), *("  " + line for line in stats_lines(t, report.total)), "",
             t._("Ranking (score out of 100):"), *(ranking_line(t, r) for r in p.items), "",
             t._("Send /stats DEPARTMENT for one department; add 本季度, 本年 or 2026-01-01..2026-06-30 for "
                 "another period.")]
    return Listing(with_page_line(t, "\n".join(lines), p), p)


def department_text(t: Translator, report: StatsReport) -> str:
    d = report.departments[0] if report.departments else report.total
    lines = [t._("📈 {name}: statistics for {period} (as of {date})").format(
        name=d.name, period=report.period.label(t), date=report.as_of.isoformat()), *stats_lines(t, d)]
    return "\n".join(lines)
