"""Onboarding journey: /start CODE, /help, /whoami, /lang, and the answer to what nothing else understood."""

from __future__ import annotations

import contextlib

from telegram import BotCommand, BotCommandScopeChat, Update
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CommandHandler, MessageHandler, filters

from bot import people
from bot.commands import commands_for
from bot.domain import Person, Role
from bot.i18n import N_, Translator
from bot.people import ROLE_NAMES
from handlers.common import INVITATION_HINT, RectbotContext, guarded, reply, translator

ROLE_INTRO = {
    Role.ADMIN: N_("You can manage departments, people, invitations and holiday calendars, and do "
                   "everything a supervisor does."),
    Role.SUPERVISOR: N_("You will receive overdue escalations and the daily digest, and you can register "
                        "cases, review reports and invite liaison officers."),
    Role.LIAISON: N_("You will receive the bureau's feedback and deadline reminders for your department, "
                     "and you can reply here with rectification reports and evidence."),
}


def role_label(t: Translator, person: Person) -> str:
    role = t._(ROLE_NAMES[Role(person.role)])
    if person.role == Role.LIAISON and person.department_name:
        return t._("{department} {role}").format(department=person.department_name, role=role)
    return role


def help_text(t: Translator, person: Person | None) -> str:
    lines = [t._("Commands available to you:")]
    for command in commands_for(person.role if person else None):
        lines.append(f"/{command.name} — {t._(command.description)}")
    return "\n".join(lines)


async def sync_chat_commands(context: RectbotContext, person: Person) -> None:
    """Show each person the command menu of their role, in their language."""
    t = translator(person)
    commands = [BotCommand(c.name, t._(c.description)) for c in commands_for(person.role)]
    with contextlib.suppress(TelegramError):  # the menu is a convenience; /help always works
        await context.bot.set_my_commands(commands, scope=BotCommandScopeChat(person.telegram_id))


@guarded
async def start(update: Update, context: RectbotContext) -> None:
    svc = context.services
    user = update.effective_user
    assert user is not None
    code = " ".join(context.args or []).strip()
    if not code:
        person = context.person
        if person is None:
            t = translator(None)
            await reply(update, context, t._(INVITATION_HINT).format(bureau=svc.settings.bureau.name))
            return
        t = translator(person)
        await reply(update, context, t._("Welcome back, {name}. You are registered as {role}.").format(
            name=person.name, role=role_label(t, person)) + "\n\n" + help_text(t, person))
        return
    person = await people.redeem_invitation(
        svc.db, code=code, telegram_id=user.id, name=user.full_name, username=user.username,
        locale=None, now=svc.now(),
    )
    context.person = person
    t = translator(person)
    await reply(update, context, "\n\n".join([
        t._("Welcome, {name}! You are now registered as {role}.").format(
            name=person.name, role=role_label(t, person)),
        t._(ROLE_INTRO[Role(person.role)]),
        help_text(t, person),
    ]))
    await sync_chat_commands(context, person)


@guarded
async def help_command(update: Update, context: RectbotContext) -> None:
    person = context.person
    await reply(update, context, help_text(translator(person), person))


@guarded
async def whoami(update: Update, context: RectbotContext) -> None:
    person = context.person
    assert person is not None  # the gate lets only registered people through
    t = translator(person)
    lines = [
        t._("Name: {name}").format(name=person.name),
        t._("Role: {role}").format(role=t._(ROLE_NAMES[Role(person.role)])),
    ]
    if person.department_name:
        lines.append(t._("Department: {department}").format(department=person.department_name))
    lines.append(t._("Language: {language}").format(language=t._("Chinese") if person.locale == "zh_CN"
                                                       else t._("English")))
    await reply(update, context, "\n".join(lines))


@guarded
async def lang(update: Update, context: RectbotContext) -> None:
    person = context.person
    assert person is not None
    choice = " ".join(context.args or [])
    updated = await people.set_language(context.services.db, person, choice, now=context.services.now())
    context.person = updated
    t = translator(updated)
    await reply(update, context,
                t._("Language set to English.") if updated.locale == "en" else t._("Language set to Chinese."))
    await sync_chat_commands(context, updated)


NOT_UNDERSTOOD = N_("Sorry, I did not understand that.")


@guarded
async def not_understood(update: Update, context: RectbotContext) -> None:
    """A private message no handler took (stray text, an unknown command, a file outside any draft)
    gets an answer with the person's commands: silence reads as a bot that is down."""
    person = context.person
    t = translator(person)
    await reply(update, context, t._(NOT_UNDERSTOOD) + "\n\n" + help_text(t, person))


def fallback_handlers() -> list[BaseHandler[Update, RectbotContext, object]]:
    """Last in group 0: new private messages that every other handler passed over."""
    return [MessageHandler(filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE, not_understood)]


def handlers() -> list[BaseHandler[Update, RectbotContext, object]]:
    return [
        CommandHandler("start", start),
        CommandHandler("help", help_command),
        CommandHandler("whoami", whoami),
        CommandHandler("lang", lang),
    ]
