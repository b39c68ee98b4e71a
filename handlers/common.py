"""Shared plumbing for the Telegram-facing modules: who is speaking, replying, errors."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from telegram import Update
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.errors import RectbotError
from bot.i18n import N_, Translator, translator_for_locale
from bot.services import Services
from storage import people as people_repo
from storage.people import Person

log = logging.getLogger(__name__)

Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[Any]]
H = TypeVar("H", bound=Handler)

INVITATION_HINT = N_(
    "Hello! This is the {bureau} rectification assistant. It is only for registered finance-bureau "
    "staff and department liaison officers.\n\nTo register, ask the finance bureau's performance "
    "management office (绩效管理科) for an invitation code, then send:\n/start CODE"
)


def services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    svc = context.application.bot_data["services"]
    assert isinstance(svc, Services)
    return svc


async def sender(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Person | None:
    user = update.effective_user
    if user is None:
        return None
    return await people_repo.person_by_telegram_id(services(context).db, user.id)


def translator(person: Person | None) -> Translator:
    return translator_for_locale(person.locale if person else None)


async def reply(update: Update, text: str, **kwargs: Any) -> None:
    """Answer in the chat the update came from (message or button press)."""
    if update.callback_query is not None:
        await update.callback_query.answer()
    chat = update.effective_chat
    if chat is not None:
        await chat.send_message(text, **kwargs)


async def refuse(update: Update, text: str) -> None:
    """A refusal: a button press gets an alert, a message gets a reply."""
    if update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=True)
    elif update.effective_chat is not None:
        await update.effective_chat.send_message(text)


def guarded(func: H) -> H:
    """Turn a RectbotError raised by the domain into a polite reply in the sender's language."""

    @functools.wraps(func)
    async def wrapper(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Any:
        try:
            return await func(update, context)
        except RectbotError as exc:
            person = await sender(update, context)
            await refuse(update, exc.render(translator(person)))
            return None

    return wrapper  # type: ignore[return-value]


async def gate_strangers(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Runs before every handler: unknown people get the invitation hint and nothing else."""
    if update.effective_user is None:
        raise ApplicationHandlerStop
    message = update.effective_message
    if message is not None and update.callback_query is None and (message.text or "").startswith("/start"):
        return  # /start CODE is how strangers become people
    if await sender(update, context) is not None:
        return
    t = translator(None)
    await refuse(update, t._(INVITATION_HINT).format(bureau=services(context).settings.bureau.name))
    raise ApplicationHandlerStop


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    log.error("unhandled error while processing an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        t = translator(await sender(update, context))
        try:
            await update.effective_chat.send_message(
                t._("Sorry, something went wrong on our side. Please try again later.")
            )
        except Exception:
            log.warning("could not tell the user about the error")
