"""Supervisor journeys: review cards and decisions, /review, extension decisions, /budget, /spotcheck.

Decisions that need words (a return's reason and deadline, 销号's optional 审核意见 and its
confirmation, a non-compliance note, a refusal of an extension, another date) go through a small
persistent ConversationHandler ("review"); approving an extension as proposed is one tap. Every press is
authorized again in the domain (bot.review / bot.extensions): a liaison replaying a supervisor's
callback data gets a polite refusal and nothing changes.
"""

from __future__ import annotations

import logging
import warnings
from datetime import date
from pathlib import Path
from typing import Any

from telegram import Message, Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot import budget, extensions, paging, review, spotcheck
from bot.callbacks import (
    EXTENSION,
    OPEN_CASE,
    PAGE,
    REVIEW,
    REVIEW_CLOSE_STEPS,
    REVIEW_NEEDS_WORDS,
    Callback,
    CallbackCodec,
)
from bot.case_text import case_title
from bot.dates import DateInputError, Direction, format_date, format_deadline, parse_natural_date
from bot.domain import Case, Report
from bot.errors import DomainError
from bot.i18n import N_, Translator
from bot.people import BUREAU_ROLES, require_role
from handlers.common import STALE_BUTTON, RectbotContext, ack, guarded, markup, reply, show_listing, translator
from handlers.report import Buttons

log = logging.getLogger(__name__)

REVIEW_NOTE, REVIEW_DUE, EXT_DATE, EXT_REASON, REVIEW_CLOSE_NOTE, REVIEW_CLOSE_CONFIRM = range(10, 16)
END = ConversationHandler.END

PENDING = "review"  # user_data key of the decision waiting for the supervisor's words
NEW_DUE_AFTER_TODAY = N_("The new deadline must be after today.")
GRANTED_TOO_EARLY = N_("The deadline granted must be after the current deadline ({deadline}) and after today.")


def _pressed(update: Update, codec: CallbackCodec) -> Callback:
    """The button pressed, or the stale-button refusal for data that does not parse."""
    pressed = codec.parse(update.callback_query.data if update.callback_query else None)
    if pressed is None:
        raise DomainError(STALE_BUTTON)
    return pressed


async def _close_card(update: Update, line: str) -> None:
    """Take the buttons off the card that was pressed and say what was decided on it (if `line`)."""
    query = update.callback_query
    message = query.message if query else None
    if query is None or not isinstance(message, Message):
        return
    try:
        if message.text is not None and line:
            await query.edit_message_text((message.text + "\n\n" + line)[:4096], reply_markup=None)
        else:
            await query.edit_message_reply_markup(reply_markup=None)
    except Exception:
        log.debug("could not update the card", exc_info=True)


def _decided_line(t: Translator, decided: review.Decided, person_name: str) -> str:
    line = t._("Decided by {name}: {decision}").format(
        name=person_name, decision=t._(review.DECISION_NAMES[review.Decision(decided.review.decision)]))
    if decided.review.decision == review.Decision.RETURN_FOR_REWORK:
        line += "\n" + rework_due_line(t, decided.review.new_due_on, decided.previous_due_on,
                                       decided.case.due_provisional)
    return line


def rework_due_line(t: Translator, new_due: date | None, previous: date | None, provisional: bool) -> str:
    """What a return did to the deadline: kept, moved later, or — said plainly — brought forward."""
    if new_due is None:
        return t._("Deadline unchanged: {deadline}").format(deadline=format_deadline(previous, provisional, t))
    line = t._("New deadline: {deadline}").format(deadline=format_deadline(new_due, provisional, t))
    if previous is not None and new_due < previous:
        line += "\n" + t._("Note: this is earlier than the previous deadline {previous}.").format(
            previous=format_date(previous, t))
    return line


async def _decide(context: RectbotContext, report_id: int, decision: str, *, note: str = "",
                  new_due_on: date | None = None, keep_due: bool = False,
                  allow_earlier: bool = False) -> review.Decided:
    svc = context.services
    decided = await review.decide(svc.db, context.person, report_id, decision, note=note, new_due_on=new_due_on,
                                  keep_due=keep_due, allow_earlier=allow_earlier, now=svc.now(), today=svc.today(),
                                  calendar=svc.calendar, tz=svc.settings.bureau.tz)
    svc.wake_delivery()
    return decided


