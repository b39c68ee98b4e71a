"""Shared plumbing for the Telegram-facing modules: the per-update context, replying, refusals.

PTB builds one context object per update and hands the same object to every handler group, so the
stranger gate (group -1) loads the sender once into ``RectbotContext.person`` and every handler
reads it from there; the same object remembers whether the button press was answered already.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

from telegram import InlineKeyboardMarkup, Message, MessageEntity, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, ApplicationHandlerStop, CallbackContext, ExtBot

from bot import people
from bot.callbacks import PAGE, Callback
from bot.delivery import mark_reachable
from bot.domain import Person
from bot.errors import DomainError, RectbotError
from bot.i18n import N_, Translator, translator_for_locale
from bot.services import Services
from bot.telegram_channel import keyboard, split_text
from bot.text import pick_label

log = logging.getLogger(__name__)

H = TypeVar("H", bound=Callable[..., Awaitable[Any]])

INVITATION_HINT = N_(
    "Hello! This is the {bureau} rectification assistant. It is only for registered finance-bureau "
    "staff and department liaison officers.\n\nTo register, ask the finance bureau's performance "
    "management office (绩效管理科) for an invitation code, then send:\n/start CODE"
)
STALE_BUTTON = N_("This button is no longer valid.")
PRIVATE_ONLY = N_("To keep information secure, please use this bot in a private chat with it.")
ANSWER_LIMIT = 190  # characters Telegram shows in a callback answer (the API allows 200)


class RectbotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """The context of one update: who sent it (loaded once, by the gate) and the services."""

    def __init__(self, application: Application[Any, Any, Any, Any, Any, Any], chat_id: int | None = None,
                 user_id: int | None = None) -> None:
        super().__init__(application, chat_id=chat_id, user_id=user_id)
        self.person: Person | None = None  # set by gate_strangers; None for strangers, jobs and errors
        self.answered = False  # Telegram takes one answer per button press: the first one wins

    @property
    def services(self) -> Services:
        svc = self.application.bot_data["services"]
        assert isinstance(svc, Services)
        return svc


def translator(person: Person | None) -> Translator:
    return translator_for_locale(person.locale if person else None)


async def ack(update: Update, context: RectbotContext, text: str | None = None, *, alert: bool = False) -> None:
    """Answer a button press exactly once (later answers of the same press are dropped)."""
    query = update.callback_query
    if query is None or context.answered:
        return
    context.answered = True
    try:
        await query.answer(text[:ANSWER_LIMIT] if text else None, show_alert=alert)
    except TelegramError:
        log.debug("could not answer the callback query", exc_info=True)


async def reply(update: Update, context: RectbotContext, text: str, **kwargs: Any) -> None:
    """Send to the chat the update came from (a button press is answered first, once).

    Text over Telegram's 4,096 characters goes as several messages cut at line ends, the keyboard
    on the last one (the same guard as the outbox's adapter, bot.telegram_channel.split_text).
    """
    await ack(update, context)
    chat = update.effective_chat
    if chat is None:
        return
    markup_ = kwargs.pop("reply_markup", None)
    parts = split_text(text)
    for i, part in enumerate(parts):
        await chat.send_message(part, reply_markup=markup_ if i == len(parts) - 1 else None, **kwargs)


async def show_listing(update: Update, context: RectbotContext, text: str, rows: list[list[tuple[str, str]]]) -> None:
    """A page of a list (bot.paging): a ◀ ▶ press edits its own message in place, anything else replies.

    A page is sized to fit one message; should one not (a pathological project name), the edit
    keeps what fits at line ends rather than failing. A press on a message that cannot be edited
    into a page (a file's caption, one too old or deleted) gets the page as a new message.
    """
    query = update.callback_query
    message = query.message if query is not None else None
    if query is None or PAGE.parse(query.data) is None or not isinstance(message, Message) or message.text is None:
        await reply(update, context, text, reply_markup=markup(rows))
        return
    await ack(update, context)
    parts = split_text(text)
    if len(parts) > 1:
        log.warning("a list page of %d characters was cut to fit one message", len(text))
    try:
        await query.edit_message_text(parts[0], reply_markup=markup(rows))
    except BadRequest as exc:
        if "not modified" in exc.message.lower():  # the same page again (the list did not change)
            return
        log.info("a list page could not replace its message (%s); sent as a new one", exc.message)
        await reply(update, context, text, reply_markup=markup(rows))


def pressed_page(update: Update, *actions: str) -> Callback:
    """The ◀ ▶ press of one of these listings, or a refusal: callback data is user input, so a forged
    or stale page button gets the stale-button answer, never a half-parsed number."""
    query = update.callback_query
    pressed = PAGE.parse(query.data if query is not None else None)
    if pressed is None or (actions and pressed.action not in actions):
        raise DomainError(STALE_BUTTON)
    return pressed


async def refuse(update: Update, context: RectbotContext, text: str) -> None:
    """A refusal: an alert on a still-unanswered button press when it fits, else a message."""
    if update.callback_query is not None and not context.answered:
        await ack(update, context, text, alert=True)
        if len(text) <= ANSWER_LIMIT:
            return
    if update.effective_chat is not None:
        for part in split_text(text):
            await update.effective_chat.send_message(part)


TAP_A_BUTTON = N_("Please tap one of the buttons below (or type the text of one).")


async def typed_choice(update: Update, context: RectbotContext, rows: list[list[tuple[str, str]]]) -> str | None:
    """Text typed at a step that expects a tap: the callback data of the button it names (绩效评价 picks
    that button); None after a one-line hint, and the caller asks the step again with its buttons."""
    message = update.effective_message
    buttons = [button for row in rows for button in row]
    index = pick_label([label for label, _data in buttons], (message.text or "") if message else "")
    if index is None:
        await reply(update, context, translator(context.person)._(TAP_A_BUTTON))
        return None
    return buttons[index][1]


def markup(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup | None:
    """Inline keyboard from rows of (label, callback_data); None when there are no buttons.

    The same builder the outbox's Telegram adapter uses, so replies and notifications look alike.
    """
    return keyboard(rows)


@overload
def guarded(func: H, /) -> H: ...


@overload
def guarded(*, on_refusal: int, forget: str | None = None) -> Callable[[H], H]: ...


def guarded(func: H | None = None, /, *, on_refusal: int | None = None, forget: str | None = None) -> Any:
    """Turn a RectbotError raised by the domain into a polite refusal in the sender's language.

    ``@guarded`` returns None after a refusal (a conversation stays where it was);
    ``@guarded(on_refusal=END, forget="review")`` ends the conversation and drops its pending state.
    """

    def decorate(f: H) -> H:
        @functools.wraps(f)
        async def wrapper(update: Update, context: RectbotContext, *args: Any, **kwargs: Any) -> Any:
            try:
                return await f(update, context, *args, **kwargs)
            except RectbotError as exc:
                await refuse(update, context, exc.render(translator(context.person)))
                if forget is not None and context.user_data is not None:
                    context.user_data.pop(forget, None)
                return on_refusal

        return wrapper  # type: ignore[return-value]

    return decorate(func) if func is not None else decorate


def addressed_to_bot(message: Message, bot_id: int, bot_username: str) -> bool:
    """A command (bare, or ``/cmd@thisbot``), an @mention of the bot, or a reply to one of its messages."""
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot_id:
        return True
    mention = "@" + bot_username.lower()
    entities = message.parse_entities() or message.parse_caption_entities()
    for entity, text in entities.items():
        if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
            _, at, target = text.partition("@")
            if not at or target.lower() == bot_username.lower():
                return True
        elif entity.type == MessageEntity.MENTION and text.lower() == mention:
            return True
    return False


async def refuse_outside_private(update: Update, context: RectbotContext) -> None:
    """Groups, supergroups and channels: one line pointing to a private chat, and nothing else.

    Codes, ledgers and findings must never reach a room others can read, so nothing runs there: no
    handler, no state change, not even "reachable again". Chatter not addressed to the bot gets no answer.
    """
    user = update.effective_user
    person = await people.person_by_telegram_id(context.services.db, user.id) if user is not None else None
    line = translator(person)._(PRIVATE_ONLY)
    if update.callback_query is not None:
        await ack(update, context, line, alert=True)
        return
    message = update.message or update.channel_post
    if message is None or not addressed_to_bot(message, context.bot.id, context.bot.username):
        return
    try:
        await message.reply_text(line, do_quote=True)
    except TelegramError:
        log.debug("could not answer in the group %s", message.chat_id, exc_info=True)


async def gate_strangers(update: Update, context: RectbotContext) -> None:
    """Group -1, before every handler: groups get one line; load the sender once; strangers get the hint only."""
    chat = update.effective_chat
    if chat is not None and chat.type != ChatType.PRIVATE:
        await refuse_outside_private(update, context)
        raise ApplicationHandlerStop
    user = update.effective_user
    if user is None:
        raise ApplicationHandlerStop
    svc = context.services
    context.person = person = await people.person_by_telegram_id(svc.db, user.id)
    message = update.effective_message
    if message is not None and update.callback_query is None and (message.text or "").startswith("/start"):
        return  # /start CODE is how strangers become people
    if person is not None:
        if not person.reachable and (update.message is not None or update.callback_query is not None):
            # issue 5: someone who writes to the bot again can be reached again
            await mark_reachable(svc, person)
            context.person = dataclasses.replace(person, reachable=True)
        return
    await refuse(update, context, translator(None)._(INVITATION_HINT).format(bureau=svc.settings.bureau.name))
    raise ApplicationHandlerStop


async def stale_button(update: Update, context: RectbotContext) -> None:
    """Runs when no handler claimed a button press (old keyboard, forged data): say so, change nothing."""
    await refuse(update, context, translator(context.person)._(STALE_BUTTON))


async def on_error(update: object, context: RectbotContext) -> None:
    """Log, and say sorry in the sender's language.

    PTB gives the error handler a fresh context (not the update's), so the sender is looked up here.
    """
    log.error("unhandled error while processing an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        user = update.effective_user
        try:
            person = await people.person_by_telegram_id(context.services.db, user.id) if user else None
        except Exception:
            person = None
            log.warning("could not look up the sender after an error", exc_info=True)
        t = translator(person)
        try:
            await update.effective_chat.send_message(
                t._("Sorry, something went wrong on our side. Please try again later.")
            )
        except Exception:
            log.warning("could not tell the user about the error")
