"""Supervisor journeys: review cards and decisions, /review, extension decisions, /budget, /spotcheck.

Decisions that need words (a return's reason and new deadline, a non-compliance note, a refusal
of an extension, another date) go through a small persistent ConversationHandler ("review");
one-tap decisions (销号, approve as proposed) are plain callback handlers. Every press is
authorized again in the domain (bot.review / bot.extensions): a liaison replaying a supervisor's
callback data gets a polite refusal and nothing changes.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

from telegram import Message, Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot import budget, extensions, review, spotcheck
from bot.case_text import case_title
from bot.commands import Command, register
from bot.dates import DateInputError, format_date, format_deadline, parse_natural_date
from bot.domain import Role
from bot.errors import DomainError, RectbotError
from bot.i18n import N_, Translator
from bot.people import BUREAU_ROLES, require_role
from bot.reports import evidence_path
from handlers.common import ack, guarded, markup, refuse_error, reply, sender, services, translator
from handlers.report import Buttons
from storage import reports as reports_repo

log = logging.getLogger(__name__)

REVIEW_NOTE, REVIEW_DUE, EXT_DATE, EXT_REASON = range(10, 14)
END = ConversationHandler.END

register(Command("review", N_("Reports awaiting your review"), BUREAU_ROLES))
register(Command("budget", N_("Budget suggestions by department (XLSX)"), BUREAU_ROLES))
register(Command("spotcheck", N_("Spot-check N closed cases at random: /spotcheck 5"), (Role.SUPERVISOR,)))


def _id(data: str | None) -> int:
    tail = (data or "").rsplit(":", 1)[-1]
    if not tail.isdigit() or len(tail) > 9:
        raise DomainError(N_("This button is no longer valid."))
    return int(tail)


async def _guard(update: Update, context: ContextTypes.DEFAULT_TYPE, coro: Any) -> int:
    try:
        result: int = await coro
        return result
    except RectbotError as exc:
        await refuse_error(update, context, exc)
        if context.user_data is not None:
            context.user_data.pop("review", None)
        return END


async def _close_card(update: Update, line: str) -> None:
    """Take the buttons off the card that was pressed and say what was decided on it."""
    query = update.callback_query
    message = query.message if query else None
    if query is None or not isinstance(message, Message):
        return
    try:
        if message.text is not None:
            await query.edit_message_text((message.text + "\n\n" + line)[:4096], reply_markup=None)
        else:
            await query.edit_message_reply_markup(reply_markup=None)
    except Exception:
        log.debug("could not update the card", exc_info=True)


def _decided_line(t: Translator, decided: review.Decided, person_name: str) -> str:
    line = t._("Decided by {name}: {decision}").format(
        name=person_name, decision=t._(review.DECISION_NAMES[review.Decision(decided.review.decision)]))
    if decided.review.new_due_on is not None:
        line += "\n" + t._("New deadline: {deadline}").format(
            deadline=format_deadline(decided.review.new_due_on, decided.case.due_provisional, t))
    return line


async def _decide(update: Update, context: ContextTypes.DEFAULT_TYPE, report_id: int, decision: str, *,
                  note: str = "", new_due_on: Any = None) -> review.Decided:
    svc = services(context)
    person = await sender(update, context)
    decided = await review.decide(svc.db, person, report_id, decision, note=note, new_due_on=new_due_on,
                                  now=svc.now(), today=svc.today(), calendar=svc.calendar,
                                  tz=svc.settings.bureau.tz)
    svc.wake_delivery()
    return decided


# --------------------------------------------------------------------------- review cards


@guarded
async def cb_close(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """rv:close:REPORT — accept and close (销号) in one tap."""
    query = update.callback_query
    assert query is not None
    person = await sender(update, context)
    t = translator(person)
    decided = await _decide(update, context, _id(query.data), "close")
    await ack(update, t._("Closed (销号)."))
    await _close_card(update, _decided_line(t, decided, person.name if person else ""))
    await reply(update, t._("Case #{id} is closed (销号). The liaison officers are told.").format(id=decided.case.id))


async def cb_needs_words(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """rv:(return_for_rework|refused|inadequate|falsely_reported):REPORT — ask for the reason or note."""

    async def go() -> int:
        svc = services(context)
        query = update.callback_query
        assert query is not None and query.data is not None and context.user_data is not None
        person = await sender(update, context)
        t = translator(person)
        decision = review.parse_decision(query.data.split(":")[1])
        report_id = _id(query.data)
        _report, case = await review.report_for_review(svc.db, person, report_id, svc.settings.bureau.tz)
        context.user_data["review"] = {"report_id": report_id, "decision": decision.value}
        if decision is review.Decision.RETURN_FOR_REWORK:
            ask = t._("Returning the report on {case} for rework. Please type the reason (what must be added "
                      "or corrected).")
        else:
            ask = t._("Recording on {case}: {decision}. Please type a note explaining the finding (required).")
        await reply(update, ask.format(case=case_title(t, case), decision=t._(review.DECISION_NAMES[decision])))
        return REVIEW_NOTE

    return await _guard(update, context, go())


async def on_review_note(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    async def go() -> int:
        svc = services(context)
        person = await sender(update, context)
        t = translator(person)
        message = update.effective_message
        assert message is not None and context.user_data is not None
        pending = context.user_data.get("review")
        if not pending:
            return END
        note = (message.text or "").strip()
        if not note:
            await reply(update, t._("Please type the note as text."))
            return REVIEW_NOTE
        pending["note"] = note
        if pending["decision"] == review.Decision.RETURN_FOR_REWORK:
            due, provisional = review.default_rework_deadline(svc.today(), svc.calendar)
            rows: Buttons = [[(t._("Use {date}").format(date=format_date(due, t)), "rv:due:default")]]
            await reply(update, t._("New deadline? The default is 10 working days: {deadline}. Press the button, or "
                                    "type another date (e.g. 2026-05-29, 5月29日).").format(
                deadline=format_deadline(due, provisional, t)), reply_markup=markup(rows))
            return REVIEW_DUE
        decided = await _decide(update, context, int(pending["report_id"]), str(pending["decision"]), note=note)
        context.user_data.pop("review", None)
        await reply(update, _decided_line(t, decided, person.name if person else ""))
        return END

    return await _guard(update, context, go())


async def on_review_due(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """The new deadline of a return: the default button or a typed date."""

    async def go() -> int:
        svc = services(context)
        person = await sender(update, context)
        t = translator(person)
        assert context.user_data is not None
        pending = context.user_data.get("review")
        if not pending or "note" not in pending:
            return END
        new_due = None
        if update.callback_query is None:
            message = update.effective_message
            assert message is not None
            try:
                new_due = parse_natural_date(message.text or "", svc.today())
            except DateInputError as exc:
                await reply(update, exc.render(t))
                return REVIEW_DUE
        decided = await _decide(update, context, int(pending["report_id"]), review.Decision.RETURN_FOR_REWORK,
                                note=str(pending["note"]), new_due_on=new_due)
        context.user_data.pop("review", None)
        await reply(update, _decided_line(t, decided, person.name if person else ""))
        return END

    return await _guard(update, context, go())


async def send_review_card(update: Update, context: ContextTypes.DEFAULT_TYPE, report_id: int) -> None:
    """/review → open: the card, then each evidence file (never for confidential cases)."""
    svc = services(context)
    person = await sender(update, context)
    t = translator(person)
    report, case = await review.report_for_review(svc.db, person, report_id, svc.settings.bureau.tz)
    card = await review.review_card(svc.db, t, report.id)
    await reply(update, card.text[:4096], reply_markup=markup(card.buttons))
    if case.confidential or update.effective_chat is None:
        return
    for ev in await reports_repo.evidence_of(svc.db, report.id):
        try:
            data = evidence_path(svc.settings.storage.files, ev).read_bytes()
        except (OSError, DomainError):
            await reply(update, t._("Evidence for {case}: the file is missing on the server.").format(
                case=case_title(t, case)))
            continue
        await update.effective_chat.send_document(document=data, filename=ev.file_name)


@guarded
async def cb_open_report(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await send_review_card(update, context, _id(query.data))


@guarded
async def cmd_review(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    person = await sender(update, context)
    t = translator(person)
    waiting = await review.awaiting_review(svc.db, person)
    if not waiting:
        await reply(update, t._("No report is awaiting review."))
        return
    lines = [t.ngettext("{n} report awaits review:", "{n} reports await review:", len(waiting)).format(n=len(waiting))]
    rows: Buttons = []
    for report, case in waiting[:50]:
        late = "" if report.on_time else " · " + t._("late")
        lines.append(f"· {case_title(t, case)} — {report.author_name}, {format_date(report.submitted_on, t)}{late}")
        rows.append([(t._("Open #{id}").format(id=case.id), f"rv:open:{report.id}")])
    await reply(update, "\n".join(lines)[:4096], reply_markup=markup(rows))


# --------------------------------------------------------------------------- extension requests


@guarded
async def cb_ext_approve(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    query = update.callback_query
    assert query is not None
    person = await sender(update, context)
    t = translator(person)
    decided = await extensions.decide_extension(svc.db, person, _id(query.data), approve=True, now=svc.now(),
                                                today=svc.today(), calendar=svc.calendar)
    svc.wake_delivery()
    line = _ext_line(t, decided)
    await _close_card(update, line)
    await reply(update, line)


def _ext_line(t: Translator, decided: extensions.ExtensionDecided) -> str:
    if decided.request.state == "approved":
        return t._("Extension for case #{id} approved: the deadline moves from {old} to {new}.").format(
            id=decided.case.id, old=format_date(decided.request.previous_due_on, t),
            new=format_deadline(decided.request.granted_due_on, decided.case.due_provisional, t))
    return t._("Extension for case #{id} refused; the deadline stays {deadline}.").format(
        id=decided.case.id, deadline=format_deadline(decided.case.due_on, decided.case.due_provisional, t))


async def cb_ext_words(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """ex:other:ID asks for a date; ex:refuse:ID asks for the reason."""

    async def go() -> int:
        svc = services(context)
        query = update.callback_query
        assert query is not None and query.data is not None and context.user_data is not None
        person = await sender(update, context)
        t = translator(person)
        request_id = _id(query.data)
        request, case = await extensions.pending_request(svc.db, person, request_id)
        context.user_data["review"] = {"extension_id": request_id}
        if query.data.startswith("ex:other:"):
            await reply(update, t._("Which deadline do you grant for {case}? Type a date (e.g. 2026-05-29, 5月29日); "
                                    "proposed: {date}.").format(case=case_title(t, case),
                                                               date=format_date(request.proposed_due_on, t)))
            return EXT_DATE
        await reply(update, t._("Please type the reason for refusing the extension of {case}.").format(
            case=case_title(t, case)))
        return EXT_REASON

    return await _guard(update, context, go())


def _pending_extension_id(context: ContextTypes.DEFAULT_TYPE) -> int | None:
    """The extension request this supervisor is deciding in the conversation, if any."""
    pending = (context.user_data or {}).get("review") or {}
    return int(pending["extension_id"]) if "extension_id" in pending else None


async def _decide_extension(update: Update, context: ContextTypes.DEFAULT_TYPE, extension_id: int,
                            **decision: Any) -> int:
    """Record the decision (the domain checks who may decide), tell the people, end the conversation."""
    svc = services(context)
    person = await sender(update, context)
    decided = await extensions.decide_extension(svc.db, person, extension_id, now=svc.now(), today=svc.today(),
                                                calendar=svc.calendar, **decision)
    svc.wake_delivery()
    if context.user_data is not None:
        context.user_data.pop("review", None)
    await reply(update, _ext_line(translator(person), decided))
    return END


async def on_ext_date(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    async def go() -> int:
        extension_id = _pending_extension_id(context)
        if extension_id is None:
            return END
        svc = services(context)
        message = update.effective_message
        assert message is not None
        try:
            granted = parse_natural_date(message.text or "", svc.today())
        except DateInputError as exc:
            await reply(update, exc.render(translator(await sender(update, context))))
            return EXT_DATE
        return await _decide_extension(update, context, extension_id, approve=True, granted_due_on=granted)

    return await _guard(update, context, go())


async def on_ext_reason(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    async def go() -> int:
        extension_id = _pending_extension_id(context)
        if extension_id is None:
            return END
        message = update.effective_message
        assert message is not None
        return await _decide_extension(update, context, extension_id, approve=False, note=message.text or "")

    return await _guard(update, context, go())


async def cmd_cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    t = translator(await sender(update, context))
    if context.user_data is not None:
        context.user_data.pop("review", None)
    await reply(update, t._("Cancelled; nothing was decided."))
    return END


# --------------------------------------------------------------------------- /budget, /spotcheck


@guarded
async def cmd_budget(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    person = await sender(update, context)
    t = translator(person)
    lines = await budget.budget_lines(svc.db, person)
    await reply(update, budget.budget_text(lines, t)[:4096])
    if lines and update.effective_chat is not None:
        data = budget.budget_xlsx(lines, t)
        name = f"budget-suggestions-{svc.today().isoformat()}.xlsx"
        await update.effective_chat.send_document(document=data, filename=name)


@guarded
async def cmd_spotcheck(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    person = await sender(update, context)
    require_role(person, Role.SUPERVISOR)
    t = translator(person)
    args = context.args or []
    if len(args) != 1 or not args[0].isdigit():
        raise DomainError(N_("Give the number of cases to draw, from 1 to {max}: /spotcheck 5"), max=spotcheck.MAX_DRAW)
    result = await spotcheck.spot_check(svc.db, person, int(args[0]), now=svc.now(), today=svc.today(),
                                        calendar=svc.calendar)
    svc.wake_delivery()
    lines = [t._("Spot check drawn from {n} closed cases (seed {seed}, recorded in the audit log):").format(
        n=len(result.candidates), seed=result.seed)]
    for new in result.opened:
        lines.append(t._("· case #{origin} → check case #{id}, {department}, deadline {deadline}").format(
            origin=new.origin_case_id, id=new.id, department=new.department_name,
            deadline=format_deadline(new.due_on, new.due_provisional, t)))
    await reply(update, "\n".join(lines)[:4096])


# --------------------------------------------------------------------------- wiring


def conversation() -> ConversationHandler[ContextTypes.DEFAULT_TYPE]:
    with warnings.catch_warnings():  # per_message=False is intended: ids travel in the callback data
        warnings.simplefilter("ignore", PTBUserWarning)
        return _conversation()


def _conversation() -> ConversationHandler[ContextTypes.DEFAULT_TYPE]:
    return ConversationHandler(
        name="review",
        persistent=True,
        allow_reentry=True,
        entry_points=[
            CallbackQueryHandler(cb_needs_words,
                                 pattern=r"^rv:(return_for_rework|refused|inadequate|falsely_reported):"),
            CallbackQueryHandler(cb_ext_words, pattern=r"^ex:(other|refuse):"),
        ],
        states={
            REVIEW_NOTE: [MessageHandler(filters.TEXT & ~filters.COMMAND, on_review_note)],
            REVIEW_DUE: [MessageHandler(filters.TEXT & ~filters.COMMAND, on_review_due),
                         CallbackQueryHandler(on_review_due, pattern=r"^rv:due:default$")],
            EXT_DATE: [MessageHandler(filters.TEXT & ~filters.COMMAND, on_ext_date)],
            EXT_REASON: [MessageHandler(filters.TEXT & ~filters.COMMAND, on_ext_reason)],
        },
        fallbacks=[CommandHandler("cancel", cmd_cancel)],
    )


def handlers() -> list[BaseHandler[Update, ContextTypes.DEFAULT_TYPE, object]]:
    return [
        conversation(),
        CallbackQueryHandler(cb_close, pattern=r"^rv:close:"),
        CallbackQueryHandler(cb_open_report, pattern=r"^rv:open:"),
        CallbackQueryHandler(cb_ext_approve, pattern=r"^ex:approve:"),
        CommandHandler("review", cmd_review),
        CommandHandler("budget", cmd_budget),
        CommandHandler("spotcheck", cmd_spotcheck),
    ]

