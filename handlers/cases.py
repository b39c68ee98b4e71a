"""Cases in chat: /new (guided registration), /feedback, 确认收到, /received, /changedue, /case, /export,
and importing the ledger by sending an .xlsx/.csv file.

Thin by design: parse the update, call bot.cases / bot.ledger with plain values, render, reply.
The /new draft lives in context.user_data as plain JSON-able values, so PTB persistence keeps an
unfinished registration across a restart. Every button press is authorized again by the domain.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
import warnings
from datetime import date
from pathlib import Path
from typing import Any

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
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

from bot import case_text, cases, ledger
from bot.cases import ACK_PREFIX, CaseDraft
from bot.commands import ALL as ALL_ROLES
from bot.commands import BUREAU, Command, register
from bot.dates import format_date, format_deadline, parse_natural_date
from bot.domain import Grade, Person, Source
from bot.errors import DomainError, RectbotError
from bot.i18n import N_, Translator
from bot.people import BUREAU_ROLES, require_role
from bot.periods import Period, PeriodError
from handlers.common import ack, guarded, markup, reply, sender, services, translator
from storage import cases as cases_repo
from storage import people as people_repo

log = logging.getLogger(__name__)

register(Command("new", N_("Register a rectification case"), BUREAU))
register(Command("case", N_("Show a case and its history: /case NUMBER"), ALL_ROLES))
register(Command("feedback", N_("Send a case's feedback to the liaisons: /feedback NUMBER"), BUREAU))
register(Command("received", N_("Record when feedback was received: /received NUMBER DATE"), BUREAU))
register(Command("changedue", N_("Change a deadline: /changedue NUMBER DATE REASON"), BUREAU))
register(Command("export", N_("Export the rectification ledger (Excel)"), BUREAU))
register(Command("cancel", N_("Cancel what you are doing"), ALL_ROLES))

DRAFT = "new_case"
IMPORT = "ledger_import"
PAGE_SIZE = 8

(DEPT, PROJECT, SOURCE, GRADE, FINDINGS, SUGGESTIONS, DOC_NO, EVAL_END, SENT, PERIOD, CONFIDENTIAL,
 SUMMARY, EDIT) = range(13)

GRADE_BUTTONS = [(Grade.EXCELLENT, "优"), (Grade.GOOD, "良"), (Grade.FAIR, "中"), (Grade.POOR, "差")]


async def _bureau(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Person:
    person = await sender(update, context)
    require_role(person, *BUREAU_ROLES)
    assert person is not None
    BUREAU_IDS.add(person.telegram_id)
    return person


def _draft(context: ContextTypes.DEFAULT_TYPE) -> dict[str, Any]:
    data = context.user_data
    assert data is not None
    draft = data.get(DRAFT)
    if not isinstance(draft, dict):
        draft = {}
        data[DRAFT] = draft
    return draft


def _clear(context: ContextTypes.DEFAULT_TYPE) -> None:
    if context.user_data is not None:
        context.user_data.pop(DRAFT, None)


def _text_of(update: Update) -> str:
    return (update.effective_message.text or "").strip() if update.effective_message else ""


def _cb(update: Update) -> str:
    return (update.callback_query.data or "") if update.callback_query else ""


# --------------------------------------------------------------------------- /new: the steps


@guarded
async def new_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    await _bureau(update, context)
    _clear(context)
    _draft(context)
    return await ask_department(update, context, 0)


async def ask_department(update: Update, context: ContextTypes.DEFAULT_TYPE, page: int,
                         matches: list[tuple[int, str]] | None = None) -> int:
    person = await sender(update, context)
    t = translator(person)
    db = services(context).db
    all_depts = [(d.id, d.name) for d in await people_repo.list_departments(db)] if matches is None else matches
    if not all_depts:
        await reply(update, t._("There are no departments yet. An administrator adds them with "
                                "rectbot department add NAME, or import the ledger."))
        _clear(context)
        return ConversationHandler.END
    pages = max(1, (len(all_depts) + PAGE_SIZE - 1) // PAGE_SIZE)
    page = max(0, min(page, pages - 1))
    chunk = all_depts[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]
    rows = [[(name, f"new:dept:{dept_id}") for dept_id, name in chunk[i:i + 2]] for i in range(0, len(chunk), 2)]
    nav = []
    if page > 0:
        nav.append(("◀", f"new:page:{page - 1}"))
    if page < pages - 1:
        nav.append(("▶", f"new:page:{page + 1}"))
    if nav:
        rows.append(nav)
    rows.append([(t._("Cancel"), "new:cancel")])
    text = t._("New case. Which department? Tap one, or type part of its name to search.")
    if pages > 1:
        text += "\n" + t._("Page {page} of {pages}").format(page=page + 1, pages=pages)
    await reply(update, text, reply_markup=markup(rows))
    return DEPT


@guarded
async def dept_page(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    await ack(update)
    return await ask_department(update, context, int(_cb(update).rsplit(":", 1)[1]))


@guarded
async def dept_chosen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int | None:
    await _bureau(update, context)
    await ack(update)
    dept = await people_repo.department_by_id(services(context).db, int(_cb(update).rsplit(":", 1)[1]))
    if dept is None:
        return await ask_department(update, context, 0)
    return await _set_department(update, context, dept.id, dept.name)


@guarded
async def dept_search(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int | None:
    text = _text_of(update)
    t = translator(await sender(update, context))
    matches = await cases_repo.search_departments(services(context).db, text)
    exact = [m for m in matches if m[1] == text]
    if len(exact) == 1 or len(matches) == 1:
        dept_id, name = (exact or matches)[0]
        return await _set_department(update, context, dept_id, name)
    if not matches:
        await reply(update, t._('No department matches "{text}". Type another part of the name, or tap one.')
                    .format(text=text))
        return await ask_department(update, context, 0)
    return await ask_department(update, context, 0, matches)


async def _set_department(update: Update, context: ContextTypes.DEFAULT_TYPE, dept_id: int, name: str) -> int:
    draft = _draft(context)
    draft.update(dept_id=dept_id, dept_name=name)
    t = translator(await sender(update, context))
    if draft.get("editing"):
        return await show_summary(update, context)
    await reply(update, t._("Department: {name}").format(name=name) + "\n" + t._("Project name?"))
    return PROJECT


@guarded
async def got_project(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int | None:
    text = " ".join(_text_of(update).split())
    t = translator(await sender(update, context))
    if not text or len(text) > cases.MAX_PROJECT:
        await reply(update, t._("Please type the project name (at most {limit} characters).")
                    .format(limit=cases.MAX_PROJECT))
        return None
    _draft(context)["project"] = text
    return await _after(update, context, ask_source)


async def ask_source(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    t = translator(await sender(update, context))
    items = [(case_text.source_name(t, s.value), f"new:src:{s.value}") for s in Source]
    rows = [items[i:i + 2] for i in range(0, len(items), 2)]
    await reply(update, t._("Source of the case?"), reply_markup=markup(rows))
    return SOURCE


@guarded
async def got_source(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int | None:
    await ack(update)
    value = _cb(update).rsplit(":", 1)[1]
    try:
        source = Source(value)
    except ValueError:
        return await ask_source(update, context)
    draft = _draft(context)
    draft["source"] = source.value
    t = translator(await sender(update, context))
    await reply(update, t._("Source: {source}").format(source=case_text.source_name(t, source.value)))
    if draft.get("editing"):
        # The source decides which dates and periods apply: ask them again.
        if source is Source.EVALUATION:
            draft.pop("period", None)
            draft.pop("due", None)
            return await ask_eval_end(update, context)
        draft.pop("eval_end", None)
        return await ask_period(update, context)
    return await ask_grade(update, context)


async def ask_grade(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    t = translator(await sender(update, context))
    rows = [[(label, f"new:grade:{g.value}") for g, label in GRADE_BUTTONS], [(t._("Skip"), "new:grade:skip")]]
    await reply(update, t._("Evaluation grade?"), reply_markup=markup(rows))
    return GRADE


@guarded
async def got_grade(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int | None:
    await ack(update)
    value = _cb(update).rsplit(":", 1)[1]
    draft = _draft(context)
    if value == "skip":
        draft["grade"] = None
    else:
        try:
            draft["grade"] = Grade(value).value
        except ValueError:
            return await ask_grade(update, context)
    return await _after(update, context, ask_findings)


def _skip_kb(t: Translator) -> InlineKeyboardMarkup | None:
    return markup([[(t._("Skip"), "new:skip")]])


async def ask_findings(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    t = translator(await sender(update, context))
    await reply(update, t._("Problems found (存在问题)? Type them, or skip."), reply_markup=_skip_kb(t))
    return FINDINGS


async def ask_suggestions(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    t = translator(await sender(update, context))
    await reply(update, t._("Suggested measures (整改建议)? Type them, or skip."), reply_markup=_skip_kb(t))
    return SUGGESTIONS


async def ask_doc_no(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    t = translator(await sender(update, context))
    await reply(update, t._("Feedback document number (e.g. 盐财绩〔2026〕12号)? Type it, or skip."),
                reply_markup=_skip_kb(t))
    return DOC_NO


async def _got_text(update: Update, context: ContextTypes.DEFAULT_TYPE, key: str, limit: int, nxt: Any) -> int | None:
    value = "" if update.callback_query is not None else _text_of(update)
    await ack(update)
    if len(value) > limit:
        t = translator(await sender(update, context))
        await reply(update, t._("The text is too long ({limit} characters at most).").format(limit=limit))
        return None
    _draft(context)[key] = value
    return await _after(update, context, nxt)


@guarded
async def got_findings(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int | None:
    return await _got_text(update, context, "findings", cases.MAX_TEXT, ask_suggestions)


@guarded
async def got_suggestions(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int | None:
    return await _got_text(update, context, "suggestions", cases.MAX_TEXT, ask_doc_no)


@guarded
async def got_doc_no(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int | None:
    draft = _draft(context)
    nxt = ask_eval_end if draft.get("source") == Source.EVALUATION else ask_sent
    return await _got_text(update, context, "doc_no", cases.MAX_DOC_NO, nxt)


async def ask_eval_end(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    t = translator(await sender(update, context))
    await reply(update, t._("When did the evaluation work end? (e.g. 2026-01-20, 1月20日, 上周五)"))
    return EVAL_END


async def ask_sent(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    t = translator(await sender(update, context))
    await reply(update, t._("When was the feedback sent? (e.g. 今天, 昨天, 3月5日) If it is not sent yet, tap the "
                            "button; you can send it later with /feedback."),
                reply_markup=markup([[(t._("Not sent yet"), "new:skip")]]))
    return SENT


async def _read_date(update: Update, context: ContextTypes.DEFAULT_TYPE) -> date | None:
    """A typed date echoed back with its weekday; garbage gets the hint and None (ask again)."""
    t = translator(await sender(update, context))
    try:
        when = parse_natural_date(_text_of(update), services(context).today())
    except RectbotError as exc:
        await reply(update, exc.render(t))
        return None
    await reply(update, t._("Understood: {date}").format(date=format_date(when, t)))
    return when


@guarded
async def got_eval_end(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int | None:
    when = await _read_date(update, context)
    if when is None:
        return None
    draft = _draft(context)
    draft["eval_end"] = when.isoformat()
    if draft.get("editing") and draft.get("sent") is not None:
        return await show_summary(update, context)
    return await ask_sent(update, context)


@guarded
async def got_sent(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int | None:
    draft = _draft(context)
    if update.callback_query is not None:
        await ack(update)
        draft["sent"] = None
    else:
        when = await _read_date(update, context)
        if when is None:
            return None
        if when > services(context).today():
            t = translator(await sender(update, context))
            await reply(update, t._("That date is in the future; the feedback cannot have been sent yet."))
            return None
        draft["sent"] = when.isoformat()
    if draft.get("source") == Source.EVALUATION:
        return await _after(update, context, ask_confidential)
    if draft.get("editing") and ("period" in draft or "due" in draft):
        return await show_summary(update, context)
    return await ask_period(update, context)


async def ask_period(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    t = translator(await sender(update, context))
    await reply(update, t._("Deadline for the unit: type a period counted from receipt (10个工作日, 15日, 2个月) "
                            "or a date (e.g. 4月30日)."),
                reply_markup=markup([[(t._("Default: 10 working days"), "new:skip")]]))
    return PERIOD


@guarded
async def got_period(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int | None:
    draft = _draft(context)
    t = translator(await sender(update, context))
    if update.callback_query is not None:
        await ack(update)
        draft.update(period=str(cases.DEFAULT_PERIOD), due=None)
        return await _after(update, context, ask_confidential)
    text = _text_of(update)
    try:
        period = Period.parse(text)
    except PeriodError:
        period = None
    if period is not None:
        draft.update(period=str(period), due=None)
        await reply(update, t._("Understood: {period} from receipt").format(period=period.describe(t)))
        return await _after(update, context, ask_confidential)
    try:
        when = parse_natural_date(text, services(context).today())
    except RectbotError:
        await reply(update, t._('Cannot read "{text}" as a period or a date. Type e.g. 10个工作日, 15日, 2个月 '
                                "or 2026-04-30.").format(text=text[:40]))
        return None
    if when <= services(context).today():
        await reply(update, t._("The deadline {date} is not in the future; type another.").format(
            date=format_date(when, t)))
        return None
    draft.update(period=None, due=when.isoformat())
    await reply(update, t._("Understood: {date}").format(date=format_date(when, t)))
    return await _after(update, context, ask_confidential)


async def ask_confidential(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    t = translator(await sender(update, context))
    await reply(update, t._("Is this a confidential matter (涉密)? Its details will then never be sent through "
                            "chat."), reply_markup=markup([[(t._("Yes, confidential"), "new:conf:1"),
                                                         (t._("No"), "new:conf:0")]]))
    return CONFIDENTIAL


@guarded
async def got_confidential(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int | None:
    await ack(update)
    _draft(context)["confidential"] = _cb(update).endswith(":1")
    return await show_summary(update, context)


async def _after(update: Update, context: ContextTypes.DEFAULT_TYPE, nxt: Any) -> int:
    """The next step, or back to the summary when the person is editing one field."""
    if _draft(context).get("editing"):
        return await show_summary(update, context)
    result: int = await nxt(update, context)
    return result


def draft_from(data: dict[str, Any]) -> CaseDraft:
    def d(key: str) -> date | None:
        value = data.get(key)
        return date.fromisoformat(value) if value else None

    return CaseDraft(
        department_name=str(data.get("dept_name") or ""), department_id=data.get("dept_id"),
        project=str(data.get("project") or ""), source=str(data.get("source") or ""), grade=data.get("grade"),
        findings=str(data.get("findings") or ""), suggestions=str(data.get("suggestions") or ""),
        feedback_doc_no=str(data.get("doc_no") or ""), evaluation_ended_on=d("eval_end"),
        feedback_sent_on=d("sent"), period=data.get("period"), explicit_due_on=d("due"),
        confidential=bool(data.get("confidential")),
    )


async def show_summary(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    person = await sender(update, context)
    t = translator(person)
    svc = services(context)
    data = _draft(context)
    data["editing"] = False
    needed = ["dept_id", "project", "source"]
    if any(not data.get(k) for k in needed):
        return await ask_department(update, context, 0)
    try:
        draft = draft_from(data).normalized()
    except RectbotError as exc:
        await reply(update, exc.render(t))
        data["editing"] = True
        return await ask_edit(update, context)
    today = svc.today()
    lines = [t._("Please check the new case:"), t._("Department: {name}").format(name=draft.department_name)]
    if draft.confidential:
        lines.append(t._("Confidential matter (涉密): the details are sent through official channels only."))
        lines.append(t._("Source: {source}").format(source=case_text.source_name(t, draft.source)))
    else:
        lines += [
            t._("Project: {project}").format(project=draft.project),
            t._("Source: {source}").format(source=case_text.source_name(t, draft.source)),
            t._("Grade: {grade}").format(grade=case_text.grade_name(draft.grade)),
            t._("Findings: {text}").format(text=draft.findings or "—"),
            t._("Suggestions: {text}").format(text=draft.suggestions or "—"),
        ]
    lines.append(t._("Feedback document: {doc}").format(doc=draft.feedback_doc_no or "—"))
    if draft.source == Source.EVALUATION:
        lines.append(t._("Evaluation ended: {date}").format(date=format_date(draft.evaluation_ended_on, t)))
    lines.append(t._("Feedback sent: {date}").format(
        date=format_date(draft.feedback_sent_on, t) if draft.feedback_sent_on else t._("not yet")))
    deadlines = cases.compute_case_deadlines(
        source=draft.source, evaluation_ended_on=draft.evaluation_ended_on, feedback_received_on=today,
        period=draft.period, explicit_due_on=draft.explicit_due_on, calendar=svc.calendar)
    if deadlines.feedback_due_on:
        lines.append(t._("Feedback due (bureau): {date}").format(
            date=format_deadline(deadlines.feedback_due_on, deadlines.feedback_due_provisional, t)))
    lines.append(t._("Rule: {rule}").format(rule=case_text.deadline_rule_text(t, draft)))
    if draft.explicit_due_on:
        lines.append(t._("Report deadline: {date}").format(date=format_date(draft.explicit_due_on, t)))
    else:
        lines.append(t._("Report deadline if received today: {date}").format(
            date=format_deadline(deadlines.due_on, deadlines.due_provisional, t)))
    lines.append(t._("Confidential: {answer}").format(answer=t._("yes") if draft.confidential else t._("no")))
    await reply(update, "\n".join(lines), reply_markup=markup([[
        (t._("Confirm"), "new:confirm"), (t._("Edit"), "new:edit"), (t._("Cancel"), "new:cancel")]]))
    return SUMMARY


async def ask_edit(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    t = translator(await sender(update, context))
    data = _draft(context)
    fields = [(t._("Department"), "dept"), (t._("Project"), "project"), (t._("Source"), "source"),
              (t._("Grade"), "grade"), (t._("Findings"), "findings"), (t._("Suggestions"), "suggestions"),
              (t._("Document number"), "doc_no")]
    if data.get("source") == Source.EVALUATION:
        fields.append((t._("Evaluation end date"), "eval_end"))
    else:
        fields.append((t._("Deadline"), "period"))
    fields += [(t._("Feedback sent date"), "sent"), (t._("Confidential"), "confidential")]
    items = [(label, f"new:field:{key}") for label, key in fields]
    rows = [items[i:i + 3] for i in range(0, len(items), 3)]
    rows.append([(t._("Back to the summary"), "new:field:summary")])
    await reply(update, t._("Which part do you want to change?"), reply_markup=markup(rows))
    return EDIT


@guarded
async def on_edit(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    await ack(update)
    return await ask_edit(update, context)


ASKERS = {"project": None, "source": ask_source, "grade": ask_grade, "findings": ask_findings,
          "suggestions": ask_suggestions, "doc_no": ask_doc_no, "eval_end": ask_eval_end, "sent": ask_sent,
          "period": ask_period, "confidential": ask_confidential}


@guarded
async def edit_field(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    await ack(update)
    key = _cb(update).rsplit(":", 1)[1]
    data = _draft(context)
    if key == "summary":
        return await show_summary(update, context)
    data["editing"] = True
    if key == "dept":
        return await ask_department(update, context, 0)
    if key == "project":
        t = translator(await sender(update, context))
        await reply(update, t._("Project name?"))
        return PROJECT
    asker = ASKERS.get(key)
    if asker is None:
        return await ask_edit(update, context)
    result: int = await asker(update, context)
    return result


@guarded
async def confirm(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int | None:
    person = await _bureau(update, context)
    await ack(update)
    svc = services(context)
    t = translator(person)
    data = _draft(context)
    if not data.get("dept_id"):
        await reply(update, t._("This registration is no longer open. Start again with /new."))
        return ConversationHandler.END
    case, sent = await cases.register_case(svc.db, svc.calendar, draft_from(data), actor=person, now=svc.now())
    _clear(context)
    await _drop_buttons(update)
    lines = [t._("Registered: {case}.").format(case=case_text.case_label(t, case.id))]
    if case.feedback_sent_on is not None:
        liaisons = await people_repo.liaisons_of(svc.db, case.department_id)
        if liaisons:
            lines.append(t._("The feedback card goes to {n} liaison officer(s) of {department}; the clock starts "
                             "when they confirm receipt.").format(n=len(liaisons), department=case.department_name))
        else:
            lines.append(t._("{department} has no registered liaison officer yet, so nobody can receive the "
                             "feedback card. Invite one (/invite liaison {department}), then send it with "
                             "/feedback {id}.").format(department=case.department_name, id=case.id))
    else:
        lines.append(t._("When the feedback is sent, use /feedback {id}.").format(id=case.id))
    await reply(update, "\n".join(lines))
    if sent:
        svc.wake_delivery()
    return ConversationHandler.END


async def _drop_buttons(update: Update) -> None:
    query = update.callback_query
    if query is not None and query.message is not None:
        with contextlib.suppress(TelegramError):
            await query.edit_message_reply_markup(reply_markup=None)


@guarded
async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    await ack(update)
    had = bool(context.user_data and context.user_data.get(DRAFT))
    _clear(context)
    await _drop_buttons(update)
    t = translator(await sender(update, context))
    await reply(update, t._("Registration cancelled; nothing was saved.") if had else t._("Cancelled."))
    return ConversationHandler.END


@guarded
async def stale_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A /new button from a finished or abandoned registration."""
    t = translator(await sender(update, context))
    await ack(update, t._("This registration is no longer open. Start again with /new."), alert=True)