# --------------------------------------------------------------------------- review cards


@guarded(on_refusal=END, forget=PENDING)
async def cb_close_flow(update: Update, context: RectbotContext) -> int:
    """rv:close|nonote|closeok|back:REPORT — 销号 in two steps: an optional 审核意见, then 确认销号.

    Every press re-checks the role and that the report still awaits review (report_for_review);
    a press for another report than the one being closed is a stale button.
    """
    svc = context.services
    assert context.user_data is not None
    t = translator(context.person)
    pressed = _pressed(update, REVIEW)
    report_id = pressed.number()
    _report, case = await review.report_for_review(svc.db, context.person, report_id, svc.settings.bureau.tz)
    pending = context.user_data.get(PENDING) or {}
    if pressed.action == "close":
        context.user_data[PENDING] = {"report_id": report_id, "decision": review.Decision.CLOSE.value}
        await ack(update, context)
        await reply(update, context, t._("Closing {case} (销号). Please type your review opinion (审核意见), or "
                                         "press No opinion.").format(case=case_title(t, case)),
                    reply_markup=markup([[(t._("No opinion"), REVIEW.build("nonote", report_id)),
                                          (t._("Back"), REVIEW.build("back", report_id))]]))
        return REVIEW_CLOSE_NOTE
    if pending.get("report_id") != report_id or pending.get("decision") != review.Decision.CLOSE:
        raise DomainError(STALE_BUTTON)
    if pressed.action == "back":
        context.user_data.pop(PENDING, None)
        await _close_card(update, "")
        await reply(update, context, t._("Not closed; the report on {case} still awaits review (/review).").format(
            case=case_title(t, case)))
        return END
    if pressed.action == "nonote":
        pending["note"] = ""
        await _close_card(update, "")
        return await _ask_close_confirm(update, context, case)
    if "note" not in pending:
        raise DomainError(STALE_BUTTON)
    decided = await _decide(context, report_id, "close", note=str(pending["note"]))
    context.user_data.pop(PENDING, None)
    person = context.person
    await ack(update, context, t._("Closed (销号)."))
    await _close_card(update, _decided_line(t, decided, person.name if person else ""))
    await reply(update, context,
                t._("Case #{id} is closed (销号). The liaison officers are told.").format(id=decided.case.id),
                reply_markup=markup([[(t._("History of #{id}").format(id=decided.case.id),
                                       OPEN_CASE.build("o", decided.case.id))]]))
    return END


async def _ask_close_confirm(update: Update, context: RectbotContext, case: Case) -> int:
    """The check step of 销号: the case and the opinion, and nothing recorded before 确认销号."""
    t = translator(context.person)
    assert context.user_data is not None
    pending = context.user_data[PENDING]
    note = str(pending.get("note") or "")
    report_id = int(pending["report_id"])
    await reply(update, context, "\n".join([
        t._("Close {case} (销号)?").format(case=case_title(t, case)),
        t._("Review opinion: {note}").format(note=note or t._("none")),
        t._("Press Confirm to close the case, or type another opinion."),
    ]), reply_markup=markup([[(t._("Confirm closing (确认销号)"), REVIEW.build("closeok", report_id)),
                              (t._("Back"), REVIEW.build("back", report_id))]]))
    return REVIEW_CLOSE_CONFIRM


@guarded(on_refusal=END, forget=PENDING)
async def on_close_note(update: Update, context: RectbotContext) -> int:
    """A typed 审核意见 (at the opinion step, or at the check step to replace it)."""
    svc = context.services
    t = translator(context.person)
    message = update.effective_message
    assert message is not None and context.user_data is not None
    pending = context.user_data.get(PENDING)
    if not pending or pending.get("decision") != review.Decision.CLOSE:
        return END
    note = (message.text or "").strip()
    if len(note) > review.MAX_NOTE_CHARS:
        await reply(update, context, t._("The note is too long ({limit} characters at most).").format(
            limit=review.MAX_NOTE_CHARS))
        return REVIEW_CLOSE_CONFIRM if "note" in pending else REVIEW_CLOSE_NOTE
    pending["note"] = note
    _report, case = await review.report_for_review(svc.db, context.person, int(pending["report_id"]),
                                                   svc.settings.bureau.tz)
    return await _ask_close_confirm(update, context, case)


