"""Reminders in chat: /overdue, /digest, the digest buttons, replies to reminders, and the jobs.

Jobs (JobQueue): the sweep every reminders.sweep_seconds (it also enqueues the daily digest and
the weekly missing-calendar warning when their time has come, measured on the bot's clock, so a
shifted test clock and restarts behave), the digest at escalation.digest_time (bureau timezone)
as a prompt trigger, and the delivery loop started once the application runs. All state is in
SQLite: the scheduler only wakes things up.

Replies to a reminder: the report conversation (handlers.report, issue 6) intercepts a liaison's
reply and starts a report; every other reply reaches `reminder_reply` here, which stores it as a
progress note on the case and confirms.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot import paging
from bot.callbacks import DIGEST, PAGE
from bot.delivery import mark_reachable, mark_unreachable
from bot.digests import digest_and_todo, list_page, overdue_listing, render_digest_with_todo
from bot.domain import Role
from bot.errors import DomainError
from bot.people import require_role
from bot.reminders import ReminderReply, notice_page, notice_rows, record_progress_note, reply_chooser
from handlers import guidance
from handlers.common import STALE_BUTTON, RectbotContext, guarded, markup, reply, show_listing, translator

log = logging.getLogger(__name__)


@guarded
async def store_progress_note(update: Update, context: RectbotContext, reply_: ReminderReply) -> None:
    """The reply becomes a progress note on the case, and is confirmed."""
    svc = context.services
    person = context.person
    assert person is not None
    await record_progress_note(svc.db, person, reply_, now=svc.now())
    t = translator(person)
    what = t._("the document {name}").format(name=reply_.file_name) if reply_.file_name else t._("your message")
    await reply(update, context, t._(
        "✅ Recorded {what} as a progress note on case No. {id}. The finance bureau can see it with the case. "
        "(This is not yet a formal rectification report.)"
    ).format(what=what, id=reply_.case_id))


@guarded
async def overdue_command(update: Update, context: RectbotContext) -> None:
    await _show_overdue(update, context, 1)


async def _show_overdue(update: Update, context: RectbotContext, number: int) -> None:
    """A page of /overdue (also the digest's overdue button), for a supervisor or admin only."""
    person = require_role(context.person, Role.SUPERVISOR, Role.ADMIN)
    svc = context.services
    t = translator(person)
    listing = await overdue_listing(svc.db, svc.calendar, svc.settings, svc.now(), t, number)
    await show_listing(update, context, listing.text,
                       paging.with_nav(t, [], listing.page, lambda n: PAGE.build("overdue", n)))


async def _show_section(update: Update, context: RectbotContext, section: str, number: int) -> None:
    """A page of one of the digest's lists, recomputed now, for a supervisor or admin only."""
    if section == "overdue":
        await _show_overdue(update, context, number)
        return
    person = require_role(context.person, Role.SUPERVISOR, Role.ADMIN)
    svc = context.services
    t = translator(person)
    listing = await list_page(svc.db, svc.calendar, svc.settings, svc.now(), t, section, number)
    await show_listing(update, context, listing.text,
                       paging.with_nav(t, [], listing.page, lambda n: PAGE.build("dg", section, n)))


@guarded
async def digest_command(update: Update, context: RectbotContext) -> None:
    person = require_role(context.person, Role.SUPERVISOR, Role.ADMIN)
    svc = context.services
    digest, body = await digest_and_todo(svc.db, svc.calendar, svc.settings, svc.now())
    rendered = render_digest_with_todo(translator(person), digest, body)
    await reply(update, context, rendered.text, reply_markup=markup(rendered.buttons))


@guarded
async def digest_button(update: Update, context: RectbotContext) -> None:
    """dg:<section>: the current list's first page (authorized again; forged or unknown data changes nothing)."""
    query = update.callback_query
    assert query is not None
    require_role(context.person, Role.SUPERVISOR, Role.ADMIN)
    pressed = DIGEST.parse(query.data)
    if pressed is None:
        raise DomainError(STALE_BUTTON)
    await _show_section(update, context, pressed.action, 1)


@guarded
async def notice_page_button(update: Update, context: RectbotContext) -> None:
    """pg:nt:N on a reminder or escalation message listing several cases, and pg:nr:MESSAGE:N on the
    chooser a reply to one got: that page, recomputed for whoever pressed (their own message only)."""
    query = update.callback_query
    assert query is not None
    person = context.person
    pressed = PAGE.parse(query.data)
    if person is None or pressed is None:
        raise DomainError(STALE_BUTTON)
    svc = context.services
    t = translator(person)
    if pressed.action == "nr":
        rows = await notice_rows(svc.db, person, pressed.number(0))
        if len({r.case_id for r in rows}) < 2:
            raise DomainError(STALE_BUTTON)
        rendered = reply_chooser(t, person, pressed.number(0), rows, pressed.number(1))
    else:
        message = query.message
        found = await notice_page(svc.db, svc.renderers, t, person, message.message_id, pressed.number()) \
            if message is not None else None
        if found is None:
            raise DomainError(STALE_BUTTON)
        rendered = found
    await show_listing(update, context, rendered.text, rendered.buttons)


@guarded
async def page_button(update: Update, context: RectbotContext) -> None:
    """pg:overdue:N and pg:dg:<section>:N — another page of those lists, edited in place."""
    query = update.callback_query
    assert query is not None
    require_role(context.person, Role.SUPERVISOR, Role.ADMIN)
    pressed = PAGE.parse(query.data)
    if pressed is None:
        raise DomainError(STALE_BUTTON)
    if pressed.action == "overdue":
        await _show_overdue(update, context, pressed.number())
    else:
        await _show_section(update, context, pressed.text(0), pressed.number())


async def reminder_reply(update: Update, context: RectbotContext) -> None:
    """A text or document sent in reply to one of this person's reminders (or escalation notices).

    handlers.report intercepts liaisons' replies to start a report and delegates every other reply
    here; replies to anything that is not a reminder are ignored.
    """
    message = update.effective_message
    if message is None or message.reply_to_message is None:
        return
    person = context.person
    if person is None:
        return
    svc = context.services
    replied_id = message.reply_to_message.message_id
    rows = await notice_rows(svc.db, person, replied_id)
    if not rows:  # a reply to something else: not ours
        if message.chat.type == "private":
            await guidance.answer_stray(update, context)  # never silent
        return
    if len({r.case_id for r in rows}) > 1:  # a message listing several cases: which one?
        chooser = reply_chooser(translator(person), person, replied_id, rows, 1)
        await reply(update, context, chooser.text, reply_markup=markup(chooser.buttons))
        return
    row = rows[-1]
    assert row.case_id is not None
    doc = message.document
    reply_ = ReminderReply(
        person_id=person.id, case_id=row.case_id, outbox_id=row.id, kind=row.kind,
        text=message.text or message.caption or "",
        file_name=doc.file_name if doc else None, mime_type=doc.mime_type if doc else None,
        file_size=doc.file_size if doc else None, telegram_file_id=doc.file_id if doc else None,
    )
    await store_progress_note(update, context, reply_)


async def chat_member(update: Update, context: RectbotContext) -> None:
    """The person blocked (kicked) or unblocked the bot in their private chat."""
    change = update.my_chat_member
    if change is None or change.chat.type != "private":
        return
    person = context.person
    if person is None:
        return
    svc = context.services
    status = change.new_chat_member.status
    if status in ("kicked", "left"):
        await mark_unreachable(svc, person.id, reason=f"chat member status {status}")
    elif status == "member":
        await mark_reachable(svc, person)


def handlers() -> list[BaseHandler[Update, RectbotContext, object]]:
    return [
        CommandHandler("overdue", overdue_command),
        CommandHandler("digest", digest_command),
        CallbackQueryHandler(digest_button, pattern=DIGEST.pattern()),
        CallbackQueryHandler(page_button, pattern=PAGE.pattern("overdue", "dg")),
        CallbackQueryHandler(notice_page_button, pattern=PAGE.pattern("nt", "nr")),
        MessageHandler(filters.REPLY & (filters.TEXT | filters.Document.ALL) & ~filters.COMMAND, reminder_reply),
        ChatMemberHandler(chat_member, ChatMemberHandler.MY_CHAT_MEMBER),
    ]
