"""Liaison journeys: /cases, /report (also by replying to a reminder or from a button), /extend.

The report conversation is thin: the draft and the step it stands at live in SQLite
(bot.reports), so every handler reads the draft afresh. The ConversationHandler (persistent,
named "report") only routes a liaison's plain messages to the draft; if its state is lost (a
SIGKILL before PTB wrote its pickle), `draft_fallthrough_handlers()` — registered last in group 0
by bot/app.py — route them the same way, and /report resumes the draft explicitly.
"""

from __future__ import annotations

import logging
import warnings
from datetime import date, timedelta

from telegram import CallbackQuery, Message, Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot import case_text, extensions, paging, reports
from bot import cases as cases_domain
from bot.callbacks import EXTENSION, EXTENSION_CHECK, OPEN_CASE, PAGE, REPORT, Callback, CallbackCodec
from bot.dates import DateInputError, Direction, format_date, format_deadline, parse_natural_date
from bot.domain import Case, ItemStatus, Person, Progress, ReportItem, Role, Step
from bot.errors import DomainError
from bot.i18n import N_, Translator
from bot.paging import Page
from bot.people import require_role
from bot.reports import Draft
from bot.services import Services
from bot.text import size_text
from handlers import guidance, reminders
from handlers.common import (
    STALE_BUTTON,
    RectbotContext,
    guarded,
    markup,
    refuse,
    reply,
    show_listing,
    translator,
    typed_choice,
)
from handlers.menu import tapped

log = logging.getLogger(__name__)

REPORTING, EXTEND_REASON, EXTEND_DATE, EXTEND_CHECK = range(4)
END = ConversationHandler.END

Buttons = list[list[tuple[str, str]]]


def _int(text: str) -> int | None:
    """A case number typed as a command argument (#12 and ＃12 too)."""
    text = text.strip().lstrip("#").lstrip("＃")
    return int(text) if text.isdigit() and len(text) < 10 else None


# --------------------------------------------------------------------------- /cases


def _case_argument(context: RectbotContext, usage: str) -> int | None:
    """The case number after /report or /extend; None without one; anything else is refused with `usage`."""
    if not context.args:
        return None
    wanted = _int(" ".join(context.args))
    if wanted is None:
        raise DomainError(usage)
    return wanted


def cases_listing(person: Person, shown: Page[Case], svc: Services, t: Translator) -> tuple[str, Buttons]:
    """One page of /cases: each case with its status and deadline, Open / Report buttons, ◀ ▶."""
    today, calendar = svc.today(), svc.calendar
    if not shown.total:
        return t._("Your department has no open cases."), []
    lines = [t._("Open cases of {department}:").format(department=person.department_name or "")]
    rows: Buttons = []
    for case in shown.items:
        lines.append("")
        lines.append(f"{case_text.case_title(t, case)} · {case_text.status_name(t, case.status)}")
        lines.append("  " + reports.describe_deadline(case, today, calendar, t))
        row = [(t._("Open #{id}").format(id=case.id), OPEN_CASE.build("o", case.id))]
        if reports.is_reportable(case):
            row.append((t._("Report on #{id}").format(id=case.id), REPORT.build("c", case.id)))
        rows.append(row)
    text = paging.with_page_line(t, "\n".join(lines), shown)
    return text, paging.with_nav(t, rows, shown, lambda n: PAGE.build("cases", n))


@guarded
async def cmd_cases(update: Update, context: RectbotContext) -> None:
    svc = context.services
    person = context.person
    t = translator(person)
    if person is not None and person.role != Role.LIAISON:
        require_role(person, Role.LIAISON, Role.SUPERVISOR, Role.ADMIN)
        await reply(update, context, t._("/cases lists a department's cases for its liaison officers. Use /review "
                                         "for reports awaiting review, or /case ID for one case."))
        return
    shown = await reports.open_cases_page(svc.db, person, 1)
    assert person is not None
    text, rows = cases_listing(person, shown, svc, t)
    await reply(update, context, text, reply_markup=markup(rows))


@guarded
async def cb_open_case(update: Update, context: RectbotContext) -> None:
    """cs:o:ID — the case with its history (bureau staff; liaisons of its own department only)."""
    svc = context.services
    person = context.person
    query = update.callback_query
    assert query is not None
    pressed = OPEN_CASE.parse(query.data)
    if person is None or pressed is None:
        raise DomainError(STALE_BUTTON)
    case_id = pressed.number()
    t = translator(person)
    view = await cases_domain.view_case(svc.db, case_id, person)
    text = case_text.render_case(t, view.case, view.history, view.names, svc.settings.bureau.tz, svc.history_labels)
    rows: Buttons = []
    if person.role == Role.LIAISON and reports.is_reportable(view.case):
        rows = [[(t._("Report on #{id}").format(id=case_id), REPORT.build("c", case_id)),
                 (t._("Ask for an extension"), EXTENSION.build("c", case_id))]]
    await reply(update, context, text[:4000], reply_markup=markup(rows))


