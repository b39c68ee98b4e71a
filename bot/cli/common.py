"""What every `rectbot` sub-command module shares: the translator, the one-line failure, the parser class.

Kept free of sub-command code so `admin`, `deadlines` and `ledger` can all import it without
importing one another. Every failure a person can cause ends with one clear Chinese line on stderr
and exit code 2, never a traceback; `fail` and `Parser` are the two places that promise it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeAlias

from bot.i18n import Translator, translator_for_locale
from bot.settings import Settings
from storage.db import Database

EXIT_USAGE = 2
T: Translator = translator_for_locale("zh_CN")

Command = Callable[[argparse.Namespace, Settings], int]
AsyncCommand = Callable[[argparse.Namespace, Settings, Database], Awaitable[int]]


class Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line and exit code 2 (its default code)."""

    def error(self, message: str) -> Any:
        self.exit(EXIT_USAGE, f"rectbot: {message}\n")


# What each sub-command module's add_commands(subparsers) receives: sub-parsers are all `Parser`s.
SubParsers: TypeAlias = "argparse._SubParsersAction[Parser]"


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
    """Log to stderr with the token and webhook secret masked; quiet the libraries that log URLs."""
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


def now() -> datetime:
    """The one clock the CLI commands read (aware, UTC)."""
    return datetime.now(UTC)
