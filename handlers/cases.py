"""Cases in chat: 确认收到 on the feedback card, /feedback, /received, /changedue, /case.

Thin by design: parse the update, call bot.cases with plain values, render, reply. Every button
press is authorized again by the domain. The /new wizard is handlers/new_case.py; importing and
exporting the ledger is handlers/ledger.py.
"""

from __future__ import annotations

import contextlib
from typing import Any

from telegram import Message, Update
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot import case_text, cases, ladder
from bot.callbacks import RECEIPT
from bot.dates import Direction, format_deadline, parse_natural_date
from bot.domain import Person
from bot.errors import DomainError
from bot.i18n import N_
from bot.people import BUREAU_ROLES, require_role
from handlers.common import STALE_BUTTON, RectbotContext, ack, guarded, reply, translator


def _bureau(context: RectbotContext) -> Person:
    """The sender, who must be bureau staff."""
    return require_role(context.person, *BUREAU_ROLES)


# --------------------------------------------------------------------------- feedback and receipt


@guarded
async def acknowledge(update: Update, context: RectbotContext) -> None:
    """确认收到: callback data is input — the domain checks the person and the case again."""
    query = update.callback_query
    assert query is not None
    person = context.person
    t = translator(person)
    pressed = RECEIPT.parse(query.data)
    if pressed is None or person is None:
        raise DomainError(STALE_BUTTON)
    case_id = pressed.number()
    svc = context.services
    receipt = await cases.acknowledge_receipt(svc.db, svc.calendar, case_id, person=person, now=svc.now(),
                                              today=svc.today())
    answer = case_text.receipt_answer(t, receipt)
    await ack(update, context, answer[:190], alert=receipt.already)
    message = query.message
    if isinstance(message, Message):  # the card itself says it is done: no button, no stale prompt
        with contextlib.suppress(TelegramError):
            await message.edit_text(case_text.confirmed_feedback_card(t, receipt.case), reply_markup=None)
    if update.effective_chat is not None:
        await update.effective_chat.send_message(answer)


def _case_arg(context: RectbotContext, usage: str) -> int:
    args = context.args or []
    text = args[0].lstrip("#第").rstrip("号") if args else ""
    if not text.isdigit():
        raise DomainError(usage)
    return int(text)


@guarded
async def feedback_command(update: Update, context: RectbotContext) -> None:
    person = _bureau(context)
    case_id = _case_arg(context, N_("Usage: /feedback CASE_NUMBER"))
    svc = context.services
    t = translator(person)
    result = await cases.send_feedback(svc.db, case_id, actor=person, now=svc.now(), today=svc.today())
    label, department = case_text.case_label(t, case_id), result.case.department_name
    if result.recipients == 0:
        await reply(update, context, t._("{department} has no registered liaison officer yet, so nobody can receive "
                                         "the feedback card. Invite one (/invite liaison {department}), then send it "
                                         "with /feedback {id}.").format(department=department, id=case_id))
        return
    if result.enqueued == 0:
        await reply(update, context, t._("The feedback of {case} has already been sent to every liaison officer of "
                                         "{department}.").format(case=label, department=department))
        return
    await reply(update, context, t._("The feedback of {case} is being sent to {n} liaison officer(s) of {department}.")
                .format(case=label, n=result.enqueued, department=department))
    svc.wake_delivery()


@guarded
async def received_command(update: Update, context: RectbotContext) -> None:
    """/received CASE DATE: the bureau records the receipt by hand (e.g. a signed paper copy)."""
    person = _bureau(context)
    usage = N_("Usage: /received CASE_NUMBER DATE (e.g. /received 12 昨天)")
    case_id = _case_arg(context, usage)
    args = context.args or []
    if len(args) < 2:
        raise DomainError(usage)
    svc = context.services
    t = translator(person)
    when = parse_natural_date(" ".join(args[1:]), svc.today(), direction=Direction.PAST)
    receipt = await cases.record_receipt(svc.db, svc.calendar, case_id, when, actor=person, now=svc.now(),
                                         today=svc.today())
    await reply(update, context, case_text.receipt_answer(t, receipt))
    if not receipt.already:
        svc.wake_delivery()


@guarded
async def change_due_command(update: Update, context: RectbotContext) -> None:
    """/changedue CASE DATE REASON: a new deadline, always with a reason; the liaisons are told."""
    person = _bureau(context)
    usage = N_("Usage: /changedue CASE_NUMBER DATE REASON (e.g. /changedue 12 2026-06-30 单位申请延期，经领导同意)")
    case_id = _case_arg(context, usage)
    args = context.args or []
    if len(args) < 3:
        raise DomainError(usage)
    svc = context.services
    t = translator(person)
    when = parse_natural_date(args[1], svc.today(), direction=Direction.FUTURE)
    case = await cases.change_deadline(svc.db, case_id, when, " ".join(args[2:]), actor=person, now=svc.now(),
                                       today=svc.today())
    label, deadline = case_text.case_label(t, case.id), format_deadline(case.due_on, case.due_provisional, t)
    await reply(update, context, t._("The deadline of {case} is now {date}; its liaison officers are being told.")
                .format(case=label, date=deadline))
    svc.wake_delivery()


@guarded
async def case_command(update: Update, context: RectbotContext) -> None:
    person = context.person
    assert person is not None
    case_id = _case_arg(context, N_("Usage: /case CASE_NUMBER"))
    svc = context.services
    t = translator(person)
    view = await cases.view_case(svc.db, case_id, person)
    text = case_text.render_case(t, view.case, view.history, view.names, svc.settings.bureau.tz, svc.history_labels)
    text += "\n\n" + await ladder.case_ladder_line(svc.db, svc.calendar, svc.settings, t, view.case, svc.today())
    for start in range(0, len(text), 4000):
        await reply(update, context, text[start:start + 4000])


def handlers() -> list[BaseHandler[Update, RectbotContext, Any]]:
    return [
        CallbackQueryHandler(acknowledge, pattern=RECEIPT.pattern("ack")),
        CommandHandler("feedback", feedback_command),
        CommandHandler("received", received_command),
        CommandHandler("changedue", change_due_command),
        CommandHandler("case", case_command),
    ]
