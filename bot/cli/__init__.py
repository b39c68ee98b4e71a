"""The `rectbot` command line: run the bot and administer it.

`main` is the console-script entry (`rectbot = "bot.cli:main"`) and what `python -m bot` calls.
Modules: `common` (shared helpers), `admin`, `deadlines`, `ledger` (sub-commands), `entry` (parser, main).
"""

from bot.cli.entry import main

__all__ = ["main"]
