"""The chat commands each role has: one list feeds /help and setMyCommands."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain import Role
from bot.i18n import N_

ALL = (Role.ADMIN, Role.SUPERVISOR, Role.LIAISON)
BUREAU = (Role.ADMIN, Role.SUPERVISOR)


@dataclass(frozen=True)
class Command:
    name: str
    description: str  # msgid
    roles: tuple[Role, ...]


COMMANDS: list[Command] = [
    Command("help", N_("What I can do for you"), ALL),
    Command("whoami", N_("Your role and department"), ALL),
    Command("lang", N_("Language: /lang zh or /lang en"), ALL),
    Command("invite", N_("Create an invitation: /invite liaison DEPARTMENT"), BUREAU),
]


def commands_for(role: str | None) -> list[Command]:
    if role is None:
        return [Command("start", N_("Register with your invitation code: /start CODE"), ())]
    return [c for c in COMMANDS if role in c.roles]


def register(command: Command) -> None:
    """Feature modules add their commands here at import time (kept in one list for /help)."""
    if all(c.name != command.name for c in COMMANDS):
        COMMANDS.append(command)