def new_case_conversation() -> ConversationHandler[ContextTypes.DEFAULT_TYPE]:
    fallbacks: list[BaseHandler[Update, ContextTypes.DEFAULT_TYPE, Any]] = [
        CommandHandler("cancel", cancel), CallbackQueryHandler(cancel, pattern=r"^new:cancel$"),
        CommandHandler("new", new_start)]
    with warnings.catch_warnings():
        # per_message=False is intended: the draft is per user, and buttons are checked by pattern.
        warnings.filterwarnings("ignore", category=PTBUserWarning)
        return _conversation(fallbacks)


def _conversation(
    fallbacks: list[BaseHandler[Update, ContextTypes.DEFAULT_TYPE, Any]],
) -> ConversationHandler[ContextTypes.DEFAULT_TYPE]:
    text = filters.TEXT & ~filters.COMMAND
    return ConversationHandler(
        entry_points=[CommandHandler("new", new_start)],
        states={
            DEPT: [CallbackQueryHandler(dept_chosen, pattern=r"^new:dept:\d+$"),
                   CallbackQueryHandler(dept_page, pattern=r"^new:page:\d+$"), MessageHandler(text, dept_search)],
            PROJECT: [MessageHandler(text, got_project)],
            SOURCE: [CallbackQueryHandler(got_source, pattern=r"^new:src:\w+$")],
            GRADE: [CallbackQueryHandler(got_grade, pattern=r"^new:grade:\w+$")],
            FINDINGS: [MessageHandler(text, got_findings), CallbackQueryHandler(got_findings, pattern=r"^new:skip$")],
            SUGGESTIONS: [MessageHandler(text, got_suggestions),
                          CallbackQueryHandler(got_suggestions, pattern=r"^new:skip$")],
            DOC_NO: [MessageHandler(text, got_doc_no), CallbackQueryHandler(got_doc_no, pattern=r"^new:skip$")],
            EVAL_END: [MessageHandler(text, got_eval_end)],
            SENT: [MessageHandler(text, got_sent), CallbackQueryHandler(got_sent, pattern=r"^new:skip$")],
            PERIOD: [MessageHandler(text, got_period), CallbackQueryHandler(got_period, pattern=r"^new:skip$")],
            CONFIDENTIAL: [CallbackQueryHandler(got_confidential, pattern=r"^new:conf:[01]$")],
            SUMMARY: [CallbackQueryHandler(confirm, pattern=r"^new:confirm$"),
                      CallbackQueryHandler(on_edit, pattern=r"^new:edit$")],
            EDIT: [CallbackQueryHandler(edit_field, pattern=r"^new:field:\w+$")],
        },
        fallbacks=fallbacks,
        name="new_case",
        persistent=True,
        allow_reentry=True,
    )


