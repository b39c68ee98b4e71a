"""What every `rectbot` sub-command module shares: the translator, the one-line failure, the parser class.

Kept free of sub-command code so `admin`, `deadlines` and `ledger` can all import it without
importing one another. Every failure a person can cause ends with one clear Chinese line on stderr
and exit code 2, never a traceback; `fail` and `Parser` are the two places that promise it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any, TypeAlias

from bot import logs
from bot.clock import clock_for
from bot.errors import os_error_reason
from bot.i18n import N_, Translator, translator_for_locale
from bot.logs import LogFormat
from bot.settings import Settings
from storage.db import Database

EXIT_USAGE = 2
T: Translator = translator_for_locale("zh_CN")

Command = Callable[[argparse.Namespace, Settings], int]
AsyncCommand = Callable[[argparse.Namespace, Settings, Database], Awaitable[int]]


class HelpFormatter(argparse.HelpFormatter):
    """argparse's help layout with the one English word it writes itself ("usage:") in Chinese."""

    def add_usage(self, usage: str | None, actions: Iterable[argparse.Action],
                  groups: Iterable[argparse._MutuallyExclusiveGroup], prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups, T._("usage: ") if prefix is None else prefix)


# argparse's own error messages (Python 3.11), matched and said again in the CLI's language. argparse
# words them through its module-level gettext; patching that would be global state, so the finished
# English line is translated here instead. Anything unmatched is shown as argparse wrote it.
_ARGPARSE_ERRORS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"the following arguments are required: (?P<args>.+)"),
     N_("missing required argument(s): {args}")),
    (re.compile(r"argument (?P<arg>\S+): invalid choice: '(?P<value>.*)' \(choose from (?P<choices>.+)\)"),
     N_("{arg}: {value} is not one of the allowed values: {choices}")),
    (re.compile(r"unrecognized arguments: (?P<args>.+)"), N_("unknown argument(s): {args}")),
    (re.compile(r"argument (?P<arg>\S+): expected one argument"), N_("{arg} needs a value")),
    (re.compile(r"argument (?P<arg>\S+): invalid (?P<type>\S+) value: '(?P<value>.*)'"),
     N_("{arg}: {value} is not a valid value")),
    (re.compile(r"argument (?P<arg>\S+): ignored explicit argument '(?P<value>.*)'"),
     N_("{arg} takes no value (got {value})")),
    (re.compile(r"ambiguous option: (?P<arg>\S+) could match (?P<choices>.+)"),
     N_("{arg} is ambiguous: it could be {choices}")),
    (re.compile(r"argument (?P<arg>\S+): (?P<detail>.+)"), N_("{arg}: {detail}")),
)


def argparse_error_text(message: str) -> str:
    """One argparse error line in the CLI's language (choices listed with 、, quotes dropped)."""
    for pattern, msgid in _ARGPARSE_ERRORS:
        m = pattern.fullmatch(message)
        if m:
            parts = {k: v.replace("'", "") for k, v in m.groupdict().items()}
            for key in ("choices", "args"):
                if key in parts:
                    parts[key] = "、".join(p.strip() for p in re.split(r"[, ]+", parts[key]) if p.strip())
            return T._(msgid).format(**parts)
    return message


class Parser(argparse.ArgumentParser):
    """argparse that speaks the CLI's language (help, usage, errors) and reports usage errors in one
    line plus where to read more, with exit code 2 (its default code)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        add_help = kwargs.pop("add_help", True)
        kwargs["add_help"] = False  # our own -h below, with Chinese help
        super().__init__(*args, **kwargs)
        self._positionals.title = T._("arguments")
        self._optionals.title = T._("options")
        if add_help:
            self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS,
                              help=T._("show this help and exit"))

    def error(self, message: str) -> Any:
        hint = T._("(see: {prog} --help)").format(prog=self.prog)
        self.exit(EXIT_USAGE, f"{self.prog}：{argparse_error_text(message)}{hint}\n")


# What each sub-command module's add_commands(subparsers) receives: sub-parsers are all `Parser`s.
SubParsers: TypeAlias = "argparse._SubParsersAction[Parser]"


def setup_logging(settings: Settings | None, fmt: LogFormat | None = None, level: int = logging.INFO) -> None:
    """Log to stderr in `fmt` (else logging.format, else text) with the token and webhook secret redacted."""
    secrets = []
    if settings is not None:
        if settings.telegram.token:
            secrets.append(settings.telegram.token.get_secret_value())
        if settings.webhook.secret_token:
            secrets.append(settings.webhook.secret_token.get_secret_value())
    chosen: LogFormat = fmt or (settings.logging.format if settings is not None else "text")
    logs.configure(chosen, secrets, level=level)


def os_reason(exc: OSError) -> str:
    """Why a file could not be opened, in the CLI's language (the OS's strerror is English)."""
    return os_error_reason(exc).render(T)


def file_error(exc: OSError) -> str:
    """A file problem no command caught itself, as one Chinese line naming the file."""
    path = exc.filename if exc.filename is not None else "?"
    return T._("Cannot use the file {path}: {reason}").format(path=path, reason=os_reason(exc))


def fail(message: str) -> int:
    """Print a person's mistake on stderr and return the usage exit code, so commands `return fail(...)`."""
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


def now(settings: Settings) -> datetime:
    """The one clock the CLI commands read (aware, UTC): the bot's, simulated under `testing.*`, so
    what a command plans (an import's first reminder, an invitation's expiry) is on the bot's time."""
    return clock_for(settings.testing.clock_start, settings.testing.clock_file).now()
