"""Sub-commands that run and administer the bot: run, config, db upgrade, backup, department, invite.

`bot.app` (and with it telegram) and the people modules are imported inside the commands that use
them, so the other sub-commands start without paying for them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from bot.cli.common import Parser, SubParsers, T, fail, now, os_reason, setup_logging, with_db
from bot.errors import StartupError
from bot.i18n import N_
from bot.logs import LOG_FORMATS
from bot.settings import Settings
from storage.db import Database


def add_commands(sub: SubParsers) -> None:
    """Register run, config, db, backup, department and invite on the top-level sub-parsers."""
    run_parser = sub.add_parser("run", help=T._("run the bot"))
    run_parser.add_argument("--log-format", choices=LOG_FORMATS, default=None, help=T._(
        "log as text lines (the default) or one JSON object per line; overrides logging.format"))
    run_parser.set_defaults(func=cmd_run)
    sub.add_parser("config", help=T._("print the effective settings (token masked)")).set_defaults(
        func=cmd_config)

    db = sub.add_parser("db", help=T._("database maintenance"))
    db_sub = db.add_subparsers(dest="db_command", required=True, parser_class=Parser,
                                      metavar=T._("COMMAND"))
    db_sub.add_parser("upgrade", help=T._("apply pending migrations")).set_defaults(func=cmd_db_upgrade)

    backup = sub.add_parser("backup", help=T._("online backup, verified with PRAGMA integrity_check"))
    backup.add_argument("path", metavar=T._("FILE"))
    backup.add_argument("--force", action="store_true", help=T._(
        "replace an existing backup file (regular files only)"))
    backup.set_defaults(func=cmd_backup)

    dept = sub.add_parser("department", help=T._("departments"))
    dept_sub = dept.add_subparsers(dest="department_command", required=True, parser_class=Parser,
                                      metavar=T._("COMMAND"))
    add = dept_sub.add_parser("add", help=T._("add a department"))
    add.add_argument("name", metavar=T._("NAME"))
    add.set_defaults(func=cmd_department_add)
    dept_sub.add_parser("list", help=T._("list departments")).set_defaults(func=cmd_department_list)

    invite = sub.add_parser("invite", help=T._("create a one-time invitation code"))
    invite.add_argument("--role", required=True, choices=["admin", "supervisor", "liaison"],
                        help=T._("admin, supervisor or liaison (liaison officer)"))
    invite.add_argument("--department", metavar=T._("DEPARTMENT"), help=T._("the liaison's department"))
    invite.add_argument("--days", type=_days, help=T._(
        "days the code stays valid, 1-365 (default invitations.valid_days)"))
    invite.set_defaults(func=cmd_invite)


def _days(text: str) -> int:
    """--days as a whole number within the bounds the domain accepts (a usage error otherwise)."""
    from bot.people import MAX_VALID_DAYS, MIN_VALID_DAYS

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(T._("not a whole number of days: {text}").format(text=text)) from None
    if not MIN_VALID_DAYS <= value <= MAX_VALID_DAYS:
        raise argparse.ArgumentTypeError(T._("an invitation is valid for {low} to {high} days, not {days}").format(
            low=MIN_VALID_DAYS, high=MAX_VALID_DAYS, days=value))
    return value


# --- commands -------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import run

    if settings.telegram.token is None:
        raise StartupError(N_("Missing setting telegram.token (set it in the config file or RECTBOT_TELEGRAM__TOKEN)."))
    check_storage(settings)
    setup_logging(settings, args.log_format)
    run(settings)
    return 0


def check_storage(settings: Settings) -> None:
    """Fail fast, before networking starts, on a bad database or an unwritable evidence folder."""

    async def probe() -> None:
        db = await Database.open(settings.storage.database)
        await db.close()

    asyncio.run(probe())
    try:
        settings.storage.files.mkdir(parents=True, exist_ok=True)
        probe_file = settings.storage.files / ".write-test"
        probe_file.write_bytes(b"")
        probe_file.unlink()
    except OSError as exc:
        raise StartupError(N_("The evidence folder {path} is not writable: {reason}"),
                           path=str(settings.storage.files), reason=os_reason(exc)) from None


def cmd_config(args: argparse.Namespace, settings: Settings) -> int:
    print(json.dumps(settings.masked(), ensure_ascii=False, indent=2))
    return 0


@with_db
async def cmd_db_upgrade(args: argparse.Namespace, settings: Settings, db: Database) -> int:
    # Database.open already applied pending migrations; report where we are.
    print(T._("Database {path} is at schema version {version}.").format(
        path=settings.storage.database, version=await db.schema_version()))
    return 0


@with_db
async def cmd_backup(args: argparse.Namespace, settings: Settings, db: Database) -> int:
    target = Path(args.path)
    if target.resolve() == settings.storage.database.resolve():
        return fail(T._("The backup must not overwrite the database itself."))
    try:
        verdict = await db.backup(target, overwrite=args.force)
    except OSError as exc:
        return fail(T._("Cannot write the backup {path}: {reason}").format(path=target,
                                                                         reason=os_reason(exc)))
    if verdict != "ok":
        return fail(T._("The backup {path} failed its integrity check: {verdict}").format(path=target, verdict=verdict))
    print(T._("Backup written to {path} and verified (integrity_check: ok).").format(path=target))
    return 0


@with_db
async def cmd_department_add(args: argparse.Namespace, settings: Settings, db: Database) -> int:
    from bot.people import add_department

    dept = await add_department(db, args.name, actor=None, now=now(settings))
    print(T._("Department added: {name}").format(name=dept.name))
    return 0


@with_db
async def cmd_department_list(args: argparse.Namespace, settings: Settings, db: Database) -> int:
    from storage.people import list_departments

    departments = await list_departments(db)
    if not departments:
        print(T._("No departments yet. Add one with: rectbot department add NAME"))
    for dept in departments:
        print(dept.name)
    return 0


@with_db
async def cmd_invite(args: argparse.Namespace, settings: Settings, db: Database) -> int:
    from bot.people import ROLE_NAMES, create_invitation

    issued = await create_invitation(
        db, role=args.role, department_name=args.department, actor=None, now=now(settings),
        valid_days=settings.invitations.valid_days if args.days is None else args.days,
    )
    who = T._(ROLE_NAMES[issued.role])
    if issued.department:
        who = T._("{department} {role}").format(department=issued.department.name, role=who)
    expires = issued.expires_at.astimezone(settings.bureau.tz).strftime("%Y-%m-%d %H:%M")
    print(T._("Invitation for {who}, single use, valid until {expires}.").format(who=who, expires=expires))
    print(T._("The person sends this to the bot: /start CODE (the code is on the last line)."))
    print(issued.code)
    return 0
