"""Sub-commands that compute a deadline, load and show holiday schedules.

    rectbot deadline START PERIOD [--strict] [--json]
    rectbot calendar load FILE.toml
    rectbot calendar show YEAR
    rectbot calendar list

Human output is in Chinese (the CLI's translator); bad input gives one line on stderr and exit 2.
START is read by the chat's parser (bot.dates, Direction.START): 明天, 上周五, 3月5日 give the same day
as /deadline in the chat on the same bureau-local day (the simulated one under testing.clock_start).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path

from bot.cli.common import Parser, SubParsers, T, fail, now, os_reason
from bot.dates import DateInputError, Direction, parse_natural_date
from bot.deadline_text import deadline_json, describe_deadline, describe_schedule, format_date, format_day
from bot.periods import Period, PeriodError, compute_deadline
from bot.settings import Settings
from bot.workcalendar import (
    MAX_SANE_YEAR,
    MIN_SANE_YEAR,
    ORIGIN_LIBRARY,
    CalendarFileError,
    WorkCalendar,
    library_schedules,
    parse_year_toml,
    provisional_holidays,
)
from storage.db import Database

# --- running with the database ------------------------------------------------------------------


def _run(settings: Settings, func: Callable[[Database | None], Awaitable[int]], *, need_db: bool) -> int:
    """Open the database when it exists (or when the command must write), run, close."""

    async def go() -> int:
        path = settings.storage.database
        if not need_db and not Path(path).exists():
            return await func(None)
        db = await Database.open(path)
        try:
            return await func(db)
        finally:
            await db.close()

    return asyncio.run(go())


async def _calendar(db: Database | None) -> WorkCalendar:
    if db is None:
        return WorkCalendar()
    from bot.schedules import build_calendar

    return await build_calendar(db)


def _today(settings: Settings) -> date:
    """The bureau-local day relative words are read against; the bot's simulated day when one is set."""
    return now(settings).astimezone(settings.bureau.tz).date()


# --- commands -----------------------------------------------------------------------------------


def cmd_deadline(args: argparse.Namespace, settings: Settings) -> int:
    try:
        start = parse_natural_date(args.start, _today(settings), direction=Direction.START)
        period = Period.parse(args.period)
    except (DateInputError, PeriodError) as exc:
        return fail(exc.render(T))

    async def go(db: Database | None) -> int:
        calendar = await _calendar(db)
        try:
            dl = compute_deadline(start, period, calendar, strict=args.strict)
        except PeriodError as exc:
            return fail(exc.render(T))
        if args.json:
            print(json.dumps(deadline_json(dl), ensure_ascii=False))
        else:
            for line in describe_deadline(dl, calendar, T, strict=args.strict, timezone=settings.bureau.timezone):
                print(line)
        return 0

    return _run(settings, go, need_db=False)


def cmd_calendar_load(args: argparse.Namespace, settings: Settings) -> int:
    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return fail(T._("File not found: {path}").format(path=path))
    except UnicodeDecodeError:
        return fail(T._("The file {path} is not UTF-8 text.").format(path=path))
    except OSError as exc:
        return fail(T._("Cannot read the file {path}: {reason}").format(path=path, reason=os_reason(exc)))
    try:
        schedule = parse_year_toml(text)
    except CalendarFileError as exc:
        lines = [T._("The calendar file {path} was refused; nothing was loaded:").format(path=path)]
        lines += ["  - " + reason for reason in exc.render_reasons(T)]
        return fail("\n".join(lines))

    async def go(db: Database | None) -> int:
        from bot.schedules import save_year

        assert db is not None
        replaced = await save_year(db, schedule, "cli")
        published = format_date(schedule.published_on, T) if schedule.published_on else T._("not given")
        print(
            T._("Loaded the {year} holiday schedule (source: {source}; published: {published}).").format(
                year=schedule.year, source=schedule.source, published=published
            )
        )
        if replaced:
            print(T._("It replaces the {year} schedule loaded earlier.").format(year=schedule.year))
        elif schedule.year in library_schedules():
            print(T._("It overrides the built-in data for {year}.").format(year=schedule.year))
        for line in describe_schedule(schedule, T):
            print(line)
        # Every stored provisional deadline is recomputed with the new schedule; people whose
        # dates moved are told through the outbox (the running bot delivers it).
        from bot.cases import recompute_provisional_deadlines
        from bot.schedules import build_calendar

        changes = await recompute_provisional_deadlines(db, await build_calendar(db), datetime.now(UTC))
        moved = sum(1 for c in changes if c.date_changed)
        print(T._("Provisional deadlines recomputed: {count}; dates changed: {moved} (the people concerned "
                  "will be told).").format(count=len(changes), moved=moved))
        return 0

    return _run(settings, go, need_db=True)


