"""`rectbot stats [--period P] [--department D] [--explain]`: the statistics and ranking of a period."""

from __future__ import annotations

import argparse

from bot import ranking, stats
from bot.cli.common import SubParsers, T, now, with_db
from bot.people import find_department
from bot.schedules import build_calendar
from bot.settings import Settings
from storage.db import Database


def add_commands(sub: SubParsers) -> None:
    st = sub.add_parser("stats", help="statistics and ranking of a period (统计与排名)")
    st.add_argument("--period", default="本月",
                    help="本月, 本季度, 本年, 上月, 上季度, 去年, 2026, 2026-03 or 2026-01-01..2026-06-30")
    st.add_argument("--department", help="one department only")
    st.add_argument("--explain", action="store_true", help="print how every figure and the score are computed")
    st.set_defaults(func=cmd_stats)


def _row(cells: list[str]) -> str:
    return "\t".join(cells)


@with_db
async def cmd_stats(args: argparse.Namespace, settings: Settings, db: Database) -> int:
    today = now(settings).astimezone(settings.bureau.tz).date()
    period = stats.parse_period(args.period, today)
    department_id = (await find_department(db, args.department)).id if args.department else None
    calendar = await build_calendar(db)
    report = await stats.compute(db, calendar, settings, period, today, department_id=department_id)
    if args.explain:
        print(stats.explain(T))
        print(ranking.explain(T, settings.ranking))
        print()
    print(T._("Statistics for {period} (as of {date})").format(period=period.label(T), date=report.as_of.isoformat()))
    print(_row([T._("Rank"), T._("Department"), T._("Score"), T._("Cases registered"), T._("Reports due"),
                T._("On time"), T._("On-time rate"), T._("Overdue cases"), T._("Overdue working days"),
                T._("Closed"), T._("Closing rate"), T._("Returned"), T._("Refused"), T._("Inadequate"),
                T._("Falsely reported"), T._("Average working days to report")]))
    for r in ranking.rank(report.departments, settings.ranking):
        print(_row([str(r.rank) if r.rank is not None else "—", r.stats.name, ranking.points(r.score),
                    *_figures(r.stats)]))
    print(_row(["", T._("Total"), "", *_figures(report.total)]))
    return 0


def _figures(s: stats.DepartmentStats) -> list[str]:
    return [str(s.registered), str(s.due), str(s.on_time), stats.percent(s.on_time_rate), str(s.overdue),
            str(s.overdue_working_days), str(s.closed), stats.percent(s.close_rate), str(s.returned), str(s.refused),
            str(s.inadequate), str(s.falsely_reported), stats.number(s.average_days)]
