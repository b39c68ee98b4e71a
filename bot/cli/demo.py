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
    d.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """The settings of --config are not used: the demo writes its own, pointing at the sandbox."""
    del settings
    return demo.run(args.out, speed=args.speed, color=not args.no_color)
