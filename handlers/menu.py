"""The menu journey: the persistent reply keyboard per role (bot/menu.py's table) and its taps.

A tap sends the label as plain text. Taps that start a conversation (报送整改, 申请延期, 登记事项) are
entry points of those conversations (`tapped(...)` in handlers/report.py and handlers/new_case.py);
the others (待办, 本单位事项, 待审核, 导出台账) are handled here, registered before every conversation
in bot/app.py so a tap in the middle of a step is never taken as that step's answer. Either way the
tap runs the command's own handler, so authorization is the command's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Message, ReplyKeyboardMarkup, Update
from telegram.ext import BaseHandler, MessageHandler, filters

from bot import menu
from bot.domain import Person
from handlers.common import RectbotContext, translator

TapHandler = Callable[[Update, RectbotContext], Awaitable[object]]


def keyboard(person: Person | None) -> ReplyKeyboardMarkup | None:
    """The person's menu in their language; None for strangers (they only have /start CODE)."""
    if person is None:
        return None
    rows = menu.labels_for(translator(person), person.role)
    return ReplyKeyboardMarkup(rows, resize_keyboard=True, is_persistent=True) if rows else None


class _Tapped(filters.MessageFilter):
    """A private text message that is one of the menu's labels for one of `commands` (any language)."""

    def __init__(self, commands: frozenset[str]) -> None:
        super().__init__(name=f"menu.tapped({','.join(sorted(commands))})")
        self.commands = commands

    def filter(self, message: Message) -> bool:
        text = message.text
        if not text or text.startswith("/"):
            return False
        return menu.any_command_for(text) in self.commands


def tapped(*commands: str) -> filters.BaseFilter:
    """The filter of taps on the labels of these commands, in private chats."""
    return filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE & _Tapped(frozenset(commands))


def tapped_command(update: Update, context: RectbotContext) -> str | None:
    """The command of the tapped label: the sender's own labels first, then any role's or language's."""
    text = update.effective_message.text if update.effective_message else None
    if not text:
        return None
    person = context.person
    return menu.command_for(translator(person), person.role if person else None, text) or menu.any_command_for(text)


def handlers(table: dict[str, TapHandler]) -> list[BaseHandler[Update, RectbotContext, object]]:
    """The taps that are not conversation entry points; `table` maps a command to its handler (wired
    in bot/app.py, which knows every journey)."""
    assert not set(table) & menu.CONVERSATION_COMMANDS, "conversation taps are entry points"

    async def on_tap(update: Update, context: RectbotContext) -> None:
        command = tapped_command(update, context)
        if command is not None and command in table:
            context.args = []
            await table[command](update, context)

    return [MessageHandler(tapped(*table), on_tap)]
