"""Shared plumbing for the Telegram-facing modules: who is speaking, replying, errors."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.domain import Person
from bot.errors import RectbotError
from bot.i18n import N_, Translator, translator_for_locale
from bot.services import Services
from storage import people as people_repo

log = logging.getLogger(__name__)

Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[Any]]
H = TypeVar("H", bound=Callable[..., Awaitable[Any]])

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


# Telegram accepts one answer per button press, and several steps may want to answer it (a toast,
# a refusal alert); the first one wins. Bounded, oldest forgotten first.
_ANSWERED: dict[str, None] = {}


async def ack(update: Update, text: str | None = None, *, alert: bool = False) -> None:
    """Answer a button press exactly once."""
    query = update.callback_query
    if query is None or query.id in _ANSWERED:
        return
    _ANSWERED[query.id] = None
    while len(_ANSWERED) > 2000:
        _ANSWERED.pop(next(iter(_ANSWERED)))
    try:
        await query.answer(text[:190] if text else None, show_alert=alert)
    except TelegramError:
        log.debug("could not answer the callback query", exc_info=True)


async def reply(update: Update, text: str, **kwargs: Any) -> None:
    """Send to the chat the update came from (a button press is answered first, once)."""
    await ack(update)
    chat = update.effective_chat
    if chat is not None:
        await chat.send_message(text, **kwargs)


async def refuse(update: Update, text: str) -> None:
    """A refusal: an alert on a still-unanswered button press when it fits, else a message."""
    query = update.callback_query
    if query is not None and query.id not in _ANSWERED:
        await ack(update, text, alert=True)
        if len(text) <= 190:
            return
    if update.effective_chat is not None:
        await update.effective_chat.send_message(text)


def markup(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup | None:
    """Inline keyboard from rows of (label, callback_data); None when there are no buttons."""
    if not rows:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data) for label, data in row]
                                 for row in rows])


async def refuse_error(update: Update, context: ContextTypes.DEFAULT_TYPE, exc: RectbotError) -> None:
    """A domain refusal, worded in the sender's language."""
    await refuse(update, exc.render(translator(await sender(update, context))))


def guarded(func: H) -> H:
    """Turn a RectbotError raised by the domain into a polite reply in the sender's language."""

    @functools.wraps(func)
    async def wrapper(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Any:
        try:
            return await func(update, context)
        except RectbotError as exc:
            await refuse_error(update, context, exc)
            return None

    return wrapper  # type: ignore[return-value]


async def gate_strangers(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Runs before every handler: unknown people get the invitation hint and nothing else."""
    if update.effective_user is None:
        raise ApplicationHandlerStop
    message = update.effective_message
    if message is not None and update.callback_query is None and (message.text or "").startswith("/start"):
        return  # /start CODE is how strangers become people
    person = await sender(update, context)
    if person is not None:
        if not person.reachable and (update.message is not None or update.callback_query is not None):
            # issue 5: someone who writes to the bot again can be reached again
            from bot.delivery import mark_reachable

            await mark_reachable(services(context), person)
        return
    t = translator(None)
    await refuse(update, t._(INVITATION_HINT).format(bureau=services(context).settings.bureau.name))
    raise ApplicationHandlerStop


async def stale_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Runs when no handler claimed a button press (old keyboard, forged data): say so, change nothing."""
    await refuse(update, translator(await sender(update, context))._("This button is no longer valid."))


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