def case_chooser(t: Translator, question: str, shown: Page[Case], codec: CallbackCodec,
                 list_name: str) -> tuple[str, Buttons]:
    """One page of the /report or /extend chooser: a button per case, ◀ ▶, the page line."""
    rows: Buttons = [[(case_text.case_title(t, c)[:60], codec.build("c", c.id))] for c in shown.items]
    return (paging.with_page_line(t, question, shown),
            paging.with_nav(t, rows, shown, lambda n: PAGE.build(list_name, n)))


async def reportable_cases(svc: Services, person: Person | None, number: int = 1) -> Page[Case]:
    """A page of the department's cases a report can be made on (the /report chooser)."""
    return await reports.open_cases_page(svc.db, person, number, reports.REPORTABLE_STATUSES)


async def extendable_cases(svc: Services, person: Person | None, number: int = 1) -> Page[Case]:
    """A page of the department's cases whose deadline runs (the /extend chooser)."""
    return await reports.open_cases_page(svc.db, person, number, cases_domain.OPEN_STATUSES)


@guarded
async def cb_list_page(update: Update, context: RectbotContext) -> None:
    """pg:cases|report|extend:N — another page, recomputed for whoever pressed (a liaison sees only
    their own department; open_cases_page checks the role again)."""
    svc = context.services
    person = context.person
    t = translator(person)
    query = update.callback_query
    pressed = PAGE.parse(query.data if query else None)
    if person is None or pressed is None:
        raise DomainError(STALE_BUTTON)
    number = pressed.number()
    if pressed.action == "cases":
        text, rows = cases_listing(person, await reports.open_cases_page(svc.db, person, number), svc, t)
    elif pressed.action == "report":
        reportable = await reportable_cases(svc, person, number)
        if not reportable.total:
            raise DomainError(N_("Your department has no case awaiting a report."))
        text, rows = case_chooser(t, t._("Which case are you reporting on?"), reportable, REPORT, "report")
    else:
        open_cases = await extendable_cases(svc, person, number)
        if not open_cases.total:
            raise DomainError(N_("Your department has no case with a running deadline."))
        text, rows = case_chooser(t, t._("Which case needs more time?"), open_cases, EXTENSION, "extend")
    await show_listing(update, context, text, rows)


# --------------------------------------------------------------------------- prompts


def prompt_for(draft: Draft, t: Translator) -> tuple[str, Buttons]:
    """What the bot asks next, from the step the draft stands at."""
    rid = draft.report.id
    step = draft.step
    cancel = (t._("Cancel"), REPORT.build("cancel", rid))
    item = reports.current_item(draft) if step is Step.ITEMS else None
    if item is not None:
        return item_prompt(draft, item, t), [
            [(t._(reports.ITEM_STATUS_NAMES[s]), REPORT.build("is", s.value, item.item_no, rid))
             for s in ItemStatus],
            [(t._("Rewrite this item"), REPORT.build("irw", item.item_no, rid)), cancel] if item.measures
            else [cancel]]
    if step is Step.MEASURES:
        if draft.report.measures:
            text = t._("Measures so far:\n{measures}\n\nSend more, or press Next.").format(
                measures=draft.report.measures)
        else:
            text = t._("Please describe the rectification measures taken. You may send several messages; "
                       "press Next when you are done.")
        rows: Buttons = [[(t._("Next"), REPORT.build("next", rid)), cancel]]
        if draft.report.measures:  # kept, added to, or (this button) rewritten from scratch
            rows.insert(1, [(t._("Rewrite the measures"), REPORT.build("rewrite", rid))])
        return text, rows
    if step is Step.PROGRESS:
        return t._("What is the rectification status?"), [
            [(t._(reports.PROGRESS_NAMES[p]), REPORT.build("p", p.value, rid)) for p in Progress], [cancel]]
    if step is Step.REASON:
        which = reports.progress_name(draft.report.progress, t)
        return t._("Status: {status}. Please give the reason (required).").format(status=which), [[cancel]]
    if step is Step.EVIDENCE:
        count = len(draft.evidence)
        text = t._("Send the evidence: documents (PDF, Word, Excel, PowerPoint, WPS) or photos, up to 20 MB each. "
                   "Press Done when finished.")
        if count:
            text += "\n" + t.ngettext("{n} file received so far.", "{n} files received so far.", count).format(n=count)
        rows = [[(t._("Done") if count else t._("Skip (no evidence)"), REPORT.build("evdone", rid)), cancel]]
        if count:  # replace: remove them all, then send the new ones
            rows.insert(1, [(t._("Remove all evidence"), REPORT.build("evclear", rid))])
        return text, rows
    return summary_text(draft, t), [
        [(t._("Submit"), REPORT.build("submit", rid)), (t._("Edit"), REPORT.build("edit", rid)), cancel]]


