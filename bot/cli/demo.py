"""`rectbot demo`: play the whole story against the loopback sandbox (no token, no network)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot import demo
from bot.cli.common import SubParsers
from bot.settings import Settings


def add_commands(sub: SubParsers) -> None:
    d = sub.add_parser("demo", help="play the whole story with simulated people (演示，无需令牌与网络)")
    d.add_argument("--out", type=Path, metavar="DIR",
                   help="keep the database, the ledgers, the bulletin chart and the transcript here")
    d.add_argument("--speed", type=float, default=0.0, metavar="SECONDS",
                   help="pause after every transcript line, for reading (default 0: as fast as the bot answers)")
    d.add_argument("--no-color", action="store_true", help="plain text, no terminal colours")
    d.add_argument("--lang", choices=["zh", "en"], default="zh",
                   help="the people use the bot in Chinese (zh, default) or English (en); so does the narration")
    d.add_argument("--interactive", action="store_true", help=(
        "play one of the people yourself: choose a role (admin, supervisor or liaison) from a numbered menu; "
        "the opening (invitations, a case by /new, the imported ledger) plays first, then it is your turn: "
        "type messages as that person, tap a button of the bot's last message by typing its number, and see "
        "what the bot tells the others; /quit or Ctrl-D ends"))
    d.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """The settings of --config are not used: the demo writes its own, pointing at the sandbox."""
    del settings
    lang = "en" if args.lang == "en" else "zh_CN"
    if args.interactive:
        return demo.run_interactive(args.out, color=not args.no_color, lang=lang)
    return demo.run(args.out, speed=args.speed, color=not args.no_color, lang=lang)
