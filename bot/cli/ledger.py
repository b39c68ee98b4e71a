"""`rectbot import FILE [--skip-invalid]` and `rectbot export -o ledger.xlsx`."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

from bot.cli.common import SubParsers, T, fail, now, os_reason, with_db
from bot.ledger import apply_import, describe_plan, describe_result, export_ledger, plan_import, read_table
from bot.schedules import build_calendar
from bot.settings import Settings
from storage.db import Database


def add_commands(sub: SubParsers) -> None:
    """Register import and export on the top-level sub-parsers."""
    imp = sub.add_parser("import", help=T._("import the rectification ledger (整改台账) from .xlsx or .csv"))
    imp.add_argument("file", type=Path, metavar=T._("FILE"))
    imp.add_argument("--skip-invalid", action="store_true",
                     help=T._("import the good rows even when some rows have problems"))
    imp.set_defaults(func=cmd_import)
    exp = sub.add_parser("export", help=T._("export the ledger as .xlsx (or .csv)"))
    exp.add_argument("-o", "--output", type=Path, required=True, metavar=T._("FILE"),
                     help=T._("ledger.xlsx or ledger.csv"))
    exp.set_defaults(func=cmd_export)


def _today(settings: Settings) -> date:
    return now(settings).astimezone(settings.bureau.tz).date()


@with_db
async def cmd_import(args: argparse.Namespace, settings: Settings, db: Database) -> int:
    path: Path = args.file
    try:
        data = path.read_bytes()
    except OSError as exc:
        return fail(T._("Cannot read {path}: {reason}").format(path=path, reason=os_reason(exc)))
    started = time.monotonic()
    calendar = await build_calendar(db)
    table = read_table(data, path.name)
    plan = await plan_import(db, calendar, table)
    print(describe_plan(T, plan))
    if plan.bad and not args.skip_invalid:
        return fail(T._("Nothing was imported. Fix the rows above, or run again with --skip-invalid "
                        "to import only the good rows."))

    async def progress(done: int, total: int) -> None:
        if total >= 1000:
            print(T._("Imported {done}/{total} rows…").format(done=done, total=total), file=sys.stderr)

    result = await apply_import(db, calendar, plan, actor=None, now=now(settings), skip_invalid=args.skip_invalid,
                                progress=progress, settings=settings)
    print(describe_result(T, result))
    print(T._("Done in {seconds:.1f} s.").format(seconds=time.monotonic() - started), file=sys.stderr)
    return 0


@with_db
async def cmd_export(args: argparse.Namespace, settings: Settings, db: Database) -> int:
    out: Path = args.output
    fmt = "csv" if out.suffix.lower() == ".csv" else "xlsx"
    if out.suffix.lower() not in (".csv", ".xlsx"):
        return fail(T._("The output file must end in .xlsx or .csv."))
    calendar = await build_calendar(db)
    content, count = await export_ledger(db, calendar, _today(settings), fmt=fmt, levels=settings.escalation.levels,
                                         blue_working_days=settings.ladder.blue_working_days)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(content)
    except OSError as exc:
        return fail(T._("Cannot write {path}: {reason}").format(path=out, reason=os_reason(exc)))
    print(T._("Exported {n} case(s) to {path}.").format(n=count, path=out))
    return 0
