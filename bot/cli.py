"""The `rectbot` command line: run the bot and administer it.

Every failure a person can cause (bad settings, bad input, a damaged database) ends with one
clear Chinese line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.errors import RectbotError, StartupError
from bot.i18n import N_, Translator, translator_for_locale
from bot.settings import Settings, load_settings
from storage.db import Database

EXIT_USAGE = 2
T: Translator = translator_for_locale("zh_CN")

Command = Callable[[argparse.Namespace, Settings], int]
AsyncCommand = Callable[[argparse.Namespace, Settings, Database], Awaitable[int]]


class RedactingFilter(logging.Filter):
    """Defence in depth: whatever a library logs, the bot token never reaches the log."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(s in message for s in self.secrets):
            for s in self.secrets:
                message = message.replace(s, "****")
            record.msg, record.args = message, None
        return True


def setup_logging(settings: Settings | None, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    secrets = []
    if settings is not None:
        if settings.telegram.token:
            secrets.append(settings.telegram.token.get_secret_value())
        if settings.webhook.secret_token:
            secrets.append(settings.webhook.secret_token.get_secret_value())
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL, and Bot API URLs contain the token.
    for noisy in ("httpx", "httpcore", "apscheduler", "telegram.ext.Updater"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def fail(message: str) -> int:
    print(message, file=sys.stderr)
    return EXIT_USAGE


def with_db(func: AsyncCommand) -> Command:
    """Open the database (migrating it), run an async command, always close."""

    def runner(args: argparse.Namespace, settings: Settings) -> int:
        async def go() -> int:
            db = await Database.open(settings.storage.database)
            try:
                return await func(args, settings, db)
            finally:
                await db.close()

        return asyncio.run(go())

    return runner


def now() -> datetime:
    return datetime.now(UTC)


# --- commands -------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import run

    if settings.telegram.token is None:
        raise StartupError(N_("Missing setting telegram.token (set it in the config file or RECTBOT_TELEGRAM__TOKEN)."))
    check_storage(settings)
    setup_logging(settings)
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
                           path=str(settings.storage.files), reason=exc.strerror or str(exc)) from None


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
        verdict = await db.backup(target)
    except OSError as exc:
        return fail(T._("Cannot write the backup {path}: {reason}").format(path=target, reason=exc.strerror))
    if verdict != "ok":
        return fail(T._("The backup {path} failed its integrity check: {verdict}").format(path=target, verdict=verdict))
    print(T._("Backup written to {path} and verified (integrity_check: ok).").format(path=target))
    return 0


@with_db
async def cmd_department_add(args: argparse.Namespace, settings: Settings, db: Database) -> int:
    from bot.people import add_department

    dept = await add_department(db, args.name, actor=None, now=now())
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
        db, role=args.role, department_name=args.department, actor=None, now=now(),
        valid_days=args.days or settings.invitations.valid_days,
    )
    who = T._(ROLE_NAMES[issued.role])
    if issued.department:
        who = T._("{department} {role}").format(department=issued.department.name, role=who)
    expires = issued.expires_at.astimezone(settings.bureau.tz).strftime("%Y-%m-%d %H:%M")
    print(T._("Invitation for {who}, single use, valid until {expires}.").format(who=who, expires=expires))
    print(T._("The person sends this to the bot: /start CODE (the code is on the last line)."))
    print(issued.code)
    return 0


# --- parser ---------------------------------------------------------------------------------


class Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line and exit code 2 (its default code)."""

    def error(self, message: str) -> Any:
        self.exit(EXIT_USAGE, f"rectbot: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="rectbot", description="rectbot — 预算绩效整改督办机器人")
    parser.add_argument("--config", type=Path, help="TOML settings file (default ./rectbot.toml)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    sub.add_parser("run", help="run the bot").set_defaults(func=cmd_run)
    sub.add_parser("config", help="print the effective settings (token masked)").set_defaults(func=cmd_config)

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True, parser_class=Parser)
    db_sub.add_parser("upgrade", help="apply pending migrations").set_defaults(func=cmd_db_upgrade)

    backup = sub.add_parser("backup", help="online backup, verified with PRAGMA integrity_check")
    backup.add_argument("path")
    backup.set_defaults(func=cmd_backup)

    dept = sub.add_parser("department", help="departments")
    dept_sub = dept.add_subparsers(dest="department_command", required=True, parser_class=Parser)
    add = dept_sub.add_parser("add", help="add a department")
    add.add_argument("name")
    add.set_defaults(func=cmd_department_add)
    dept_sub.add_parser("list", help="list departments").set_defaults(func=cmd_department_list)

    invite = sub.add_parser("invite", help="create a one-time invitation code")
    invite.add_argument("--role", required=True, choices=["admin", "supervisor", "liaison"])
    invite.add_argument("--department")
    invite.add_argument("--days", type=int, help="days the code stays valid (default invitations.valid_days)")
    invite.set_defaults(func=cmd_invite)

    for module_name in PLUGINS:
        module = __import__(module_name, fromlist=["add_commands"])
        module.add_commands(sub)
    return parser


# Feature modules that add their own subcommands (each exposes add_commands(subparsers)).
PLUGINS: list[str] = ["bot.cli_deadlines", "bot.cli_ledger"]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config)
        return int(args.func(args, settings))
    except RectbotError as exc:
        return fail(exc.render(T))
    except KeyboardInterrupt:
        return 130