@guarded(on_refusal=END, forget=PENDING)
async def cb_needs_words(update: Update, context: RectbotContext) -> int:
    """rv:(return_for_rework|refused|inadequate|falsely_reported):REPORT — ask for the reason or note."""
    svc = context.services
    assert context.user_data is not None
    person = context.person
    t = translator(person)
    pressed = _pressed(update, REVIEW)
    decision = review.parse_decision(pressed.action)
    report_id = pressed.number()
    _report, case = await review.report_for_review(svc.db, person, report_id, svc.settings.bureau.tz)
    context.user_data[PENDING] = {"report_id": report_id, "decision": decision.value}
    if decision is review.Decision.RETURN_FOR_REWORK:
        ask = t._("Returning the report on {case} for rework. Please type the reason (what must be added "
                  "or corrected).")
    else:
        ask = t._("Recording on {case}: {decision}. Please type a note explaining the finding (required).")
    await reply(update, context, ask.format(case=case_title(t, case),
                                            decision=t._(review.DECISION_NAMES[decision])))
    return REVIEW_NOTE


@guarded(on_refusal=END, forget=PENDING)
async def on_review_note(update: Update, context: RectbotContext) -> int:
    person = context.person
    t = translator(person)
    message = update.effective_message
    assert message is not None and context.user_data is not None
    pending = context.user_data.get(PENDING)
    if not pending:
        return END
    note = (message.text or "").strip()
    if not note:
        await reply(update, context, t._("Please type the note as text."))
        return REVIEW_NOTE
    pending["note"] = note
    if pending["decision"] == review.Decision.RETURN_FOR_REWORK:
        return await _ask_rework_due(update, context)
    decided = await _decide(context, int(pending["report_id"]), str(pending["decision"]), note=note)
    context.user_data.pop(PENDING, None)
    await reply(update, context, _decided_line(t, decided, person.name if person else ""))
    return END


async def _ask_rework_due(update: Update, context: RectbotContext) -> int:
    """The deadline after a return: the current one shown, [保持原期限] while it is ahead, the default
    (10 working days) as a button, or a typed date (asked again after a bad one)."""
    svc = context.services
    t = translator(context.person)
    assert context.user_data is not None
    pending = context.user_data[PENDING]
    _report, case = await review.report_for_review(svc.db, context.person, int(pending["report_id"]),
                                                   svc.settings.bureau.tz)
    due, provisional = review.default_rework_deadline(svc.today(), svc.calendar)
    rows: Buttons = []
    lines = [t._("Current deadline: {deadline}").format(
        deadline=format_deadline(case.due_on, case.due_provisional, t))]
    if review.may_keep_deadline(case, svc.today()):
        rows.append([(t._("Keep the current deadline"), REVIEW.build("due", "keep"))])
        lines.append(t._("Keep the current deadline, or set a new one: type a date (e.g. 2026-05-29, 5月29日), "
                         "or take the default of 10 working days: {deadline}.").format(
            deadline=format_deadline(due, provisional, t)))
    else:
        lines.append(t._("The current deadline has passed. Set a new one: type a date (e.g. 2026-05-29, 5月29日), "
                         "or take the default of 10 working days: {deadline}.").format(
            deadline=format_deadline(due, provisional, t)))
    rows.append([(t._("Use {date}").format(date=format_date(due, t)), REVIEW.build("due", "default"))])
    await reply(update, context, "\n".join(lines), reply_markup=markup(rows))
    return REVIEW_DUE


async def _ask_earlier(update: Update, context: RectbotContext, exc: review.EarlierThanDeadline) -> int:
    """A date before the current deadline: say so, and take it only on an explicit second press."""
    t = translator(context.person)
    assert context.user_data is not None
    context.user_data[PENDING]["due"] = exc.new.isoformat()
    rows: Buttons = [[(t._("Yes, bring it forward to {date}").format(date=format_date(exc.new, t)),
                       REVIEW.build("due", "yes"))],
                     [(t._("Keep the current deadline"), REVIEW.build("due", "keep"))]]
    await reply(update, context, t._("The new deadline {new} is earlier than the current deadline {current}: the "
                                     "unit would get less time. Bring the deadline forward? You may also type "
                                     "another date.").format(new=format_date(exc.new, t),
                                                             current=format_date(exc.current, t)),
                reply_markup=markup(rows))
    return REVIEW_DUE