def item_prompt(draft: Draft, item: ReportItem, t: Translator) -> str:
    """逐条整改: one numbered finding, the measures so far, and what to do next."""
    findings = reports.finding_items(draft.case)
    finding = findings[item.item_no - 1] if item.item_no <= len(findings) else "—"
    lines = [t._("Item {n} of {total}: {finding}").format(n=item.item_no, total=len(draft.items), finding=finding)]
    if item.measures:
        lines += [t._("Measures for this item so far:"), item.measures,
                  t._("Send more, or choose the status of this item.")]
    else:
        lines.append(t._("Please describe the measures taken for this item (you may send several messages), then "
                         "choose its status."))
    return "\n".join(lines)


def summary_text(draft: Draft, t: Translator) -> str:
    lines = [t._("Please check your report on {case}:").format(case=case_text.case_title(t, draft.case))]
    lines += reports.report_body(draft.case, draft.report, draft.evidence, t, items=draft.items)
    lines.append(t._("Deadline: {deadline}").format(
        deadline=format_deadline(draft.case.due_on, draft.case.due_provisional, t)))
    lines.append(t._("Press Submit to send it to the finance bureau."))
    return "\n".join(lines)


async def show_prompt(update: Update, context: RectbotContext, draft: Draft, t: Translator,
                      prefix: str = "") -> None:
    text, rows = prompt_for(draft, t)
    await reply(update, context, (prefix + "\n\n" + text) if prefix else text, reply_markup=markup(rows))


async def opening_lines(draft: Draft, t: Translator, svc: Services) -> str:
    lines = [
        (t._("Resuming your draft report on {case}.") if draft.resumed
         else t._("Report on {case}.")).format(case=case_text.case_title(t, draft.case)),
        t._("Deadline: {deadline}").format(deadline=reports.describe_deadline(draft.case, svc.today(),
                                                                                svc.calendar, t)),
    ]
    if draft.report.round > 1:  # a resubmission: say which, why, and what it starts from
        previous = await reports.last_return(svc.db, draft.case.id, before_report=draft.report.id)
        lines += reports.resubmission_lines(draft.report, previous, t, confidential=draft.case.confidential)
        if not draft.resumed and (draft.report.measures or draft.evidence):
            lines.append(t.ngettext(
                "This draft starts from your last report: its measures and {n} evidence file. Keep, change or "
                "add to them.",
                "This draft starts from your last report: its measures and {n} evidence files. Keep, change or "
                "add to them.", len(draft.evidence)).format(n=len(draft.evidence)))
    if draft.case.confidential:
        lines.append(t._("This is a confidential case (涉密): do not send confidential details or documents here. "
                         "State only what was done and that the materials went through official channels."))
    return "\n".join(lines)


# --------------------------------------------------------------------------- entry points


async def _start_on_case(update: Update, context: RectbotContext, case_id: int) -> int:
    svc = context.services
    person = context.person
    t = translator(person)
    draft = await reports.start_draft(svc.db, person, case_id, now=svc.now())
    await show_prompt(update, context, draft, t, await opening_lines(draft, t, svc))
    return REPORTING


@guarded(on_refusal=END)
async def cmd_report(update: Update, context: RectbotContext) -> int:
    """/report [CASE]: resume the latest draft, or start on the given case, or choose one."""
    svc = context.services
    person = context.person
    t = translator(person)
    require_role(person, Role.LIAISON)
    assert person is not None
    wanted = _case_argument(context, N_("Usage: /report or /report CASE_NUMBER"))
    if wanted is not None:
        return await _start_on_case(update, context, wanted)
    draft = await reports.current_draft(svc.db, person)
    if draft is not None and reports.is_reportable(draft.case):
        await show_prompt(update, context, draft, t, await opening_lines(draft, t, svc))
        return REPORTING
    reportable = await reportable_cases(svc, person)
    if not reportable.total:
        await reply(update, context, t._("Your department has no case awaiting a report."))
        return END
    if reportable.total == 1:
        return await _start_on_case(update, context, reportable.items[0].id)
    text, rows = case_chooser(t, t._("Which case are you reporting on?"), reportable, REPORT, "report")
    await reply(update, context, text, reply_markup=markup(rows))
    return END  # the button (rp:c:ID) enters the conversation


