"""The /new wizard: registering a rectification case step by step, with buttons.

The draft lives in context.user_data as plain JSON-able values, so PTB persistence keeps an
unfinished registration across a restart. Every step reads the sender from the context the gate
filled; the domain (bot.cases) authorizes the registration itself again on confirm.
"""

from __future__ import annotations

import contextlib
import warnings
from datetime import date
from typing import Any

from telegram import InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot import case_text, cases, people
from bot.callbacks import NEW_CASE, Callback
from bot.cases import CaseDraft
from bot.dates import (
    UNREADABLE,
    DateInputError,
    Direction,
    bare_month,
    format_date,
    format_deadline,
    parse_natural_date,
)
from bot.domain import Grade, Person, Source
from bot.errors import DomainError, RectbotError
from bot.i18n import Translator
from bot.people import BUREAU_ROLES, require_role
from bot.periods import Period, PeriodError
from bot.text import label_key
from handlers.common import STALE_BUTTON, RectbotContext, ack, guarded, markup, reply, translator, typed_choice
from handlers.menu import tapped

DRAFT = "new_case"
PAGE_SIZE = 8

(DEPT, PROJECT, SOURCE, GRADE, FINDINGS, SUGGESTIONS, DOC_NO, EVAL_END, SENT, PERIOD, CONFIDENTIAL,
 SUMMARY, EDIT) = range(13)

GRADE_BUTTONS = [(Grade.EXCELLENT, "优"), (Grade.GOOD, "良"), (Grade.FAIR, "中"), (Grade.POOR, "差")]


def _bureau(context: RectbotContext) -> Person:
    """The sender, who must be bureau staff (the domain refuses anyone else)."""
    return require_role(context.person, *BUREAU_ROLES)


def _draft(context: RectbotContext) -> dict[str, Any]:
    data = context.user_data
    assert data is not None
    draft = data.get(DRAFT)
    if not isinstance(draft, dict):
        draft = {}
        data[DRAFT] = draft
    return draft


def _clear(context: RectbotContext) -> None:
    if context.user_data is not None:
        context.user_data.pop(DRAFT, None)


def _text_of(update: Update) -> str:
    return (update.effective_message.text or "").strip() if update.effective_message else ""


def _pressed(update: Update) -> Callback:
    """The /new button pressed; the handlers' patterns only let valid data through."""
    pressed = NEW_CASE.parse(update.callback_query.data if update.callback_query else None)
    if pressed is None:
        raise DomainError(STALE_BUTTON)
    return pressed


# --------------------------------------------------------------------------- /new: the steps


@guarded
async def new_start(update: Update, context: RectbotContext) -> int:
    _bureau(context)
    _clear(context)
    _draft(context)
    return await ask_department(update, context, 0)


