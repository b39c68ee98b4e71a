"""Onboarding journey: /start CODE (with the confirmation a registered person gives to change role), /help,
/whoami, /lang, and the answer to what nothing else understood."""

from __future__ import annotations

import contextlib

from telegram import BotCommand, BotCommandScopeChat, Update
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot import people
from bot.callbacks import INVITE
from bot.commands import commands_for
from bot.domain import Person, Role
from bot.i18n import N_, Translator
from bot.people import ROLE_NAMES
from handlers.common import INVITATION_HINT, STALE_BUTTON, RectbotContext, guarded, markup, refuse, reply, translator
from handlers.menu import keyboard

# user_data key: the hash (never the code) of an invitation a registered person may still confirm.
PENDING_INVITE = "invite.pending"

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


def greeting_name(t: Translator, person: Person) -> str:
    """How a greeting addresses someone: their registered name, else (a bootstrap admin who has no
    Telegram name) their role."""
    return person.name if people.has_real_name(person) else t._(ROLE_NAMES[Role(person.role)])


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
        person = await people.adopt_display_name(svc.db, person, user.full_name, now=svc.now())
        context.person = person
        t = translator(person)
        await reply(update, context, t._("Welcome back, {name}. You are registered as {role}.").format(
            name=greeting_name(t, person), role=role_label(t, person)) + "\n\n" + help_text(t, person),
            reply_markup=keyboard(person))
        return
    try:
        person = await people.redeem_invitation(
            svc.db, code=code, telegram_id=user.id, name=user.full_name, username=user.username,
            locale=None, now=svc.now(),
        )
    except people.AlreadyRegistered as exc:
        await _offer_role_change(update, context, exc, exc.code_hash)
        return
    await _welcome(update, context, person)


async def start_as_text(update: Update, context: RectbotContext) -> None:
    """"/start CODE" that arrived as plain text, without Telegram's command entity (pasted or sent by
    a client that adds none): the same as the command. The gate lets a stranger's /start text through,
    so without this it reached no handler and the stranger got no answer at all."""
    message = update.effective_message
    context.args = (message.text or "").split()[1:] if message else []
    await start(update, context)


async def _welcome(update: Update, context: RectbotContext, person: Person) -> None:
    context.person = person
    t = translator(person)
    await reply(update, context, "\n\n".join([
        t._("Welcome, {name}! You are now registered as {role}.").format(
            name=greeting_name(t, person), role=role_label(t, person)),
        t._(ROLE_INTRO[Role(person.role)]),
        help_text(t, person),
    ]), reply_markup=keyboard(person))
    await sync_chat_commands(context, person)


async def _offer_role_change(
    update: Update, context: RectbotContext, exc: people.AlreadyRegistered, code_hash: str,
) -> None:
    """A registered person sent a valid code for another role: say who they are and ask before changing."""
    t = translator(exc.person)
    current = people.role_msg(Role(exc.person.role), exc.person.department_name).render(t)
    lines = [t._("You are already registered as {role}.").format(role=current)]
    if exc.person.role == Role.ADMIN and exc.role != Role.ADMIN:
        lines.append(t._("An administrator's role is never changed by an invitation code."))
        await reply(update, context, "\n".join(lines))
        return
    offered = people.role_msg(exc.role, exc.department).render(t)
    lines.append(t._("This invitation code is for {role}. Do you want to change your role to it?").format(role=offered))
    assert context.user_data is not None
    context.user_data[PENDING_INVITE] = code_hash
    await reply(update, context, "\n".join(lines), reply_markup=markup([[
        (t._("Change my role"), INVITE.build("change")), (t._("Keep my current role"), INVITE.build("keep")),
    ]]))


@guarded
async def role_change_button(update: Update, context: RectbotContext) -> None:
    """The answer to _offer_role_change; the domain checks the code again (still unused, not expired)."""
    query = update.callback_query
    assert query is not None
    choice = INVITE.parse(query.data or "")
    pending = context.user_data.pop(PENDING_INVITE, None) if context.user_data is not None else None
    person = context.person
    if choice is None or not isinstance(pending, str) or person is None:
        await refuse(update, context, translator(person)._(STALE_BUTTON))
        return
    t = translator(person)
    if choice.action == "keep":
        await reply(update, context, t._("Nothing was changed: you remain {role}.").format(
            role=role_label(t, person)))
        return
    user = update.effective_user
    assert user is not None
    svc = context.services
    changed = await people.redeem_invitation(
        svc.db, code_hash=pending, telegram_id=user.id, name=user.full_name, username=user.username,
        locale=person.locale, now=svc.now(), change_role=True,
    )
    await _welcome(update, context, changed)


@guarded
async def help_command(update: Update, context: RectbotContext) -> None:
    person = context.person
    await reply(update, context, help_text(translator(person), person), reply_markup=keyboard(person))


@guarded
async def whoami(update: Update, context: RectbotContext) -> None:
    person = context.person
    assert person is not None  # the gate lets only registered people through
    t = translator(person)
    lines = [
        t._("Name: {name}").format(name=greeting_name(t, person)),
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
                t._("Language set to English.") if updated.locale == "en" else t._("Language set to Chinese."),
                reply_markup=keyboard(updated))  # the menu's labels in the new language
    await sync_chat_commands(context, updated)


NOT_UNDERSTOOD = N_("Sorry, I did not understand that.")


@guarded
async def not_understood(update: Update, context: RectbotContext) -> None:
    """A private message no handler took (stray text, an unknown command, a file outside any draft)
    gets an answer with the person's commands and the menu again: silence reads as a bot that is down,
    and a lost person gets their way back."""
    person = context.person
    t = translator(person)
    await reply(update, context, t._(NOT_UNDERSTOOD) + "\n\n" + help_text(t, person), reply_markup=keyboard(person))


def fallback_handlers() -> list[BaseHandler[Update, RectbotContext, object]]:
    """Last in group 0: new private messages that every other handler passed over."""
    return [MessageHandler(filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE, not_understood)]


def handlers() -> list[BaseHandler[Update, RectbotContext, object]]:
    return [
        CommandHandler("start", start),
        MessageHandler(filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND
                       & filters.Regex(r"^/start(?:@\w+)?(?:\s|$)"), start_as_text),
        CommandHandler("help", help_command),
        CommandHandler("whoami", whoami),
        CommandHandler("lang", lang),
        CallbackQueryHandler(role_change_button, pattern=INVITE.any_pattern),
    ]