# --------------------------------------------------------------------------- feedback and receipt


@guarded
async def acknowledge(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """确认收到: callback data is input — the domain checks the person and the case again."""
    query = update.callback_query
    assert query is not None
    person = await sender(update, context)
    t = translator(person)
    try:
        case_id = int((query.data or "").removeprefix(ACK_PREFIX))
    except ValueError:
        raise DomainError(N_("This button is no longer valid.")) from None
    if person is None:
        raise DomainError(N_("This button is no longer valid."))
    svc = services(context)
    receipt = await cases.acknowledge_receipt(svc.db, svc.calendar, case_id, person=person, now=svc.now(),
                                              today=svc.today())
    answer = case_text.receipt_answer(t, receipt)
    await ack(update, answer[:190], alert=receipt.already)
    message = query.message
    if isinstance(message, Message):
        with contextlib.suppress(TelegramError):
            await message.edit_reply_markup(reply_markup=None)
    if update.effective_chat is not None:
        await update.effective_chat.send_message(answer)


def _case_arg(context: ContextTypes.DEFAULT_TYPE, usage: str) -> int:
    args = context.args or []
    text = args[0].lstrip("#第").rstrip("号") if args else ""
    if not text.isdigit():
        raise DomainError(usage)
    return int(text)


@guarded
async def feedback_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    person = await _bureau(update, context)
    case_id = _case_arg(context, N_("Usage: /feedback CASE_NUMBER"))
    svc = services(context)
    t = translator(person)
    result = await cases.send_feedback(svc.db, case_id, actor=person, now=svc.now(), today=svc.today())
    label = case_text.case_label(t, case_id)
    if result.recipients == 0:
        await reply(update, t._("{department} has no registered liaison officer yet, so nobody can receive the "
                                "feedback card. Invite one (/invite liaison {department}), then send it with "
                                "/feedback {id}.").format(department=result.case.department_name, id=case_id))
        return
    if result.enqueued == 0:
        await reply(update, t._("The feedback of {case} has already been sent to every liaison officer of "
                                "{department}.").format(case=label, department=result.case.department_name))
        return
    await reply(update, t._("The feedback of {case} is being sent to {n} liaison officer(s) of {department}.")
                .format(case=label, n=result.enqueued, department=result.case.department_name))
    svc.wake_delivery()


@guarded
async def received_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/received CASE DATE: the bureau records the receipt by hand (e.g. a signed paper copy)."""
    person = await _bureau(update, context)
    usage = N_("Usage: /received CASE_NUMBER DATE (e.g. /received 12 昨天)")
    case_id = _case_arg(context, usage)
    args = context.args or []
    if len(args) < 2:
        raise DomainError(usage)
    svc = services(context)
    t = translator(person)
    when = parse_natural_date(" ".join(args[1:]), svc.today())
    receipt = await cases.record_receipt(svc.db, svc.calendar, case_id, when, actor=person, now=svc.now(),
                                         today=svc.today())
    await reply(update, case_text.receipt_answer(t, receipt))
    if not receipt.already:
        svc.wake_delivery()


@guarded
async def change_due_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/changedue CASE DATE REASON: a new deadline, always with a reason; the liaisons are told."""
    person = await _bureau(update, context)
    usage = N_("Usage: /changedue CASE_NUMBER DATE REASON (e.g. /changedue 12 2026-06-30 单位申请延期，经领导同意)")
    case_id = _case_arg(context, usage)
    args = context.args or []
    if len(args) < 3:
        raise DomainError(usage)
    svc = services(context)
    t = translator(person)
    when = parse_natural_date(args[1], svc.today())
    case = await cases.change_deadline(svc.db, case_id, when, " ".join(args[2:]), actor=person, now=svc.now(),
                                       today=svc.today())
    await reply(update, t._("The deadline of {case} is now {date}; its liaison officers are being told.").format(
        case=case_text.case_label(t, case.id), date=format_deadline(case.due_on, case.due_provisional, t)))
    svc.wake_delivery()


@guarded
async def case_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    person = await sender(update, context)
    assert person is not None
    case_id = _case_arg(context, N_("Usage: /case CASE_NUMBER"))
    svc = services(context)
    t = translator(person)
    view = await cases.view_case(svc.db, case_id, person)
    text = case_text.render_case(t, view.case, view.history, view.names, svc.settings.bureau.tz, svc.history_labels)
    for start in range(0, len(text), 4000):
        await reply(update, text[start:start + 4000])


# --------------------------------------------------------------------------- ledger export and import


@guarded
async def export_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    person = await _bureau(update, context)
    svc = services(context)
    t = translator(person)
    content, count = await ledger.export_ledger(svc.db, svc.calendar, svc.today(), redact_confidential=True)
    chat = update.effective_chat
    assert chat is not None
    name = f"整改台账-{svc.today().isoformat()}.xlsx"
    await chat.send_document(document=content, filename=name, caption=t._(
        "Rectification ledger: {n} case(s). Confidential cases show no details.").format(n=count))


# Telegram ids of bureau staff, refreshed from the database by a job: a filter must be synchronous,
# and documents from liaisons (report evidence) must reach the report journey untouched.
BUREAU_IDS: set[int] = set()
LEDGER_SUFFIXES = (".xlsx", ".csv")


class _LedgerFromBureau(filters.MessageFilter):
    def filter(self, message: Message) -> bool:
        doc = message.document
        user = message.from_user
        return (doc is not None and user is not None and user.id in BUREAU_IDS
                and (doc.file_name or "").lower().endswith(LEDGER_SUFFIXES))


async def refresh_bureau_ids(context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    people = await people_repo.people_with_role(svc.db, *(r.value for r in BUREAU_ROLES))
    BUREAU_IDS.clear()
    BUREAU_IDS.update(p.telegram_id for p in people)


def _imports_dir(context: ContextTypes.DEFAULT_TYPE) -> Path:
    folder = Path(services(context).settings.storage.files) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class _Progress:
    """One message edited as the import goes, no faster than Telegram's per-chat limit allows."""

    def __init__(self, message: Message, t: Translator) -> None:
        self.message = message
        self.t = t
        self.last = 0.0

    async def show(self, text: str, *, force: bool = False, **kwargs: Any) -> None:
        import asyncio

        wait = 1.1 - (time.monotonic() - self.last)
        if wait > 0:
            if not force:
                return
            await asyncio.sleep(wait)
        try:
            await self.message.edit_text(text, **kwargs)
        except TelegramError as exc:
            log.info("progress edit failed: %s", exc)
        self.last = time.monotonic()

    async def __call__(self, done: int, total: int) -> None:
        await self.show(self.t._("Importing… {done}/{total} rows").format(done=done, total=total))


@guarded
async def ledger_upload(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    person = await _bureau(update, context)
    message = update.effective_message
    assert message is not None and message.document is not None
    t = translator(person)
    svc = services(context)
    name = message.document.file_name or "ledger.xlsx"
    status = await message.reply_text(t._("Reading {name}…").format(name=name))
    progress = _Progress(status, t)
    progress.last = time.monotonic()
    file = await message.document.get_file()
    data = bytes(await file.download_as_bytearray())
    try:
        table = ledger.read_table(data, name)
        plan = await ledger.plan_import(svc.db, svc.calendar, table)
    except RectbotError as exc:
        await progress.show(exc.render(t), force=True)
        return
    report = ledger.describe_plan(t, plan, max_errors=20)
    if plan.bad:
        token = secrets.token_hex(6)
        (_imports_dir(context) / f"{token}{Path(name).suffix.lower()}").write_bytes(data)
        assert context.user_data is not None
        context.user_data[IMPORT] = {"token": token, "name": name}
        rows = [[(t._("Import the {n} good row(s)").format(n=len(plan.new)), f"ledger:go:{token}")]] if plan.new \
            else []
        rows.append([(t._("Cancel"), f"ledger:no:{token}")])
        await progress.show(report + "\n\n" + t._("Nothing has been imported yet."), force=True,
                            reply_markup=markup(rows))
        return
    await progress.show(report, force=True)
    result = await ledger.apply_import(svc.db, svc.calendar, plan, actor=person, now=svc.now(), progress=progress)
    await progress.show(report + "\n\n" + ledger.describe_result(t, result), force=True)


@guarded
async def ledger_confirm(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    person = await _bureau(update, context)
    t = translator(person)
    svc = services(context)
    _, action, token = (query.data or "::").split(":", 2)
    pending = (context.user_data or {}).get(IMPORT)
    if not isinstance(pending, dict) or pending.get("token") != token:
        await ack(update, t._("This import is no longer waiting; send the file again."), alert=True)
        return
    assert context.user_data is not None
    context.user_data.pop(IMPORT, None)
    path = _imports_dir(context) / f"{token}{Path(str(pending.get('name'))).suffix.lower()}"
    await ack(update)
    message = query.message
    if not isinstance(message, Message):
        return
    progress = _Progress(message, t)
    if action != "go":
        path.unlink(missing_ok=True)
        await progress.show(t._("Import cancelled; nothing was imported."), force=True)
        return
    try:
        data = path.read_bytes()
    except OSError:
        await progress.show(t._("This import is no longer waiting; send the file again."), force=True)
        return
    try:
        plan = await ledger.plan_import(svc.db, svc.calendar, ledger.read_table(data, str(pending.get("name"))))
        await progress.show(t._("Importing… {done}/{total} rows").format(done=0, total=len(plan.new)), force=True)
        result = await ledger.apply_import(svc.db, svc.calendar, plan, actor=person, now=svc.now(),
                                           skip_invalid=True, progress=progress)
    finally:
        path.unlink(missing_ok=True)
    await progress.show(ledger.describe_result(t, result), force=True)


# --------------------------------------------------------------------------- wiring


def handlers() -> list[BaseHandler[Update, ContextTypes.DEFAULT_TYPE, Any]]:
    return [
        new_case_conversation(),
        CallbackQueryHandler(acknowledge, pattern=rf"^{ACK_PREFIX}"),
        CallbackQueryHandler(ledger_confirm, pattern=r"^ledger:(go|no):\w+$"),
        CallbackQueryHandler(stale_button, pattern=r"^new:"),
        CommandHandler("feedback", feedback_command),
        CommandHandler("received", received_command),
        CommandHandler("changedue", change_due_command),
        CommandHandler("case", case_command),
        CommandHandler("export", export_command),
        MessageHandler(_LedgerFromBureau() & ~filters.REPLY, ledger_upload),
    ]


def schedule_jobs(app: Any) -> None:
    """Keep the set of bureau staff fresh for the ledger-upload filter (first run immediately)."""
    if app.job_queue is not None:
        app.job_queue.run_repeating(refresh_bureau_ids, interval=30, first=0, name="cases.bureau_ids")
