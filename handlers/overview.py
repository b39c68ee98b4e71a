"""The bureau's overview in chat: /status (各单位情况), its department buttons and pages; /stats and its pages.

Thin: parse, call bot.overview with plain values (every press authorized again there), render, reply.
"""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot import overview, paging, stats, stats_text
from bot.callbacks import PAGE, STATUS
from bot.errors import DomainError
from bot.people import BUREAU_ROLES
from handlers.common import STALE_BUTTON, RectbotContext, guarded, pressed_page, reply, show_listing, translator

BUTTONS_PER_ROW = 2  # department names are long; two a row stay readable on a phone


async def _show_all(update: Update, context: RectbotContext, number: int) -> None:
    person = context.person
    assert person is not None
    svc = context.services
    t = translator(person)
    statuses = await overview.department_statuses(svc.db, svc.calendar, svc.settings, person, svc.today())
    listing = overview.status_page(t, statuses, number, svc.today())
    shown = paging.page(statuses, number).items
    buttons = [(f"{s.worst.emoji} {s.counts.name}", STATUS.build("d", s.counts.department_id)) for s in shown]
    rows = [buttons[i:i + BUTTONS_PER_ROW] for i in range(0, len(buttons), BUTTONS_PER_ROW)]
    await show_listing(update, context, listing.text,
                       paging.with_nav(t, rows, listing.page, lambda n: PAGE.build("status", n)))


async def _show_department(update: Update, context: RectbotContext, department_id: int, number: int) -> None:
    person = context.person
    assert person is not None
    svc = context.services
    t = translator(person)
    status, lines = await overview.department_cases(svc.db, svc.calendar, svc.settings, person, department_id,
                                                    svc.today())
    listing = overview.department_page(t, status, lines, number)
    await show_listing(update, context, listing.text,
                       paging.with_nav(t, [], listing.page, lambda n: PAGE.build("sdept", department_id, n)))


@guarded
async def status_command(update: Update, context: RectbotContext) -> None:
    """/status: every department (a liaison: their own); /status NAME: that department's cases."""
    person = context.person
    assert person is not None
    name = " ".join(context.args or [])
    if not name:
        await _show_all(update, context, 1)
        return
    department = await overview.resolve_department(context.services.db, person, name)
    await _show_department(update, context, department.id, 1)


@guarded
async def department_button(update: Update, context: RectbotContext) -> None:
    query = update.callback_query
    assert query is not None
    pressed = STATUS.parse(query.data)
    if pressed is None or context.person is None:
        raise DomainError(STALE_BUTTON)
    await _show_department(update, context, pressed.number(), 1)


@guarded
async def page_button(update: Update, context: RectbotContext) -> None:
    """pg:status:N and pg:sdept:DEPARTMENT:N, edited in place."""
    pressed = pressed_page(update, "status", "sdept")
    if pressed.action == "status":
        await _show_all(update, context, pressed.number())
    else:
        await _show_department(update, context, pressed.number(0), pressed.number(1))


def handlers() -> list[BaseHandler[Update, RectbotContext, Any]]:
    return [
        CommandHandler("status", status_command),
        CallbackQueryHandler(department_button, pattern=STATUS.pattern("d")),
        CallbackQueryHandler(page_button, pattern=PAGE.pattern("status", "sdept")),
        CommandHandler("stats", stats_command),
        CallbackQueryHandler(stats_page, pattern=PAGE.pattern("stats")),
    ]


# --------------------------------------------------------------------------- /stats


async def _show_stats(update: Update, context: RectbotContext, period: stats.StatsPeriod, number: int) -> None:
    person = context.person
    assert person is not None
    svc = context.services
    t = translator(person)
    report = await stats.stats_for(svc.db, svc.calendar, svc.settings, person, period, svc.today(), None)
    if person.role not in BUREAU_ROLES:
        await reply(update, context, stats_text.department_text(t, report))
        return
    listing = stats_text.overall_page(t, report, svc.settings.ranking, number)
    start, end = stats.period_code(period)
    await show_listing(update, context, listing.text,
                       paging.with_nav(t, [], listing.page, lambda n: PAGE.build("stats", start, end, n)))


@guarded
async def stats_command(update: Update, context: RectbotContext) -> None:
    """/stats [DEPARTMENT] [本月|本季度|本年|2026-01-01..2026-06-30]."""
    person = context.person
    assert person is not None
    svc = context.services
    name, period = stats_text.split_args(list(context.args or []), svc.today())
    if not name:
        await _show_stats(update, context, period, 1)
        return
    department = await overview.resolve_department(svc.db, person, name)
    report = await stats.stats_for(svc.db, svc.calendar, svc.settings, person, period, svc.today(), department.id)
    await reply(update, context, stats_text.department_text(translator(person), report))


@guarded
async def stats_page(update: Update, context: RectbotContext) -> None:
    pressed = pressed_page(update, "stats")
    period = stats.period_from_code(pressed.number(0), pressed.number(1))
    await _show_stats(update, context, period, pressed.number(2))
