"""`rectbot demo --interactive`: the same world, and the newcomer plays one of the people.

Kept simple on purpose: the newcomer picks a role from a numbered menu, the story's opening plays as
scripted (invitations, a case by /new, the imported ledger, 确认收到), then it is their turn. Every
line they type is sent as that person (a /command as a command); a number taps that button of the
bot's latest message to them (buttons are shown numbered); after each move everything the bot said
to anyone is printed, so the others' side is seen too. /quit or end of input ends it, exit 0.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from bot.demo.story import ROLES, START, Cast, first_report, opening, workspace
from bot.demo.world import DemoError, Transcript, World, demo_translator
from bot.i18n import N_, Translator
from bot.sandbox import SandboxUser

QUIT = "/quit"
MENU = (("admin", N_("administrator")), ("supervisor", N_("finance-bureau supervisor")),
        ("liaison", N_("department liaison officer")))


def choose_role(t: Translator, stdin: TextIO, stream: TextIO) -> str | None:
    """The numbered role menu; None when the input ended first."""
    stream.write(t._("Whom do you want to play?") + "\n")
    for i, (role, title) in enumerate(MENU, 1):
        stream.write(f"  {i}. " + t._("{title} ({name})").format(title=t._(title), name=t._(ROLES[role])) + "\n")
    while True:
        stream.write(t._("Type 1, 2 or 3: "))
        stream.flush()
        line = stdin.readline()
        if not line:
            return None
        choice = line.strip()
        if choice in ("1", "2", "3"):
            return MENU[int(choice) - 1][0]
        if choice == QUIT:
            return None
        stream.write(t._("Please type the number of a role: 1, 2 or 3.") + "\n")


def tap_number(w: World, user: SandboxUser, number: int, after: int) -> bool:
    """Tap button `number` (1-based) of the bot's latest message with buttons to `user` since the
    player's turn began (message ids above `after`: the opening's buttons were the script's)."""
    with_buttons = [m for m in w.sandbox.messages(user.id) if m.buttons and m.message_id > after]
    if not with_buttons or not 1 <= number <= len(with_buttons[-1].buttons):
        return False
    message = with_buttons[-1]
    w.press(user, message, message.buttons[number - 1][0])
    return True


def turns(w: World, user: SandboxUser, stdin: TextIO, stream: TextIO) -> None:
    """The player's moves until /quit or the end of input."""
    t = w.tr
    name = w.names[user.id]
    after = max((m.message_id for m in w.sandbox.messages(user.id)), default=0)
    while True:
        stream.write(f"{name} > ")
        stream.flush()
        line = stdin.readline()
        if not line:
            stream.write("\n")
            return
        text = line.strip()
        if not text:
            continue
        if text == QUIT:
            return
        if text.isdigit():
            if not tap_number(w, user, int(text), after):
                stream.write(t._("There is no button {n} on the bot's last message to you.").format(n=text) + "\n")
                continue
        else:
            w.send(user, text)
        w.settle(quiet=0.8, limit=8.0)


def run_interactive(out: Path | None, *, color: bool = True, lang: str = "zh_CN",
                    stdin: TextIO | None = None, stream: TextIO | None = None) -> int:
    """Choose a role, watch the opening, then play; 0 on /quit, Ctrl-C or end of input, 1 if the bot failed."""
    stdin, stream = stdin or sys.stdin, stream or sys.stdout
    t = demo_translator(lang)
    try:
        return _play(out, color, lang, t, stdin, stream)
    except KeyboardInterrupt:               # Ctrl-C ends it like /quit (the world is closed on the way out)
        stream.write("\n" + t._("The demo has ended.") + "\n")
        return 0


def _play(out: Path | None, color: bool, lang: str, t: Translator, stdin: TextIO, stream: TextIO) -> int:
    role = choose_role(t, stdin, stream)
    if role is None:
        return 0
    with workspace(out) as workdir:
        transcript = Transcript(stream, color, 0.0, t)
        try:
            with World(workdir, transcript, START, lang) as world:
                cast: Cast = opening(world, workdir)
                if role != "liaison":       # a report waiting for the bureau's review; a liaison writes their own
                    first_report(world, cast)
                world.settle(quiet=2.0, limit=20.0)     # the outbox drained: the turn starts on a quiet chat
                player = cast.by_name(ROLES[role])
                world.player = player.id
                transcript.chapter(t._("Your turn"))
                transcript.note(t._("You are {name}. Type a message or a /command (try /help or /todo); type a "
                                    "button's number to tap it; /quit ends the demo").format(name=t._(ROLES[role])))
                turns(world, player, stdin, stream)
        except DemoError as exc:
            stream.write(t._("The demo stopped: {error}").format(error=exc) + "\n")
            return 1
        stream.write(t._("The demo has ended.") + "\n")
    return 0
