"""`rectbot bulletin [--week 2026-W49] [-o bulletin.png] [--xlsx FILE]`: the weekly bulletin from the CLI.

A week whose bulletin was issued shows it as issued; any other week is computed now (and not stored).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bot import bulletin
from bot.cli.common import SubParsers, T, fail, now, with_db
from bot.schedules import build_calendar
from bot.settings import Settings
from storage.db import Database


def add_commands(sub: SubParsers) -> None:
    b = sub.add_parser("bulletin", help="the weekly bulletin (通报): ranking, chart, spreadsheet")
    b.add_argument("--week", help="ISO week, e.g. 2026-W49 (default: this week)")
    b.add_argument("-o", "--output", type=Path, help="write the chart (PNG) here")
    b.add_argument("--xlsx", type=Path, help="write the bulletin's sheet (XLSX) here")
    b.set_defaults(func=cmd_bulletin)


@with_db
async def cmd_bulletin(args: argparse.Namespace, settings: Settings, db: Database) -> int:
    today = now(settings).astimezone(settings.bureau.tz).date()
    monday = bulletin.parse_week(args.week) if args.week else bulletin.parse_week(bulletin.week_of(today))
    calendar = await build_calendar(db)
    b = await bulletin.stored_or_fresh(db, calendar, settings, monday)
    print(bulletin.render_text(T, b))
    for path, content in ((args.output, lambda: bulletin.chart_png(T, b)),
                          (args.xlsx, lambda: bulletin.xlsx(T, b))):
        if path is None:
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content())
        except OSError as exc:
            return fail(T._("Cannot write {path}: {reason}").format(path=path, reason=exc.strerror or str(exc)))
        print(T._("Wrote {path}.").format(path=path))
    return 0