@guarded(on_refusal=END, forget=PENDING)
async def on_review_due(update: Update, context: RectbotContext) -> int:
    """The deadline after a return: 保持原期限, the default, a confirmed earlier date, or a typed date."""
    svc = context.services
    person = context.person
    t = translator(person)
    assert context.user_data is not None
    pending = context.user_data.get(PENDING)
    if not pending or "note" not in pending:
        return END
    new_due: date | None = None
    keep = earlier = False
    if update.callback_query is not None:
        choice = _pressed(update, REVIEW).text(0)
        keep = choice == "keep"
        if choice == "yes":
            if "due" not in pending:
                raise DomainError(STALE_BUTTON)
            new_due, earlier = date.fromisoformat(str(pending["due"])), True
    else:
        message = update.effective_message
        assert message is not None
        try:
            new_due = parse_natural_date(message.text or "", svc.today(), direction=Direction.FUTURE)
            if new_due <= svc.today():  # checked here too, so that the step stays instead of ending
                raise DateInputError(NEW_DUE_AFTER_TODAY)
        except DateInputError as exc:
            await reply(update, context, exc.render(t))
            return await _ask_rework_due(update, context)
    try:
        decided = await _decide(context, int(pending["report_id"]), review.Decision.RETURN_FOR_REWORK,
                                note=str(pending["note"]), new_due_on=new_due, keep_due=keep, allow_earlier=earlier)
    except review.EarlierThanDeadline as exc:
        return await _ask_earlier(update, context, exc)
    context.user_data.pop(PENDING, None)
    if update.callback_query is not None:
        await _close_card(update, "")
    await reply(update, context, _decided_line(t, decided, person.name if person else ""))
    return END


async def send_review_card(update: Update, context: RectbotContext, report_id: int) -> None:
    """/review → open: the card, then each evidence file (never for confidential cases)."""
    svc = context.services
    person = context.person
    t = translator(person)
    report, case = await review.report_for_review(svc.db, person, report_id, svc.settings.bureau.tz)
    card = await review.review_card(svc.db, t, report.id)
    await reply(update, context, card.text[:4096], reply_markup=markup(card.buttons))
    if case.confidential or update.effective_chat is None:
        return
    files_root = Path(svc.settings.storage.files)
    for evidence_id in await review.evidence_ids(svc.db, report.id):
        try:
            name, data = await review.evidence_document(svc.db, report.id, evidence_id, files_root)
        except (OSError, DomainError):
            await reply(update, context, t._("Evidence for {case}: the file is missing on the server.").format(
                case=case_title(t, case)))
            continue
        await update.effective_chat.send_document(document=data, filename=name)


@guarded
async def cb_open_report(update: Update, context: RectbotContext) -> None:
    """rv:open:REPORT — from /review's list."""
    await send_review_card(update, context, _pressed(update, REVIEW).number())


def review_listing(t: Translator, waiting: list[tuple[Report, Case]], number: int) -> tuple[str, Buttons]:
    """One page of /review: the reports awaiting a decision, oldest first, an Open button each, ◀ ▶."""
    shown = paging.page(waiting, number)
    lines = [t.ngettext("{n} report awaits review:", "{n} reports await review:", len(waiting)).format(n=len(waiting))]
    rows: Buttons = []
    for report, case in shown.items:
        late = "" if report.on_time else " · " + t._("late")
        lines.append(f"· {case_title(t, case)} — {report.author_name}, {format_date(report.submitted_on, t)}{late}")
        rows.append([(t._("Open #{id}").format(id=case.id), REVIEW.build("open", report.id))])
    return (paging.with_page_line(t, "\n".join(lines), shown),
            paging.with_nav(t, rows, shown, lambda n: PAGE.build("review", n)))


@guarded
async def cmd_review(update: Update, context: RectbotContext) -> None:
    await _show_review(update, context, 1)


async def _show_review(update: Update, context: RectbotContext, number: int) -> None:
    svc = context.services
    t = translator(context.person)
    waiting = await review.awaiting_review(svc.db, context.person)  # checks the role, on every page
    if not waiting:
        await reply(update, context, t._("No report is awaiting review."))
        return
    await show_listing(update, context, *review_listing(t, waiting, number))


# --------------------------------------------------------------------------- extension requests


