"""Deadlines in chat: /deadline START PERIOD."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler

from bot.dates import Direction, parse_natural_date
from bot.deadline_text import describe_deadline
from bot.errors import DomainError
from bot.i18n import N_
from bot.periods import Period, compute_deadline
from handlers.common import RectbotContext, guarded, reply, translator


@guarded
async def deadline(update: Update, context: RectbotContext) -> None:
    """/deadline 2026-03-05 2m — also 2026年3月5日 2个月, 明天 10个工作日, or a --strict suffix.

    START is read like `rectbot deadline START` (Direction.START), so both give the same day.
    """
    t = translator(context.person)
    args = list(context.args or [])
    strict = "--strict" in args or "严格" in args
    args = [a for a in args if a not in ("--strict", "严格")]
    if len(args) != 2:
        raise DomainError(N_("Usage: /deadline START PERIOD, for example /deadline 2026-03-05 2m "
                             "or /deadline 2026年3月5日 10个工作日"))
    svc = context.services
    start = parse_natural_date(args[0], svc.today(), direction=Direction.START)
    period = Period.parse(args[1])
    dl = compute_deadline(start, period, svc.calendar, strict=strict)
    await reply(update, context, "\n".join(describe_deadline(dl, svc.calendar, t, strict=strict,
                                                             timezone=svc.settings.bureau.timezone)))


def handlers() -> list[BaseHandler[Update, RectbotContext, object]]:
    return [CommandHandler("deadline", deadline)]