@guarded(on_refusal=END)
async def cb_start(update: Update, context: RectbotContext) -> int:
    """rp:c:CASE — start (or resume) the report on that case."""
    query = update.callback_query
    assert query is not None
    pressed = REPORT.parse(query.data)
    if pressed is None or pressed.action != "c":
        raise DomainError(STALE_BUTTON)
    return await _start_on_case(update, context, pressed.number())


async def on_reply(update: Update, context: RectbotContext) -> int:
    """A reply to one of the bot's messages about a case (a reminder, an overdue notice…) starts a report."""
    person = context.person
    message = update.effective_message
    assert message is not None and message.reply_to_message is not None
    case_id = None
    if person is not None and person.role == Role.LIAISON:
        case_id = await reports.case_of_reply(context.services.db, person, message.reply_to_message.message_id)
    if case_id is None:
        # Not a liaison's report: the reminders journey stores it as a progress note, if it is a reminder's.
        await reminders.reminder_reply(update, context)
        return END
    return await _report_from_reply(update, context, case_id)


@guarded(on_refusal=END)
async def _report_from_reply(update: Update, context: RectbotContext, case_id: int) -> int:
    svc = context.services
    t = translator(context.person)
    draft = await reports.start_draft(svc.db, context.person, case_id, now=svc.now())
    await reply(update, context, await opening_lines(draft, t, svc))
    return await _handle_content(update, context, draft)


# --------------------------------------------------------------------------- inside the conversation


async def _draft_of(context: RectbotContext) -> Draft | None:
    """The sender's report draft, if they are a liaison with one."""
    person = context.person
    if person is None or person.role != Role.LIAISON:
        return None
    return await reports.current_draft(context.services.db, person)


async def _handle_content(update: Update, context: RectbotContext, draft: Draft) -> int:
    """Text, a document, a photo or a voice note, taken according to the draft's step."""
    svc = context.services
    person = context.person
    t = translator(person)
    message = update.effective_message
    assert message is not None
    rid, now = draft.report.id, svc.now()
    if message.voice or message.audio or message.video_note:
        await reply(update, context, t._("I cannot take voice notes for a report. Please type the text instead "
                                         "(your phone's voice input turns speech into text)."))
        return REPORTING
    if message.document or message.photo:
        return await _handle_file(update, context, draft, message)
    text = message.text or message.caption or ""
    if draft.step is Step.ITEMS and reports.current_item(draft) is not None:
        item = reports.current_item(draft)
        assert item is not None
        typed = {t._(name): status for status, name in reports.ITEM_STATUS_NAMES.items()}.get(text.strip())
        if typed is not None:  # the status typed instead of tapped
            draft = await reports.set_item_status(svc.db, person, rid, item.item_no, typed, now=now)
        else:
            draft = await reports.add_item_measures(svc.db, person, rid, text, now=now)
        await show_prompt(update, context, draft, t)
    elif draft.step is Step.REASON:
        draft = await reports.set_reason(svc.db, person, rid, text, now=now)
        await show_prompt(update, context, draft, t, t._("Reason noted."))
    elif draft.step is Step.PROGRESS:
        chosen = {"已整改": "done", "部分整改": "partly", "未整改": "not_yet"}.get(text.strip())
        if chosen is None:
            await show_prompt(update, context, draft, t, t._("Please choose the status with the buttons."))
            return REPORTING
        draft = await reports.set_progress(svc.db, person, rid, chosen, now=now)
        await show_prompt(update, context, draft, t)
    else:
        # Measures (also when text comes at the evidence or summary step: it adds to the measures).
        draft = await reports.add_measures(svc.db, person, rid, text, now=now)
        note = t._("Noted ({n} characters so far). Send more, or press Next.").format(n=len(draft.report.measures))
        rows = [[(t._("Next"), REPORT.build("next", rid)), (t._("Cancel"), REPORT.build("cancel", rid))]]
        await reply(update, context, note, reply_markup=markup(rows))
    return REPORTING


