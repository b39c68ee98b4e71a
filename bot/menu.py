"""The menu: the few things each role does daily, as a persistent keyboard of labels (issue 10 item 2).

Pure and Telegram-free: the table of label → command per role, and matching what a person typed
(or tapped) back to a command. handlers/menu.py turns the table into a ReplyKeyboardMarkup and routes
a tap to the same handler the command has, so a tap works exactly like the command and the domain
authorizes it the same way.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache

from bot.domain import Role
from bot.i18n import N_, SUPPORTED_LOCALES, Translator, translator_for_locale


@dataclass(frozen=True)
class MenuItem:
    label: str    # msgid, translated per person
    command: str  # the chat command the tap stands for (without the slash)


# Rows of the keyboard, two labels a row (phones show them large enough to hit).
LIAISON_MENU: tuple[tuple[MenuItem, ...], ...] = (
    (MenuItem(N_("My to-do"), "todo"), MenuItem(N_("My department's cases"), "cases")),
    (MenuItem(N_("Report rectification"), "report"), MenuItem(N_("Request an extension"), "extend")),
)
BUREAU_MENU: tuple[tuple[MenuItem, ...], ...] = (
    (MenuItem(N_("Today's to-do"), "todo"), MenuItem(N_("Register a case"), "new")),
    (MenuItem(N_("Awaiting review"), "review"), MenuItem(N_("Departments at a glance"), "status")),
    (MenuItem(N_("Export the ledger"), "export"),),
)

# The taps that start a conversation: they are that conversation's entry points (handlers/report.py,
# handlers/new_case.py); every other tap is handled by handlers/menu.py before any conversation.
CONVERSATION_COMMANDS = frozenset({"report", "extend", "new"})


def menu_for(role: str | None) -> tuple[tuple[MenuItem, ...], ...]:
    """The menu rows of a role; none for strangers."""
    if role is None:
        return ()
    return LIAISON_MENU if role == Role.LIAISON else BUREAU_MENU


def labels_for(t: Translator, role: str | None) -> list[list[str]]:
    """The keyboard's rows of labels, in the person's language."""
    return [[t._(item.label) for item in row] for row in menu_for(role)]


def normalize(text: str) -> str:
    """What a tap or a typed label is compared by: NFKC (full-width letters, digits and spaces become
    their ordinary forms), no surrounding or doubled spaces, case-insensitive."""
    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()


def command_for(t: Translator, role: str | None, text: str) -> str | None:
    """The command a person's own label (their role, their language) stands for, or None."""
    wanted = normalize(text)
    for row in menu_for(role):
        for item in row:
            if normalize(t._(item.label)) == wanted:
                return item.command
    return None


@cache  # the catalogs are loaded once and never change while the bot runs
def _all_labels() -> dict[str, str]:
    table: dict[str, str] = {}
    for locale in SUPPORTED_LOCALES:
        t = translator_for_locale(locale)
        for menu in (LIAISON_MENU, BUREAU_MENU):
            for row in menu:
                for item in row:
                    table.setdefault(normalize(t._(item.label)), item.command)
    return table


def any_command_for(text: str) -> str | None:
    """The command of a label in any role's menu and any language (the message filter's question: it
    runs before the sender is known; the handler then prefers the sender's own labels)."""
    return _all_labels().get(normalize(text))
