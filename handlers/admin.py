"""Administration in chat: /invite."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, filters

from bot import people
from bot.domain import Role
from bot.errors import DomainError
from bot.i18n import N_
from bot.people import ROLE_NAMES
from handlers.common import RectbotContext, guarded, reply, translator


@guarded
async def invite(update: Update, context: RectbotContext) -> None:
    """/invite liaison 县教育局 | /invite supervisor | /invite admin"""
    svc = context.services
    person = context.person
    people.require_role(person, Role.ADMIN, Role.SUPERVISOR)
    args = context.args or []
    if not args:
        raise DomainError(N_("Usage: /invite liaison DEPARTMENT, /invite supervisor or /invite admin"))
    aliases = {"联络员": "liaison", "督办": "supervisor", "督办人员": "supervisor", "管理员": "admin"}
    role = aliases.get(args[0], args[0].lower())
    department = " ".join(args[1:]).strip() or None
    issued = await people.create_invitation(
        svc.db, role=role, department_name=department, actor=person, now=svc.now(),
        valid_days=svc.settings.invitations.valid_days,
    )
    t = translator(person)
    who = t._(ROLE_NAMES[issued.role])
    if issued.department:
        who = t._("{department} {role}").format(department=issued.department.name, role=who)
    expires = issued.expires_at.astimezone(svc.settings.bureau.tz).strftime("%Y-%m-%d %H:%M")
    username = context.bot.username
    await reply(update, context, "\n".join([
        t._("Invitation for: {who}").format(who=who),
        t._("Valid until {expires}, for one person only.").format(expires=expires),
        t._("Forward the next message to that person; they register by sending it to me:"),
    ]))
    link = f"https://t.me/{username}?start={issued.code}" if username else ""
    await reply(update, context, f"/start {issued.code}" + (f"\n{link}" if link else ""))


def handlers() -> list[BaseHandler[Update, RectbotContext, object]]:
    # Private chats only: an invitation code posted in a group could be redeemed by anyone in it.
    return [CommandHandler("invite", invite, filters=filters.ChatType.PRIVATE)]