async def _handle_file(update: Update, context: RectbotContext, draft: Draft, message: Message) -> int:
    svc = context.services
    person = context.person
    t = translator(person)
    if message.document is not None:
        doc = message.document
        file_id, name, mime, size = doc.file_id, doc.file_name, doc.mime_type, doc.file_size
    else:
        photo = message.photo[-1]
        file_id, name, mime, size = photo.file_id, None, "image/jpeg", photo.file_size
    reports.check_evidence(name, mime, size)  # refuse before downloading anything
    tg_file = await context.bot.get_file(file_id)
    data = bytes(await tg_file.download_as_bytearray())
    added = await reports.add_evidence(svc.db, person, draft.report.id, data=data, file_name=name, mime_type=mime,
                                       telegram_file_id=file_id, files_root=svc.settings.storage.files,
                                       now=svc.now())
    if message.caption and reports.current_item(added.draft) is not None:
        # 逐条整改: the caption goes to the item being answered.
        await reports.add_item_measures(svc.db, person, draft.report.id, message.caption, now=svc.now())
    elif message.caption and not added.draft.report.measures:
        # "整改情况见附件" sent with the file: the caption starts the measures.
        await reports.add_measures(svc.db, person, draft.report.id, message.caption, now=svc.now())
    fresh = await reports.load_draft(svc.db, person, draft.report.id)
    if added.duplicate:
        head = t._("This file is already attached: {name}").format(name=added.file.file_name)
    else:
        head = t._("Received {name} ({size}).").format(name=added.file.file_name, size=size_text(added.file.size))
    if fresh.step in (Step.ITEMS, Step.MEASURES, Step.PROGRESS, Step.REASON):
        await show_prompt(update, context, fresh, t, head)
    else:
        rows = [[(t._("Done"), REPORT.build("evdone", fresh.report.id)),
                 (t._("Cancel"), REPORT.build("cancel", fresh.report.id))]]
        count = len(fresh.evidence)
        so_far = t.ngettext("{n} file received so far.", "{n} files received so far.", count).format(n=count)
        await reply(update, context, head + "\n" + so_far, reply_markup=markup(rows))
    return REPORTING


@guarded(on_refusal=END)
async def on_message(update: Update, context: RectbotContext) -> int:
    draft = await _draft_of(context)
    if draft is None:
        await reply(update, context, translator(context.person)._(
            "You have no report in progress. Send /report to start one."))
        return END
    return await _handle_content(update, context, draft)


@guarded(on_refusal=END)
async def on_button(update: Update, context: RectbotContext) -> int:
    """rp:ACTION[:ARG]:REPORT_ID — every press re-reads and re-authorizes the draft."""
    svc = context.services
    person = context.person
    t = translator(person)
    query = update.callback_query
    assert query is not None
    pressed = REPORT.parse(query.data)
    if pressed is None:
        raise DomainError(STALE_BUTTON)
    action, rid, now = pressed.action, pressed.number(), svc.now()
    if action == "next":
        draft = await reports.finish_measures(svc.db, person, rid, now=now)
    elif action == "p":
        draft = await reports.set_progress(svc.db, person, rid, pressed.text(0), now=now)
    elif action == "evdone":
        draft = await reports.goto_step(svc.db, person, rid, Step.SUMMARY, now=now)
    elif action == "goto":
        draft = await reports.goto_step(svc.db, person, rid, pressed.text(0), now=now)
    elif action == "rewrite":
        draft = await reports.replace_measures(svc.db, person, rid, now=now)
    elif action == "evclear":
        draft = await reports.clear_evidence(svc.db, person, rid, now=now)
    elif action == "is":
        draft = await reports.set_item_status(svc.db, person, rid, pressed.number(1), pressed.text(0), now=now)
    elif action == "irw":
        draft = await reports.rewrite_item(svc.db, person, rid, pressed.number(0), now=now)
    elif action == "items":
        draft = await reports.restart_items(svc.db, person, rid, now=now)
    elif action == "edit" and (await reports.load_draft(svc.db, person, rid)).items:
        rows = [[(t._("Go through the items again"), REPORT.build("items", rid))],
                [(t._("Add evidence"), REPORT.build("goto", Step.EVIDENCE.value, rid)),
                 (t._("Remove all evidence"), REPORT.build("evclear", rid))],
                [(t._("Back to the summary"), REPORT.build("goto", Step.SUMMARY.value, rid))]]
        await reply(update, context, t._("What would you like to change?"), reply_markup=markup(rows))
        return REPORTING
    elif action == "edit":
        draft = await reports.load_draft(svc.db, person, rid)
        rows = [[(t._("Add to the measures"), REPORT.build("goto", Step.MEASURES.value, rid)),
                 (t._("Rewrite the measures"), REPORT.build("rewrite", rid))],
                [(t._("Change the status"), REPORT.build("goto", Step.PROGRESS.value, rid)),
                 (t._("Add evidence"), REPORT.build("goto", Step.EVIDENCE.value, rid))],
                [(t._("Remove all evidence"), REPORT.build("evclear", rid)),
                 (t._("Back to the summary"), REPORT.build("goto", Step.SUMMARY.value, rid))]]
        await reply(update, context, t._("What would you like to change?"), reply_markup=markup(rows))
        return REPORTING
    elif action == "cancel":
        case = await reports.cancel_draft(svc.db, person, rid, now=now)
        await _drop_buttons(query)
        await reply(update, context, t._("The draft report on {case} was discarded.").format(
            case=case_text.case_title(t, case)))
        return END
    elif action == "submit":
        done = await reports.submit_report(svc.db, person, rid, now=now, today=svc.today())
        svc.wake_delivery()
        await _drop_buttons(query)
        timing = t._("on time") if done.report.on_time else t._("after the deadline")
        await reply(update, context, t._("Report on {case} submitted on {date} ({timing}). The finance bureau will "
                                         "review it; you will be told the result here.").format(
            case=case_text.case_title(t, done.case), date=format_date(done.report.submitted_on, t), timing=timing))
        return END
    else:  # rp:c:CASE is the conversation's entry point, never a draft button
        raise DomainError(STALE_BUTTON)
    await show_prompt(update, context, draft, t)
    return REPORTING


