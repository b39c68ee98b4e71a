"""`rectbot demo`: play the whole story against the loopback sandbox (no token, no network)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.cli.common import SubParsers, T
from bot.settings import Settings


def add_commands(sub: SubParsers) -> None:
    d = sub.add_parser("demo", help=T._("play the whole story with simulated people (no token, no network)"),
                       description=T._(
                           "Starts the loopback Bot API sandbox and the real bot with a temporary database, "
                           "plays the story with simulated people on a simulated clock and prints the "
                           "conversation. With --interactive you play one of them."))
    d.add_argument("--out", type=Path, metavar=T._("DIR"),
                   help=T._("keep the database, the ledgers, the bulletin chart and the transcript here "
                            "(a previous demo's database there is replaced)"))
    d.add_argument("--speed", type=float, default=0.0, metavar=T._("SECONDS"),
                   help=T._("pause after every transcript line, for reading (default 0: as fast as the bot answers)"))
    d.add_argument("--no-color", action="store_true", help=T._("plain text, no terminal colours"))
    d.add_argument("--lang", choices=["zh", "en"], default="zh",
                   help=T._("zh (default) or en: the people use the bot in that language, and so does the narration"))
    d.add_argument("--interactive", action="store_true", help=T._(
        "play one of the people yourself: choose a role (administrator, supervisor or liaison officer) from a "
        "numbered menu; the opening plays first (invitations, a case by /new, the imported ledger and, unless "
        "you are the liaison, the liaison's first report), then it is your turn: type messages as that person, "
        "type a number to tap that button of the bot's latest message to you, and see what the bot tells the "
        "others; /quit or Ctrl-D ends"))
    d.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """The settings of --config are not used: the demo writes its own, pointing at the sandbox."""
    del settings
    from bot import demo  # here, not at import: `rectbot run` must not load the sandbox and the story (0.3 s)

    lang = "en" if args.lang == "en" else "zh_CN"
    if args.interactive:
        return demo.run_interactive(args.out, color=not args.no_color, lang=lang)
    return demo.run(args.out, speed=args.speed, color=not args.no_color, lang=lang)