@guarded
async def cb_ext_approve(update: Update, context: RectbotContext) -> None:
    """ex:approve:REQUEST — grant the proposed date in one tap."""
    svc = context.services
    person = context.person
    t = translator(person)
    decided = await extensions.decide_extension(svc.db, person, _pressed(update, EXTENSION).number(), approve=True,
                                                now=svc.now(), today=svc.today(), calendar=svc.calendar)
    svc.wake_delivery()
    line = _ext_line(t, decided)
    await _close_card(update, line)
    await reply(update, context, line)


def _ext_line(t: Translator, decided: extensions.ExtensionDecided) -> str:
    if decided.request.state == "approved":
        return t._("Extension for case #{id} approved: the deadline moves from {old} to {new}.").format(
            id=decided.case.id, old=format_date(decided.request.previous_due_on, t),
            new=format_deadline(decided.request.granted_due_on, decided.case.due_provisional, t))
    return t._("Extension for case #{id} refused; the deadline stays {deadline}.").format(
        id=decided.case.id, deadline=format_deadline(decided.case.due_on, decided.case.due_provisional, t))


@guarded(on_refusal=END, forget=PENDING)
async def cb_ext_words(update: Update, context: RectbotContext) -> int:
    """ex:other:ID asks for a date; ex:refuse:ID asks for the reason."""
    svc = context.services
    assert context.user_data is not None
    person = context.person
    t = translator(person)
    pressed = _pressed(update, EXTENSION)
    request_id = pressed.number()
    request, case = await extensions.pending_request(svc.db, person, request_id)
    context.user_data[PENDING] = {"extension_id": request_id}
    if pressed.action == "other":
        return await _ask_granted_date(update, context, request.proposed_due_on, case)
    await reply(update, context, t._("Please type the reason for refusing the extension of {case}.").format(
        case=case_title(t, case)))
    return EXT_REASON


async def _ask_granted_date(update: Update, context: RectbotContext, proposed: date, case: Case) -> int:
    t = translator(context.person)
    await reply(update, context, t._("Which deadline do you grant for {case}? Type a date (e.g. 2026-05-29, "
                                     "5月29日); proposed: {date}.").format(
        case=case_title(t, case), date=format_date(proposed, t)))
    return EXT_DATE


def _pending_extension_id(context: RectbotContext) -> int | None:
    """The extension request this supervisor is deciding in the conversation, if any."""
    pending = (context.user_data or {}).get(PENDING) or {}
    return int(pending["extension_id"]) if "extension_id" in pending else None


async def _decide_extension(update: Update, context: RectbotContext, extension_id: int, **decision: Any) -> int:
    """Record the decision (the domain checks who may decide), tell the people, end the conversation."""
    svc = context.services
    person = context.person
    decided = await extensions.decide_extension(svc.db, person, extension_id, now=svc.now(), today=svc.today(),
                                                calendar=svc.calendar, **decision)
    svc.wake_delivery()
    if context.user_data is not None:
        context.user_data.pop(PENDING, None)
    await reply(update, context, _ext_line(translator(person), decided))
    return END


@guarded(on_refusal=END, forget=PENDING)
async def on_ext_date(update: Update, context: RectbotContext) -> int:
    extension_id = _pending_extension_id(context)
    if extension_id is None:
        return END
    message = update.effective_message
    assert message is not None
    svc = context.services
    request, case = await extensions.pending_request(svc.db, context.person, extension_id)
    try:
        granted = parse_natural_date(message.text or "", svc.today(), direction=Direction.FUTURE)
        if granted <= svc.today() or (case.due_on is not None and granted <= case.due_on):
            # the domain refuses it too, but there the refusal would end the conversation
            raise DateInputError(GRANTED_TOO_EARLY, deadline=format_date(case.due_on, translator(context.person)))
    except DateInputError as exc:  # why, and the same question again: the step stays
        await reply(update, context, exc.render(translator(context.person)))
        return await _ask_granted_date(update, context, request.proposed_due_on, case)
    return await _decide_extension(update, context, extension_id, approve=True, granted_due_on=granted)


@guarded(on_refusal=END, forget=PENDING)
async def on_ext_reason(update: Update, context: RectbotContext) -> int:
    extension_id = _pending_extension_id(context)
    if extension_id is None:
        return END
    message = update.effective_message
    assert message is not None
    return await _decide_extension(update, context, extension_id, approve=False, note=message.text or "")