async def _drop_buttons(query: CallbackQuery) -> None:
    try:
        await query.edit_message_reply_markup(reply_markup=None)
    except Exception:  # the message may be too old or unchanged; the answer matters, not the edit
        log.debug("could not remove the buttons", exc_info=True)


async def cmd_cancel(update: Update, context: RectbotContext) -> int:
    """/cancel leaves the flow and says what it left: an extension request being written is dropped;
    a report draft stays saved for /report."""
    t = translator(context.person)
    if context.user_data is not None and context.user_data.pop("extend", None) is not None:
        await reply(update, context, t._("Extension request cancelled; nothing was sent."))
        return END
    await reply(update, context, t._("Stopped. Your draft report, if any, is kept: send /report to continue it."))
    return END


# --------------------------------------------------------------------------- /extend


@guarded(on_refusal=END)
async def cmd_extend(update: Update, context: RectbotContext) -> int:
    """/extend [CASE]: ask for more time on the given case, or choose one."""
    svc = context.services
    person = context.person
    t = translator(person)
    require_role(person, Role.LIAISON)
    wanted = _case_argument(context, N_("Usage: /extend or /extend CASE_NUMBER"))
    if wanted is not None:
        return await _extend_case(update, context, wanted)
    open_cases = await extendable_cases(svc, person)
    if not open_cases.total:
        await reply(update, context, t._("Your department has no case with a running deadline."))
        return END
    text, rows = case_chooser(t, t._("Which case needs more time?"), open_cases, EXTENSION, "extend")
    await reply(update, context, text, reply_markup=markup(rows))
    return END


@guarded(on_refusal=END)
async def cb_extend_case(update: Update, context: RectbotContext) -> int:
    """ex:c:CASE — ask for an extension of that case."""
    query = update.callback_query
    assert query is not None
    pressed = EXTENSION.parse(query.data)
    if pressed is None or pressed.action != "c":
        raise DomainError(STALE_BUTTON)
    return await _extend_case(update, context, pressed.number())


async def _extend_case(update: Update, context: RectbotContext, case_id: int) -> int:
    svc = context.services
    person = context.person
    t = translator(person)
    case = await extensions.check_can_request(svc.db, person, case_id, today=svc.today())
    assert context.user_data is not None
    context.user_data["extend"] = {"case_id": case.id}
    await reply(update, context, "\n".join([
        t._("Extension request for {case}.").format(case=case_text.case_title(t, case)),
        t._("Current deadline: {deadline}").format(deadline=format_deadline(case.due_on, case.due_provisional, t)),
        t._("Please give the reason for the extension."),
    ]))
    return EXTEND_REASON


async def on_extend_reason(update: Update, context: RectbotContext) -> int:
    t = translator(context.person)
    message = update.effective_message
    assert message is not None and context.user_data is not None
    pending = context.user_data.get("extend")
    text = (message.text or "").strip()
    if not pending or not text:
        await reply(update, context, t._("Please give the reason for the extension."))
        return EXTEND_REASON if pending else END
    pending["reason"] = text
    return await _ask_extend_date(update, context)