async def ask_department(update: Update, context: RectbotContext, page: int,
                         matches: list[tuple[int, str]] | None = None) -> int:
    person = context.person
    t = translator(person)
    db = context.services.db
    all_depts = [(d.id, d.name) for d in await people.list_departments(db)] if matches is None else matches
    if not all_depts:
        await reply(update, context, t._("There are no departments yet. An administrator adds them with "
                                         "rectbot department add NAME, or import the ledger."))
        _clear(context)
        return ConversationHandler.END
    pages = max(1, (len(all_depts) + PAGE_SIZE - 1) // PAGE_SIZE)
    page = max(0, min(page, pages - 1))
    chunk = all_depts[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]
    rows = [[(name, NEW_CASE.build("dept", dept_id)) for dept_id, name in chunk[i:i + 2]]
            for i in range(0, len(chunk), 2)]
    nav = []
    if page > 0:
        nav.append(("◀", NEW_CASE.build("page", page - 1)))
    if page < pages - 1:
        nav.append(("▶", NEW_CASE.build("page", page + 1)))
    if nav:
        rows.append(nav)
    rows.append([(t._("Cancel"), NEW_CASE.build("cancel"))])
    text = t._("New case. Which department? Tap one, or type part of its name to search.")
    if pages > 1:
        text += "\n" + t._("Page {page} of {pages}").format(page=page + 1, pages=pages)
    await reply(update, context, text, reply_markup=markup(rows))
    return DEPT


@guarded
async def dept_page(update: Update, context: RectbotContext) -> int:
    await ack(update, context)
    return await ask_department(update, context, _pressed(update).number())


@guarded
async def dept_chosen(update: Update, context: RectbotContext) -> int | None:
    _bureau(context)
    await ack(update, context)
    dept = await people.department_by_id(context.services.db, _pressed(update).number())
    if dept is None:
        return await ask_department(update, context, 0)
    return await _set_department(update, context, dept.id, dept.name)


@guarded
async def dept_search(update: Update, context: RectbotContext) -> int | None:
    text = _text_of(update)
    t = translator(context.person)
    matches = await people.search_departments(context.services.db, text)
    exact = [m for m in matches if m[1] == text]
    if len(exact) == 1 or len(matches) == 1:
        dept_id, name = (exact or matches)[0]
        return await _set_department(update, context, dept_id, name)
    if not matches:
        await reply(update, context, t._('No department matches "{text}". Type another part of the name, or tap one.')
                    .format(text=text))
        return await ask_department(update, context, 0)
    return await ask_department(update, context, 0, matches)


async def _set_department(update: Update, context: RectbotContext, dept_id: int, name: str) -> int:
    draft = _draft(context)
    draft.update(dept_id=dept_id, dept_name=name)
    t = translator(context.person)
    if draft.get("editing"):
        return await show_summary(update, context)
    await reply(update, context, t._("Department: {name}").format(name=name) + "\n" + t._("Project name?"))
    return PROJECT


@guarded
async def got_project(update: Update, context: RectbotContext) -> int | None:
    text = " ".join(_text_of(update).split())
    t = translator(context.person)
    if not text or len(text) > cases.MAX_PROJECT:
        await reply(update, context, t._("Please type the project name (at most {limit} characters).")
                    .format(limit=cases.MAX_PROJECT))
        return None
    _draft(context)["project"] = text
    return await _after(update, context, ask_source)


def _source_rows(t: Translator) -> list[list[tuple[str, str]]]:
    items = [(case_text.source_name(t, s.value), NEW_CASE.build("src", s.value)) for s in Source]
    return [items[i:i + 2] for i in range(0, len(items), 2)]


async def ask_source(update: Update, context: RectbotContext) -> int:
    t = translator(context.person)
    await reply(update, context, t._("Source of the case?"), reply_markup=markup(_source_rows(t)))
    return SOURCE


@guarded
async def got_source(update: Update, context: RectbotContext) -> int | None:
    await ack(update, context)
    return await _source_chosen(update, context, _pressed(update))


async def _source_chosen(update: Update, context: RectbotContext, pressed: Callback) -> int:
    value = pressed.text()
    try:
        source = Source(value)
    except ValueError:
        return await ask_source(update, context)
    draft = _draft(context)
    draft["source"] = source.value
    t = translator(context.person)
    await reply(update, context, t._("Source: {source}").format(source=case_text.source_name(t, source.value)))
    if draft.get("editing"):
        # The source decides which dates and periods apply: ask them again.
        if source is Source.EVALUATION:
            draft.pop("period", None)
            draft.pop("due", None)
            return await ask_eval_end(update, context)
        draft.pop("eval_end", None)
        return await ask_period(update, context)
    return await ask_grade(update, context)


def _grade_rows(t: Translator) -> list[list[tuple[str, str]]]:
    return [[(label, NEW_CASE.build("grade", g.value)) for g, label in GRADE_BUTTONS],
            [(t._("Skip"), NEW_CASE.build("grade", "skip"))]]


async def ask_grade(update: Update, context: RectbotContext) -> int:
    t = translator(context.person)
    await reply(update, context, t._("Evaluation grade?"), reply_markup=markup(_grade_rows(t)))
    return GRADE


@guarded
async def got_grade(update: Update, context: RectbotContext) -> int | None:
    await ack(update, context)
    return await _grade_chosen(update, context, _pressed(update))


async def _grade_chosen(update: Update, context: RectbotContext, pressed: Callback) -> int:
    value = pressed.text()
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
    return markup([[(t._("Skip"), NEW_CASE.build("skip"))]])


def _skipped(update: Update, context: RectbotContext) -> bool:
    """The Skip button pressed, or its label typed as the whole answer (跳过): the same thing. Only the
    whole answer: findings that mention 跳过 somewhere are findings."""
    if update.callback_query is not None:
        return True
    return label_key(_text_of(update)) == label_key(translator(context.person)._("Skip"))


async def ask_findings(update: Update, context: RectbotContext) -> int:
    t = translator(context.person)
    await reply(update, context, t._("Problems found (存在问题)? Type them, or skip."), reply_markup=_skip_kb(t))
    return FINDINGS


async def ask_suggestions(update: Update, context: RectbotContext) -> int:
    t = translator(context.person)
    await reply(update, context, t._("Suggested measures (整改建议)? Type them, or skip."), reply_markup=_skip_kb(t))
    return SUGGESTIONS


async def ask_doc_no(update: Update, context: RectbotContext) -> int:
    t = translator(context.person)
    await reply(update, context, t._("Feedback document number (e.g. 盐财绩〔2026〕12号)? Type it, or skip."),
                reply_markup=_skip_kb(t))
    return DOC_NO


async def _got_text(update: Update, context: RectbotContext, key: str, limit: int, nxt: Any) -> int | None:
    value = "" if _skipped(update, context) else _text_of(update)
    await ack(update, context)
    if len(value) > limit:
        t = translator(context.person)
        await reply(update, context, t._("The text is too long ({limit} characters at most).").format(limit=limit))
        return None
    _draft(context)[key] = value
    return await _after(update, context, nxt)


@guarded
async def got_findings(update: Update, context: RectbotContext) -> int | None:
    return await _got_text(update, context, "findings", cases.MAX_TEXT, ask_suggestions)


@guarded
async def got_suggestions(update: Update, context: RectbotContext) -> int | None:
    return await _got_text(update, context, "suggestions", cases.MAX_TEXT, ask_doc_no)


@guarded
async def got_doc_no(update: Update, context: RectbotContext) -> int | None:
    draft = _draft(context)
    nxt = ask_eval_end if draft.get("source") == Source.EVALUATION else ask_sent
    return await _got_text(update, context, "doc_no", cases.MAX_DOC_NO, nxt)


async def ask_eval_end(update: Update, context: RectbotContext) -> int:
    t = translator(context.person)
    await reply(update, context, t._("When did the evaluation work end? (e.g. 2026-01-20, 1月20日, 上周五)"))
    return EVAL_END


async def ask_sent(update: Update, context: RectbotContext) -> int:
    t = translator(context.person)
    await reply(update, context, t._("When was the feedback sent? (e.g. 今天, 昨天, 3月5日) If it is not sent yet, "
                                     "tap the button; you can send it later with /feedback."),
                reply_markup=markup([[(t._("Not sent yet"), NEW_CASE.build("skip"))]]))
    return SENT


async def _read_date(update: Update, context: RectbotContext, asker: Any) -> date | None:
    """A typed day that happened, echoed back with its year and weekday.

    A refusal says why (not a date, still to come) and asks the same question again; None keeps the step.
    """
    t = translator(context.person)
    try:
        when = parse_natural_date(_text_of(update), context.services.today(), direction=Direction.PAST)
    except RectbotError as exc:
        await reply(update, context, exc.render(t))
        await asker(update, context)
        return None
    await reply(update, context, t._("Understood: {date}").format(date=format_date(when, t)))
    return when


@guarded
async def got_eval_end(update: Update, context: RectbotContext) -> int | None:
    when = await _read_date(update, context, ask_eval_end)
    if when is None:
        return None
    draft = _draft(context)
    draft["eval_end"] = when.isoformat()
    if draft.get("editing") and draft.get("sent") is not None:
        return await show_summary(update, context)
    return await ask_sent(update, context)


@guarded
async def got_sent(update: Update, context: RectbotContext) -> int | None:
    draft = _draft(context)
    if _skipped(update, context):
        await ack(update, context)
        draft["sent"] = None
    else:
        when = await _read_date(update, context, ask_sent)  # a day still to come is refused there
        if when is None:
            return None
        draft["sent"] = when.isoformat()
    if draft.get("source") == Source.EVALUATION:
        return await _after(update, context, ask_confidential)
    if draft.get("editing") and ("period" in draft or "due" in draft):
        return await show_summary(update, context)
    return await ask_period(update, context)


async def ask_period(update: Update, context: RectbotContext) -> int:
    t = translator(context.person)
    await reply(update, context, t._("Deadline for the unit: type a period counted from receipt (10个工作日, 15日, "
                                     "2个月) or a date (e.g. 4月30日)."),
                reply_markup=markup([[(t._("Default: 10 working days"), NEW_CASE.build("skip"))]]))
    return PERIOD


@guarded
async def got_period(update: Update, context: RectbotContext) -> int | None:
    draft = _draft(context)
    t = translator(context.person)
    if _skipped(update, context):
        await ack(update, context)
        draft.update(period=str(cases.DEFAULT_PERIOD), due=None)
        return await _after(update, context, ask_confidential)
    text = _text_of(update)
    try:
        period = Period.parse(text)
    except PeriodError:
        period = None
    if period is not None:
        draft.update(period=str(period), due=None)
        await reply(update, context, t._("Understood: {period} from receipt").format(period=period.describe(t)))
        return await _after(update, context, ask_confidential)
    month = bare_month(text)
    if month is not None:  # 2月: February or two months? Neither is guessed.
        await reply(update, context, t._('"{text}" could be a month or a period. For a period write {n}个月; for a '
                                         "date write the day, e.g. {n}月底 or {n}月15日.").format(text=text[:40],
                                                                                             n=month))
        return await ask_period(update, context)
    today = context.services.today()
    try:
        when = parse_natural_date(text, today, direction=Direction.FUTURE)
    except DateInputError as exc:
        if exc.msgid == UNREADABLE:
            await reply(update, context, t._('Cannot read "{text}" as a period or a date. Type e.g. 10个工作日, 15日, '
                                             "2个月 or 2026-04-30.").format(text=text[:40]))
        else:
            await reply(update, context, exc.render(t))
        return await ask_period(update, context)
    if when <= today:
        await reply(update, context, t._("The deadline {date} is not in the future; type another.").format(
            date=format_date(when, t)))
        return await ask_period(update, context)
    draft.update(period=None, due=when.isoformat())
    await reply(update, context, t._("Understood: {date}").format(date=format_date(when, t)))
    return await _after(update, context, ask_confidential)


def _confidential_rows(t: Translator) -> list[list[tuple[str, str]]]:
    return [[(t._("Yes, confidential"), NEW_CASE.build("conf", "1")), (t._("No"), NEW_CASE.build("conf", "0"))]]


async def ask_confidential(update: Update, context: RectbotContext) -> int:
    t = translator(context.person)
    await reply(update, context, t._("Is this a confidential matter (涉密)? Its details will then never be sent "
                                     "through chat."), reply_markup=markup(_confidential_rows(t)))
    return CONFIDENTIAL


@guarded
async def got_confidential(update: Update, context: RectbotContext) -> int | None:
    await ack(update, context)
    return await _confidential_chosen(update, context, _pressed(update))


async def _confidential_chosen(update: Update, context: RectbotContext, pressed: Callback) -> int:
    _draft(context)["confidential"] = pressed.text() == "1"
    return await show_summary(update, context)


async def _after(update: Update, context: RectbotContext, nxt: Any) -> int:
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


async def show_summary(update: Update, context: RectbotContext) -> int:
    person = context.person
    t = translator(person)
    svc = context.services
    data = _draft(context)
    data["editing"] = False
    needed = ["dept_id", "project", "source"]
    if any(not data.get(k) for k in needed):
        return await ask_department(update, context, 0)
    try:
        draft = draft_from(data).normalized()
    except RectbotError as exc:
        await reply(update, context, exc.render(t))
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
    await reply(update, context, "\n".join(lines), reply_markup=markup(_summary_rows(t)))
    return SUMMARY


def _summary_rows(t: Translator) -> list[list[tuple[str, str]]]:
    return [[(t._("Confirm"), NEW_CASE.build("confirm")), (t._("Edit"), NEW_CASE.build("edit")),
             (t._("Cancel"), NEW_CASE.build("cancel"))]]


def _edit_rows(t: Translator, data: dict[str, Any]) -> list[list[tuple[str, str]]]:
    fields = [(t._("Department"), "dept"), (t._("Project"), "project"), (t._("Source"), "source"),
              (t._("Grade"), "grade"), (t._("Findings"), "findings"), (t._("Suggestions"), "suggestions"),
              (t._("Document number"), "doc_no")]
    if data.get("source") == Source.EVALUATION:
        fields.append((t._("Evaluation end date"), "eval_end"))
    else:
        fields.append((t._("Deadline"), "period"))
    fields += [(t._("Feedback sent date"), "sent"), (t._("Confidential"), "confidential")]
    items = [(label, NEW_CASE.build("field", key)) for label, key in fields]
    rows = [items[i:i + 3] for i in range(0, len(items), 3)]
    rows.append([(t._("Back to the summary"), NEW_CASE.build("field", "summary"))])
    return rows


async def ask_edit(update: Update, context: RectbotContext) -> int:
    t = translator(context.person)
    rows = _edit_rows(t, _draft(context))
    await reply(update, context, t._("Which part do you want to change?"), reply_markup=markup(rows))
    return EDIT


@guarded
async def on_edit(update: Update, context: RectbotContext) -> int:
    await ack(update, context)
    return await ask_edit(update, context)


ASKERS = {"project": None, "source": ask_source, "grade": ask_grade, "findings": ask_findings,
          "suggestions": ask_suggestions, "doc_no": ask_doc_no, "eval_end": ask_eval_end, "sent": ask_sent,
          "period": ask_period, "confidential": ask_confidential}


@guarded
async def edit_field(update: Update, context: RectbotContext) -> int:
    await ack(update, context)
    return await _field_chosen(update, context, _pressed(update))


async def _field_chosen(update: Update, context: RectbotContext, pressed: Callback) -> int:
    key = pressed.text()
    data = _draft(context)
    if key == "summary":
        return await show_summary(update, context)
    data["editing"] = True
    if key == "dept":
        return await ask_department(update, context, 0)
    if key == "project":
        t = translator(context.person)
        await reply(update, context, t._("Project name?"))
        return PROJECT
    asker = ASKERS.get(key)
    if asker is None:
        return await ask_edit(update, context)
    result: int = await asker(update, context)
    return result


@guarded
async def confirm(update: Update, context: RectbotContext) -> int | None:
    person = _bureau(context)
    await ack(update, context)
    svc = context.services
    t = translator(person)
    data = _draft(context)
    if not data.get("dept_id"):
        await reply(update, context, t._("This registration is no longer open. Start again with /new."))
        return ConversationHandler.END
    case, sent = await cases.register_case(svc.db, svc.calendar, draft_from(data), actor=person, now=svc.now())
    _clear(context)
    await _drop_buttons(update)
    lines = [t._("Registered: {case}.").format(case=case_text.case_label(t, case.id))]
    if case.feedback_sent_on is not None:
        liaisons = await people.liaisons_of(svc.db, case.department_id)
        if liaisons:
            lines.append(t._("The feedback card goes to {n} liaison officer(s) of {department}; the clock starts "
                             "when they confirm receipt.").format(n=len(liaisons), department=case.department_name))
        else:
            lines.append(t._("{department} has no registered liaison officer yet, so nobody can receive the "
                             "feedback card. Invite one (/invite liaison {department}), then send it with "
                             "/feedback {id}.").format(department=case.department_name, id=case.id))
    else:
        lines.append(t._("When the feedback is sent, use /feedback {id}.").format(id=case.id))
    await reply(update, context, "\n".join(lines))
    if sent:
        svc.wake_delivery()
    return ConversationHandler.END


async def _drop_buttons(update: Update) -> None:
    query = update.callback_query
    if query is not None and query.message is not None:
        with contextlib.suppress(TelegramError):
            await query.edit_message_reply_markup(reply_markup=None)


@guarded
async def cancel(update: Update, context: RectbotContext) -> int:
    await ack(update, context)
    had = bool(context.user_data and context.user_data.get(DRAFT))
    _clear(context)
    await _drop_buttons(update)
    t = translator(context.person)
    await reply(update, context, t._("Registration cancelled; nothing was saved.") if had else t._("Cancelled."))
    return ConversationHandler.END


@guarded
async def stale_button(update: Update, context: RectbotContext) -> None:
    """A /new button from a finished or abandoned registration."""
    t = translator(context.person)
    await ack(update, context, t._("This registration is no longer open. Start again with /new."), alert=True)


# --------------------------------------------------------------------------- typing at a button step
# Text typed where a tap is expected picks the button it names (typing 绩效评价 at the source step), or
# gets a one-line hint and the same question with its buttons again: never silence, never a lost draft.


async def _summary_chosen(update: Update, context: RectbotContext, pressed: Callback) -> int | None:
    if pressed.action == "confirm":
        return await confirm(update, context)
    if pressed.action == "edit":
        return await ask_edit(update, context)
    return await cancel(update, context)


def _typed_step(rows_of: Any, again: Any, chosen: Any) -> Any:
    """A handler for text typed at one button step: `rows_of(t, draft)` are the step's buttons."""

    @guarded
    async def typed(update: Update, context: RectbotContext) -> int | None:
        t = translator(context.person)
        data = await typed_choice(update, context, rows_of(t, _draft(context)))
        pressed = NEW_CASE.parse(data) if data else None
        if pressed is None:
            result: int | None = await again(update, context)
            return result
        picked: int | None = await chosen(update, context, pressed)
        return picked

    return typed


typed_source = _typed_step(lambda t, _d: _source_rows(t), ask_source, _source_chosen)
typed_grade = _typed_step(lambda t, _d: _grade_rows(t), ask_grade, _grade_chosen)
typed_confidential = _typed_step(lambda t, _d: _confidential_rows(t), ask_confidential, _confidential_chosen)
typed_summary = _typed_step(lambda t, _d: _summary_rows(t), show_summary, _summary_chosen)
typed_field = _typed_step(_edit_rows, ask_edit, _field_chosen)


def new_case_conversation() -> ConversationHandler[RectbotContext]:
    fallbacks: list[BaseHandler[Update, RectbotContext, Any]] = [
        CommandHandler("cancel", cancel), CallbackQueryHandler(cancel, pattern=NEW_CASE.pattern("cancel")),
        CommandHandler("new", new_start)]
    with warnings.catch_warnings():
        # per_message=False is intended: the draft is per user, and buttons are checked by pattern.
        warnings.filterwarnings("ignore", category=PTBUserWarning)
        return _conversation(fallbacks)


def _conversation(
    fallbacks: list[BaseHandler[Update, RectbotContext, Any]],
) -> ConversationHandler[RectbotContext]:
    text = filters.TEXT & ~filters.COMMAND
    skip = NEW_CASE.pattern("skip")
    return ConversationHandler(
        entry_points=[CommandHandler("new", new_start), MessageHandler(tapped("new"), new_start)],  # + the menu
        states={
            DEPT: [CallbackQueryHandler(dept_chosen, pattern=NEW_CASE.pattern("dept")),
                   CallbackQueryHandler(dept_page, pattern=NEW_CASE.pattern("page")),
                   MessageHandler(text, dept_search)],
            PROJECT: [MessageHandler(text, got_project)],
            SOURCE: [CallbackQueryHandler(got_source, pattern=NEW_CASE.pattern("src")),
                     MessageHandler(text, typed_source)],
            GRADE: [CallbackQueryHandler(got_grade, pattern=NEW_CASE.pattern("grade")),
                    MessageHandler(text, typed_grade)],
            FINDINGS: [MessageHandler(text, got_findings), CallbackQueryHandler(got_findings, pattern=skip)],
            SUGGESTIONS: [MessageHandler(text, got_suggestions),
                          CallbackQueryHandler(got_suggestions, pattern=skip)],
            DOC_NO: [MessageHandler(text, got_doc_no), CallbackQueryHandler(got_doc_no, pattern=skip)],
            EVAL_END: [MessageHandler(text, got_eval_end)],
            SENT: [MessageHandler(text, got_sent), CallbackQueryHandler(got_sent, pattern=skip)],
            PERIOD: [MessageHandler(text, got_period), CallbackQueryHandler(got_period, pattern=skip)],
            CONFIDENTIAL: [CallbackQueryHandler(got_confidential, pattern=NEW_CASE.pattern("conf")),
                           MessageHandler(text, typed_confidential)],
            SUMMARY: [CallbackQueryHandler(confirm, pattern=NEW_CASE.pattern("confirm")),
                      CallbackQueryHandler(on_edit, pattern=NEW_CASE.pattern("edit")),
                      MessageHandler(text, typed_summary)],
            EDIT: [CallbackQueryHandler(edit_field, pattern=NEW_CASE.pattern("field")),
                   MessageHandler(text, typed_field)],
        },
        fallbacks=fallbacks,
        name="new_case",
        persistent=True,
        allow_reentry=True,
    )


def handlers() -> list[BaseHandler[Update, RectbotContext, Any]]:
    return [
        new_case_conversation(),
        # A /new button outside the conversation (finished, cancelled, or forged): its own answer.
        CallbackQueryHandler(stale_button, pattern=NEW_CASE.any_pattern),
    ]
