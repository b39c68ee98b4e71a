"""The `rectbot` entry point: build the parser from the sub-command modules and dispatch.

Lives apart from `bot/cli/__init__.py` (which re-exports `main`) and is not called `main.py`:
a submodule named like the function would be shadowed by it, so `import bot.cli.main` and
monkeypatching `bot.cli.main.<name>` would reach the function instead of the module.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.cli import admin, bulletin, deadlines, demo, ledger, overview
from bot.cli.common import Parser, T, fail, file_error
from bot.errors import RectbotError
from bot.settings import load_settings


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree; sub-commands appear in `--help` in the order added here."""
    parser = Parser(prog="rectbot", description="rectbot — 预算绩效整改督办机器人")
    parser.add_argument("--config", type=Path, metavar=T._("FILE"),
                        help=T._("TOML settings file (default ./rectbot.toml)"))
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser, metavar=T._("COMMAND"))
    # Each module adds its own sub-commands; a new module is imported above and added here.
    admin.add_commands(sub)  # run, config, db, backup, department, invite
    deadlines.add_commands(sub)  # deadline, calendar
    ledger.add_commands(sub)  # import, export
    overview.add_commands(sub)  # stats
    bulletin.add_commands(sub)  # bulletin
    demo.add_commands(sub)  # demo
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse, load settings, run the chosen command; a RectbotError becomes one stderr line and exit 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config)
        return int(args.func(args, settings))
    except RectbotError as exc:
        return fail(exc.render(T))
    except OSError as exc:  # a file no command caught itself: one Chinese line, never a traceback
        return fail(file_error(exc))
    except KeyboardInterrupt:
        return 130