async def _ask_extend_date(update: Update, context: RectbotContext) -> int:
    t = translator(context.person)
    await reply(update, context, t._("Until when? Type the proposed date, e.g. 2026-05-29, 5月29日, 下周五 or "
                                     "下个月底."))
    return EXTEND_DATE


async def on_extend_date(update: Update, context: RectbotContext) -> int:
    svc = context.services
    person = context.person
    t = translator(person)
    message = update.effective_message
    assert message is not None and context.user_data is not None
    pending = context.user_data.get("extend") or {}
    if "reason" not in pending:
        return END
    try:
        proposed = parse_natural_date(message.text or "", svc.today(), direction=Direction.FUTURE)
    except DateInputError as exc:  # why, and the same question again: the conversation stays here
        await reply(update, context, exc.render(t))
        return await _ask_extend_date(update, context)
    try:
        case = await extensions.check_proposal(svc.db, person, int(pending["case_id"]), reason=str(pending["reason"]),
                                               proposed_due_on=proposed, today=svc.today())
    except DomainError as exc:
        await reply(update, context, exc.render(t))
        if exc.msgid == extensions.PROPOSED_TOO_EARLY:
            return await _ask_extend_date(update, context)
        context.user_data.pop("extend", None)
        return END
    pending["proposed"] = proposed.isoformat()
    return await _show_extend_check(update, context, case)


async def _show_extend_check(update: Update, context: RectbotContext, case: Case) -> int:
    """The check step, like the report's summary: nothing is sent before 提交."""
    t = translator(context.person)
    assert context.user_data is not None
    pending = context.user_data["extend"]
    proposed = date.fromisoformat(str(pending["proposed"]))
    text = "\n".join([
        t._("Please check your extension request:"),
        t._("Case: {case}").format(case=case_text.case_title(t, case)),
        t._("Current deadline: {deadline}").format(deadline=format_deadline(case.due_on, case.due_provisional, t)),
        t._("Proposed deadline: {date}").format(date=format_date(proposed, t)),
        t._("Reason: {reason}").format(reason=pending["reason"]),
    ])
    await reply(update, context, text, reply_markup=markup(_extend_check_rows(t, case.id)))
    return EXTEND_CHECK


def _extend_check_rows(t: Translator, case_id: int) -> list[list[tuple[str, str]]]:
    return [[(t._("Submit"), EXTENSION.build("send", case_id)), (t._("Edit"), EXTENSION.build("edit", case_id)),
             (t._("Cancel"), EXTENSION.build("drop", case_id))]]


@guarded(on_refusal=END, forget="extend")
async def on_extend_check_text(update: Update, context: RectbotContext) -> int:
    """Typing at the check step: 提交 / 修改 / 取消 typed act as the button; anything else gets the hint and
    the card again."""
    svc = context.services
    pending = (context.user_data or {}).get("extend") or {}
    if "proposed" not in pending:
        return END
    case = await extensions.check_can_request(svc.db, context.person, int(pending["case_id"]), today=svc.today())
    data = await typed_choice(update, context, _extend_check_rows(translator(context.person), case.id))
    pressed = EXTENSION.parse(data) if data else None
    if pressed is None:
        return await _show_extend_check(update, context, case)
    return await _extend_check_chosen(update, context, pressed)


@guarded(on_refusal=END, forget="extend")
async def on_extend_check(update: Update, context: RectbotContext) -> int:
    """A press on the check card: only the card of the request in progress counts."""
    t = translator(context.person)
    query = update.callback_query
    assert query is not None and context.user_data is not None
    pressed = EXTENSION.parse(query.data)
    pending = context.user_data.get("extend") or {}
    if pressed is None or "proposed" not in pending or pressed.number() != int(pending["case_id"]):
        await refuse(update, context, t._(STALE_BUTTON))  # an older card: the request on screen stays
        return EXTEND_CHECK if "proposed" in pending else END
    await _drop_buttons(query)
    return await _extend_check_chosen(update, context, pressed)


