"""Never silent: an unknown command gets the closest real ones, a question in words gets a pointer.

Registered in bot/app.py just before onboarding's not_understood (the catch-all): every journey has
had its chance at the message first. Text without any known keyword still goes to not_understood.
"""

from __future__ import annotations

import re
from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, MessageHandler, filters

from bot import guidance
from bot.i18n import N_
from handlers import onboarding
from handlers.common import RectbotContext, guarded, reply, translator

HELP_LISTS_ALL = N_("Send /help to see everything you can do.")


@guarded
async def unknown_command(update: Update, context: RectbotContext) -> None:
    """/reprot → 您是要 /report 吗？; several close ones are all offered; none close → a role's short hint."""
    person = context.person
    t = translator(person)
    message = update.effective_message
    role = person.role if person else None
    close = guidance.suggest_commands(message.text or "" if message else "", role)
    if not close:
        await reply(update, context, t._("There is no such command.") + " " + t._(guidance.role_hint(role))
                    + "\n" + t._(HELP_LISTS_ALL))
        return
    if len(close) == 1:
        text = t._("Did you mean /{command}?").format(command=close[0])
    else:
        text = t._("Did you mean one of these: {commands}?").format(commands=" ".join(f"/{c}" for c in close))
    await reply(update, context, text + "\n" + t._(HELP_LISTS_ALL))


@guarded
async def question_hint(update: Update, context: RectbotContext) -> None:
    """你好，请问怎么报送整改材料？ from a liaison → how to /report (延期 → /extend, 期限 → /cases)."""
    person = context.person
    t = translator(person)
    message = update.effective_message
    role = person.role if person else None
    hint = guidance.keyword_hint(message.text or "" if message else "", role)
    await reply(update, context, t._(hint or guidance.role_hint(role)) + "\n" + t._(HELP_LISTS_ALL))


async def answer_stray(update: Update, context: RectbotContext) -> None:
    """A private message no journey took, wherever it ended up (the report-draft fall-through without a
    draft, a reply to something that is not a reminder): a command-like text gets the closest commands,
    a question with a keyword its pointer, anything else onboarding's not_understood."""
    message = update.effective_message
    text = (message.text or "").strip() if message else ""
    role = context.person.role if context.person else None
    if re.match(r"/[A-Za-z]", text):
        await unknown_command(update, context)
    elif text and guidance.keyword_hint(text, role):
        await question_hint(update, context)
    else:
        await onboarding.not_understood(update, context)


def handlers() -> list[BaseHandler[Update, RectbotContext, Any]]:
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    keywords = filters.Regex(re.compile("|".join(re.escape(w) for w in sorted(guidance.KEYWORDS)), re.IGNORECASE))
    return [
        # a command entity (what Telegram's apps attach), or text that plainly starts like one
        MessageHandler(private & (filters.COMMAND | filters.Regex(r"^/[A-Za-z]")), unknown_command),
        MessageHandler(private & filters.TEXT & ~filters.COMMAND & ~filters.Regex(r"^/") & keywords, question_hint),
    ]
