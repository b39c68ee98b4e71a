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


# Every command, in the order /help and the command menu list them. One table, not registration at
# import time: what a role sees does not depend on which handler modules happened to be imported.
LIAISON = (Role.LIAISON,)
COMMANDS: tuple[Command, ...] = (
    Command("help", N_("What I can do for you"), ALL),
    Command("todo", N_("Your to-do: what needs doing now"), ALL),
    Command("whoami", N_("Your role and department"), ALL),
    Command("lang", N_("Language: /lang zh or /lang en"), ALL),
    Command("invite", N_("Create an invitation: /invite liaison DEPARTMENT"), BUREAU),
    Command("new", N_("Register a rectification case"), BUREAU),
    Command("case", N_("Show a case and its history: /case NUMBER"), ALL),
    Command("feedback", N_("Send a case's feedback to the liaisons: /feedback NUMBER"), BUREAU),
    Command("received", N_("Record when feedback was received: /received NUMBER DATE"), BUREAU),
    Command("changedue", N_("Change a deadline: /changedue NUMBER DATE REASON"), BUREAU),
    Command("export", N_("Export the rectification ledger (Excel)"), BUREAU),
    Command("cancel", N_("Cancel what you are doing"), ALL),
    Command("deadline", N_("Compute a deadline: /deadline 2026-03-05 2m"), ALL),
    Command("overdue", N_("Overdue cases, by department"), BUREAU),
    Command("digest", N_("Today's digest now"), BUREAU),
    Command("cases", N_("Your department's open cases and deadlines"), LIAISON),
    Command("report", N_("Report on a case's rectification (resumes your draft)"), LIAISON),
    Command("extend", N_("Ask for an extension of a deadline: /extend CASE"), LIAISON),
    Command("review", N_("Reports awaiting your review"), BUREAU),
    Command("budget", N_("Budget suggestions by department (XLSX)"), BUREAU),
    Command("spotcheck", N_("Spot-check N closed cases at random: /spotcheck 5"), BUREAU),
    Command("status", N_("Each department at a glance: /status, or /status DEPARTMENT"), ALL),
    Command("stats", N_("Statistics and ranking: /stats [DEPARTMENT] [本月|本季度|本年|2026-01-01..2026-06-30]"), ALL),
)


def commands_for(role: str | None) -> list[Command]:
    if role is None:
        return [Command("start", N_("Register with your invitation code: /start CODE"), ())]
    return [c for c in COMMANDS if role in c.roles]