async def cmd_cancel(update: Update, context: RectbotContext) -> int:
    t = translator(context.person)
    if context.user_data is not None:
        context.user_data.pop(PENDING, None)
    await reply(update, context, t._("Cancelled; nothing was decided."))
    return END


# --------------------------------------------------------------------------- /budget, /spotcheck


@guarded
async def cmd_budget(update: Update, context: RectbotContext) -> None:
    """The first page of the listing in chat, then the whole listing as a spreadsheet."""
    svc = context.services
    person = context.person
    t = translator(person)
    lines = await budget.budget_lines(svc.db, person)
    await show_listing(update, context, *_budget_page(t, lines, 1))
    if lines and update.effective_chat is not None:
        data = budget.budget_xlsx(lines, t)
        name = f"budget-suggestions-{svc.today().isoformat()}.xlsx"
        await update.effective_chat.send_document(document=data, filename=name)


def _budget_page(t: Translator, lines: list[budget.BudgetLine], number: int) -> tuple[str, Buttons]:
    listing = budget.budget_page(lines, t, number)
    return listing.text, paging.with_nav(t, [], listing.page, lambda n: PAGE.build("budget", n))


@guarded
async def cb_list_page(update: Update, context: RectbotContext) -> None:
    """pg:review|budget:N — another page, recomputed for whoever pressed (the domain checks the role)."""
    pressed = _pressed(update, PAGE)
    if pressed.action == "review":
        await _show_review(update, context, pressed.number())
        return
    lines = await budget.budget_lines(context.services.db, context.person)
    await show_listing(update, context, *_budget_page(translator(context.person), lines, pressed.number()))


@guarded
async def cmd_spotcheck(update: Update, context: RectbotContext) -> None:
    svc = context.services
    person = context.person
    require_role(person, *BUREAU_ROLES)
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
    await reply(update, context, "\n".join(lines)[:4096])


# --------------------------------------------------------------------------- wiring


def conversation() -> ConversationHandler[RectbotContext]:
    with warnings.catch_warnings():  # per_message=False is intended: ids travel in the callback data
        warnings.simplefilter("ignore", PTBUserWarning)
        return _conversation()


def _conversation() -> ConversationHandler[RectbotContext]:
    return ConversationHandler(
        name="review",
        persistent=True,
        allow_reentry=True,
        entry_points=[
            CallbackQueryHandler(cb_needs_words, pattern=REVIEW.pattern(*REVIEW_NEEDS_WORDS)),
            CallbackQueryHandler(cb_close_flow, pattern=REVIEW.pattern(*REVIEW_CLOSE_STEPS)),
            CallbackQueryHandler(cb_ext_words, pattern=EXTENSION.pattern("other", "refuse")),
        ],
        states={
            REVIEW_NOTE: [MessageHandler(filters.TEXT & ~filters.COMMAND, on_review_note)],
            REVIEW_DUE: [MessageHandler(filters.TEXT & ~filters.COMMAND, on_review_due),
                         CallbackQueryHandler(on_review_due, pattern=REVIEW.pattern("due"))],
            REVIEW_CLOSE_NOTE: [MessageHandler(filters.TEXT & ~filters.COMMAND, on_close_note)],
            REVIEW_CLOSE_CONFIRM: [MessageHandler(filters.TEXT & ~filters.COMMAND, on_close_note)],
            EXT_DATE: [MessageHandler(filters.TEXT & ~filters.COMMAND, on_ext_date)],
            EXT_REASON: [MessageHandler(filters.TEXT & ~filters.COMMAND, on_ext_reason)],
        },
        fallbacks=[CommandHandler("cancel", cmd_cancel)],
    )


def handlers() -> list[BaseHandler[Update, RectbotContext, object]]:
    return [
        conversation(),
        CallbackQueryHandler(cb_open_report, pattern=REVIEW.pattern("open")),
        CallbackQueryHandler(cb_ext_approve, pattern=EXTENSION.pattern("approve")),
        CallbackQueryHandler(cb_list_page, pattern=PAGE.pattern("review", "budget")),
        CommandHandler("review", cmd_review),
        CommandHandler("budget", cmd_budget),
        CommandHandler("spotcheck", cmd_spotcheck),
    ]

