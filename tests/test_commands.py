"""The command table: /help and the command menu list the same commands, in the same order, per role."""

from __future__ import annotations

from bot.commands import commands_for
from bot.people import Role


def test_each_role_sees_its_commands_in_order() -> None:
    # Admins may do everything supervisors may (issue 10), /spotcheck included.
    assert [c.name for c in commands_for(Role.ADMIN)] == [
        "help", "todo", "whoami", "lang", "invite", "new", "case", "feedback", "received", "changedue", "export",
        "cancel", "deadline", "overdue", "digest", "review", "budget", "spotcheck", "status", "stats"]
    assert [c.name for c in commands_for(Role.SUPERVISOR)] == [
        "help", "todo", "whoami", "lang", "invite", "new", "case", "feedback", "received", "changedue", "export",
        "cancel", "deadline", "overdue", "digest", "review", "budget", "spotcheck", "status", "stats"]
    assert [c.name for c in commands_for(Role.LIAISON)] == [
        "help", "todo", "whoami", "lang", "case", "cancel", "deadline", "cases", "report", "extend", "status", "stats"]
    assert [c.name for c in commands_for(None)] == ["start"]
