"""The rectification ledger in chat: /export, and importing it by sending an .xlsx/.csv file.

An import with bad rows waits for a button (import the good rows, or cancel); the upload is kept
under files/imports meanwhile, named by the token the buttons carry.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from pathlib import Path
from typing import Any

from telegram import Chat, Message, Update
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot import ledger, reports
from bot.callbacks import LEDGER
from bot.domain import Person
from bot.errors import DomainError, RectbotError
from bot.i18n import Translator
from bot.people import BUREAU_ROLES, require_role
from handlers import report
from handlers.common import STALE_BUTTON, RectbotContext, ack, guarded, markup, translator

log = logging.getLogger(__name__)

IMPORT = "ledger_import"  # user_data key of the upload waiting for the buttons

# A spreadsheet sent as a new message (not a reply). Whether it is a ledger depends on who sent it,
# which a (synchronous, context-less) filter cannot know: ledger_upload asks the context's person.
LEDGER_FILE = (filters.Document.FileExtension("xlsx") | filters.Document.FileExtension("csv")) & ~filters.REPLY


def _bureau(context: RectbotContext) -> Person:
    """The sender, who must be bureau staff."""
    return require_role(context.person, *BUREAU_ROLES)


@guarded
async def export_command(update: Update, context: RectbotContext) -> None:
    person = _bureau(context)
    svc = context.services
    t = translator(person)
    content, count = await ledger.export_ledger(svc.db, svc.calendar, svc.today(), redact_confidential=True,
                                                blue_working_days=svc.settings.ladder.blue_working_days,
                                                levels=svc.settings.escalation.levels)
    chat = update.effective_chat
    assert chat is not None
    name = f"整改台账-{svc.today().isoformat()}.xlsx"
    await chat.send_document(document=content, filename=name, caption=t._(
        "Rectification ledger: {n} case(s). Confidential cases show no details.").format(n=count))


def _pending_path(context: RectbotContext, token: str, name: str) -> Path:
    path = ledger.pending_import_path(context.services.evidence_root, token, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _forget_pending(context: RectbotContext) -> None:
    """A new upload replaces the one still waiting: its copy goes (stale ones are purged by a job)."""
    old = (context.user_data or {}).pop(IMPORT, None)
    if isinstance(old, dict):
        _pending_path(context, str(old.get("token")), str(old.get("name"))).unlink(missing_ok=True)


class _Progress:
    """One message edited as the import goes, no faster than Telegram's per-chat limit allows."""

    def __init__(self, message: Message, t: Translator) -> None:
        self.message = message
        self.t = t
        self.last = 0.0

    async def show(self, text: str, *, force: bool = False, **kwargs: Any) -> None:
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


async def ledger_upload(update: Update, context: RectbotContext) -> None:
    """A spreadsheet from bureau staff is a ledger to import; anyone else's (a liaison's evidence) goes on
    to the report draft, where it would have gone without this handler."""
    person = context.person
    if person is None or person.role not in BUREAU_ROLES:
        chat = update.effective_chat
        if chat is not None and chat.type == Chat.PRIVATE:
            await report.fallthrough_message(update, context)
        return
    await _import_upload(update, context, person)


@guarded
async def _import_upload(update: Update, context: RectbotContext, person: Person) -> None:
    message = update.effective_message
    assert message is not None and message.document is not None
    t = translator(person)
    svc = context.services
    name = message.document.file_name or "ledger.xlsx"
    reports.check_download_size(message.document.file_size)  # getFile refuses bigger files
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
    summary = ledger.describe_plan(t, plan, max_errors=20)
    if plan.bad:
        token = secrets.token_hex(6)
        _forget_pending(context)
        await asyncio.to_thread(_pending_path(context, token, name).write_bytes, data)
        assert context.user_data is not None
        context.user_data[IMPORT] = {"token": token, "name": name}
        rows = [[(t._("Import the {n} good row(s)").format(n=len(plan.new)), LEDGER.build("go", token))]] \
            if plan.new else []
        rows.append([(t._("Cancel"), LEDGER.build("no", token))])
        await progress.show(summary + "\n\n" + t._("Nothing has been imported yet."), force=True,
                            reply_markup=markup(rows))
        return
    await progress.show(summary, force=True)
    result = await ledger.apply_import(svc.db, svc.calendar, plan, actor=person, now=svc.now(), progress=progress,
                                       settings=svc.settings)
    await progress.show(summary + "\n\n" + ledger.describe_result(t, result), force=True)


@guarded
async def ledger_confirm(update: Update, context: RectbotContext) -> None:
    query = update.callback_query
    assert query is not None
    person = _bureau(context)
    t = translator(person)
    svc = context.services
    pressed = LEDGER.parse(query.data)
    if pressed is None:
        raise DomainError(STALE_BUTTON)
    action, token = pressed.action, pressed.text()
    pending = (context.user_data or {}).get(IMPORT)
    if not isinstance(pending, dict) or pending.get("token") != token:
        await ack(update, context, t._("This import is no longer waiting; send the file again."), alert=True)
        return
    assert context.user_data is not None
    context.user_data.pop(IMPORT, None)
    path = _pending_path(context, token, str(pending.get("name")))
    await ack(update, context)
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
                                           skip_invalid=True, progress=progress, settings=svc.settings)
    finally:
        path.unlink(missing_ok=True)
    await progress.show(ledger.describe_result(t, result), force=True)


def handlers() -> list[BaseHandler[Update, RectbotContext, Any]]:
    return [
        CallbackQueryHandler(ledger_confirm, pattern=LEDGER.pattern()),
        CommandHandler("export", export_command),
        MessageHandler(LEDGER_FILE, ledger_upload),
    ]