async def _extend_check_chosen(update: Update, context: RectbotContext, pressed: Callback) -> int:
    """提交 files the request; 修改 asks the reason and the date again; 取消 drops it."""
    svc = context.services
    person = context.person
    t = translator(person)
    assert context.user_data is not None
    pending = context.user_data.get("extend") or {}
    if pressed.action == "drop":
        context.user_data.pop("extend", None)
        await reply(update, context, t._("Extension request cancelled; nothing was sent."))
        return END
    if pressed.action == "edit":
        pending.pop("proposed", None)
        pending.pop("reason", None)
        await reply(update, context, t._("Please give the reason for the extension."))
        return EXTEND_REASON
    try:
        request = await extensions.request_extension(svc.db, person, int(pending["case_id"]),
                                                     reason=str(pending["reason"]),
                                                     proposed_due_on=date.fromisoformat(str(pending["proposed"])),
                                                     now=svc.now(), today=svc.today())
    finally:
        context.user_data.pop("extend", None)
    svc.wake_delivery()
    await reply(update, context, t._("Extension request sent: case #{id}, proposed deadline {date}. The finance "
                                     "bureau will decide; the current deadline {current} applies until then.").format(
        id=request.case_id, date=format_date(request.proposed_due_on, t),
        current=format_date(request.previous_due_on, t)))
    return END


# --------------------------------------------------------------------------- wiring


class _ReplyToBot(filters.MessageFilter):
    """A reply to one of the bot's own messages (in a private chat)."""

    def filter(self, message: Message) -> bool:
        replied = message.reply_to_message
        return bool(replied and replied.from_user and replied.from_user.is_bot)


REPLY_TO_BOT = _ReplyToBot()
CONTENT = (filters.TEXT & ~filters.COMMAND) | filters.Document.ALL | filters.PHOTO
VOICE = filters.VOICE | filters.AUDIO | filters.VIDEO_NOTE


def conversation() -> ConversationHandler[RectbotContext]:
    with warnings.catch_warnings():  # per_message=False is intended: the draft id travels in the callback data
        warnings.simplefilter("ignore", PTBUserWarning)
        return _conversation()


def _conversation() -> ConversationHandler[RectbotContext]:
    return ConversationHandler(
        name="report",
        persistent=True,
        allow_reentry=True,
        conversation_timeout=timedelta(hours=2),
        entry_points=[
            CommandHandler("report", cmd_report),
            CommandHandler("extend", cmd_extend),
            MessageHandler(tapped("report"), cmd_report), MessageHandler(tapped("extend"), cmd_extend),  # the menu
            CallbackQueryHandler(cb_start, pattern=REPORT.pattern("c")),
            CallbackQueryHandler(cb_extend_case, pattern=EXTENSION.pattern("c")),
            MessageHandler(filters.ChatType.PRIVATE & REPLY_TO_BOT & (CONTENT | VOICE), on_reply),
        ],
        states={
            REPORTING: [
                MessageHandler(CONTENT | VOICE, on_message),
                # Every rp: press, valid or not: on_button refuses what does not parse and ends the flow.
                CallbackQueryHandler(on_button, pattern=REPORT.any_pattern),
            ],
            EXTEND_REASON: [MessageHandler(filters.TEXT & ~filters.COMMAND, on_extend_reason)],
            EXTEND_DATE: [MessageHandler(filters.TEXT & ~filters.COMMAND, on_extend_date)],
            EXTEND_CHECK: [CallbackQueryHandler(on_extend_check, pattern=EXTENSION.pattern(*EXTENSION_CHECK)),
                           MessageHandler(filters.TEXT & ~filters.COMMAND, on_extend_check_text)],
        },
        fallbacks=[CommandHandler("cancel", cmd_cancel)],
    )


async def fallthrough_message(update: Update, context: RectbotContext) -> None:
    """A liaison's message outside the conversation (its state lost): continue the draft if there is one;
    anyone else's stray message is answered by guidance.answer_stray, never with silence."""
    if await _draft_of(context) is not None:
        await on_message(update, context)
    else:
        await guidance.answer_stray(update, context)  # never silent


async def fallthrough_button(update: Update, context: RectbotContext) -> None:
    await on_button(update, context)


def draft_fallthrough_handlers() -> list[BaseHandler[Update, RectbotContext, object]]:
    """Registered after every other handler of group 0 (see bot/app.py): nothing typed is lost."""
    return [
        MessageHandler(filters.ChatType.PRIVATE & ~filters.REPLY & (CONTENT | VOICE), fallthrough_message),
        CallbackQueryHandler(fallthrough_button, pattern=REPORT.any_pattern),
    ]


def handlers() -> list[BaseHandler[Update, RectbotContext, object]]:
    return [
        conversation(),
        CommandHandler("cases", cmd_cases),
        CallbackQueryHandler(cb_open_case, pattern=OPEN_CASE.pattern("o")),
        CallbackQueryHandler(cb_list_page, pattern=PAGE.pattern("cases", "report", "extend")),
    ]
