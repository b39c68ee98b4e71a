"""The to-do journey: /todo (and the menu's 今日待办 / 我的待办), its ◀ ▶ pages, and opening an
extension request from it. The to-do itself is bot/todo.py; its other buttons (review card, case,
report) are the existing journeys' own."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot import extensions, todo
from bot.callbacks import PAGE, TODO
from bot.errors import DomainError
from handlers.common import STALE_BUTTON, RectbotContext, guarded, markup, pressed_page, reply, show_listing, translator


async def _show(update: Update, context: RectbotContext, number: int) -> None:
    svc = context.services
    found = await todo.todo_for(svc.db, svc.calendar, svc.settings, context.person, today=svc.today(), number=number)
    text, rows = todo.render(translator(context.person), found)
    await show_listing(update, context, text, rows)


@guarded
async def cmd_todo(update: Update, context: RectbotContext) -> None:
    await _show(update, context, 1)


@guarded
async def cb_page(update: Update, context: RectbotContext) -> None:
    """pg:todo:N — another page, recomputed for whoever pressed and edited in place."""
    await _show(update, context, pressed_page(update, "todo").number())


@guarded
async def cb_extension(update: Update, context: RectbotContext) -> None:
    """td:ext:REQUEST — the extension request's decision card (bureau staff; still pending)."""
    query = update.callback_query
    assert query is not None
    pressed = TODO.parse(query.data)
    if pressed is None:
        raise DomainError(STALE_BUTTON)
    svc = context.services
    request, _case = await extensions.pending_request(svc.db, context.person, pressed.number())
    card = await extensions.extension_card(svc.db, translator(context.person), request.id)
    await reply(update, context, card.text, reply_markup=markup(card.buttons))


@guarded
async def cb_feedback(update: Update, context: RectbotContext) -> None:
    """td:fb:CASE — the feedback card to acknowledge (a liaison of the case's department)."""
    query = update.callback_query
    assert query is not None
    pressed = TODO.parse(query.data)
    if pressed is None:
        raise DomainError(STALE_BUTTON)
    svc = context.services
    card = await todo.feedback_card(svc.db, translator(context.person), context.person, pressed.number())
    await reply(update, context, card.text, reply_markup=markup(card.buttons))


def handlers() -> list[BaseHandler[Update, RectbotContext, object]]:
    return [
        CommandHandler("todo", cmd_todo),
        CallbackQueryHandler(cb_page, pattern=PAGE.pattern("todo")),
        CallbackQueryHandler(cb_extension, pattern=TODO.pattern("ext")),
        CallbackQueryHandler(cb_feedback, pattern=TODO.pattern("fb")),
    ]