def cmd_calendar_show(args: argparse.Namespace, settings: Settings) -> int:
    year = args.year
    if not MIN_SANE_YEAR <= year <= MAX_SANE_YEAR:
        return fail(
            T._("The year {year} is out of range ({low}-{high}).").format(
                year=year, low=MIN_SANE_YEAR, high=MAX_SANE_YEAR
            )
        )

    async def go(db: Database | None) -> int:
        calendar = await _calendar(db)
        schedule = calendar.schedule(year)
        if schedule is None:
            print(
                T._(
                    "No holiday schedule for {year} has been published or loaded. Deadlines that touch {year} "
                    "are provisional: until the schedule is loaded they assume ordinary weekends plus these "
                    "statutory holiday dates:"
                ).format(year=year)
            )
            for d, name in provisional_holidays(year).items():
                print("  " + T._("{date} {name}").format(date=format_day(d, T), name=name))
            print(T._("Load the official schedule with: rectbot calendar load FILE.toml"))
            return 0
        print(T._("Holiday schedule for {year}").format(year=year))
        if schedule.origin == ORIGIN_LIBRARY:
            origin = T._("built-in data ({source})").format(source=schedule.source)
            print(T._("Source: {source}").format(source=origin))
        else:
            print(T._("Source: {source}").format(source=schedule.source))
            info = None
            if db is not None:
                from bot.schedules import loaded_info

                info = await loaded_info(db, year)
            if info:
                at = datetime.fromisoformat(info[0]).astimezone(settings.bureau.tz).strftime("%Y-%m-%d %H:%M")
                print(T._("Loaded by the bureau on {at} ({by}).").format(at=at, by=info[1] or "-"))
            else:
                print(T._("Loaded by the bureau."))
        published = format_date(schedule.published_on, T) if schedule.published_on else T._("not recorded")
        print(T._("Published: {date}").format(date=published))
        for line in describe_schedule(schedule, T):
            print(line)
        return 0

    return _run(settings, go, need_db=False)


def cmd_calendar_list(args: argparse.Namespace, settings: Settings) -> int:
    async def go(db: Database | None) -> int:
        calendar = await _calendar(db)
        years = calendar.known_years()
        library = [y for y in years if calendar.schedule(y).origin == ORIGIN_LIBRARY]  # type: ignore[union-attr]
        loaded = [y for y in years if y not in library]
        if library:
            print(T._("Built-in years: {first}-{last}").format(first=library[0], last=library[-1]))
        for y in loaded:
            s = calendar.schedule(y)
            assert s is not None
            print(T._("{year}: loaded ({source})").format(year=y, source=s.source))
        return 0

    return _run(settings, go, need_db=False)


def _year(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(T._("not a year: {text}").format(text=text)) from None


def add_commands(sub: SubParsers) -> None:
    """Register deadline and calendar (with load, show, list) on the top-level sub-parsers."""
    about = T._("compute a deadline (Civil Code arts. 200-204)")
    dl = sub.add_parser("deadline", help=about, description=about)
    dl.add_argument("start", metavar=T._("START"), help=T._(
        "start date (not counted), e.g. 2026-03-05, 2026年3月5日, 3月5日 or 明天; "
        "a date without a year is the latest one not after today"))
    dl.add_argument("period", metavar=T._("PERIOD"), help=T._("period, e.g. 2m, 15d, 10wd, 2个月, 10个工作日"))
    dl.add_argument("--strict", action="store_true",
                    help=T._("only statutory holidays (not weekends) move the last day"))
    dl.add_argument("--json", action="store_true", help=T._("print one JSON object"))
    dl.set_defaults(func=cmd_deadline)

    cal = sub.add_parser("calendar", help=T._("official holiday schedules"))
    cal_sub = cal.add_subparsers(dest="calendar_command", required=True, parser_class=Parser,
                                metavar=T._("COMMAND"))
    load = cal_sub.add_parser("load", help=T._("validate and store a year's schedule from a TOML file"))
    load.add_argument("file", metavar=T._("FILE"))
    load.set_defaults(func=cmd_calendar_load)
    show = cal_sub.add_parser("show", help=T._("show a year's schedule"))
    show.add_argument("year", type=_year, metavar=T._("YEAR"))
    show.set_defaults(func=cmd_calendar_show)
    cal_sub.add_parser("list", help=T._("years with a schedule")).set_defaults(func=cmd_calendar_list)
