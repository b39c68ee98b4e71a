"""The one wiring place: settings + services (bot/bootstrap.py) + handlers + jobs → a PTB Application.

Every handler, in the order PTB tries them, is declared in `build_application`; every background job
and the delivery loop are started in `_schedule_jobs`. Nothing registers itself at import time.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

from telegram import BotCommand, BotCommandScopeDefault, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    BaseHandler,
    CallbackQueryHandler,
    ContextTypes,
    Defaults,
    PersistenceInput,
    PicklePersistence,
    TypeHandler,
)

from bot import jobs
from bot.bootstrap import open_services
from bot.clock import Clock, OffsetClock, SystemClock
from bot.commands import commands_for
from bot.delivery import Delivery
from bot.domain import Role
from bot.i18n import translator_for_locale
from bot.services import Services
from bot.settings import Settings
from bot.telegram_channel import TelegramChannel, flood_limiter
from handlers import admin, cases, common, deadlines, ledger, new_case, onboarding, reminders, report, review
from handlers.common import RectbotContext

log = logging.getLogger(__name__)

def make_clock(settings: Settings) -> Clock:
    if settings.testing.clock_start:
        return OffsetClock(datetime.fromisoformat(settings.testing.clock_start))
    return SystemClock()


def persistence_path(settings: Settings) -> Path:
    """Conversation state lives beside the database (the drafts themselves are in SQLite)."""
    return Path(f"{settings.storage.database}.state")


def build_application(settings: Settings, clock: Clock | None = None) -> Application:
    assert settings.telegram.token is not None
    persistence = PicklePersistence(
        filepath=persistence_path(settings),
        store_data=PersistenceInput(bot_data=False, chat_data=False, user_data=True, callback_data=False),
        update_interval=5,
    )
    app = (
        Application.builder()
        .token(settings.telegram.token.get_secret_value())
        .base_url(settings.telegram.base_url)
        .base_file_url(settings.telegram.base_file_url)
        .defaults(Defaults(tzinfo=settings.bureau.tz))
        .rate_limiter(flood_limiter())
        .persistence(persistence)
        .context_types(ContextTypes(context=RectbotContext))
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        .build()
    )
    app.bot_data["settings"] = settings
    app.bot_data["clock"] = clock or make_clock(settings)
    # Group -1 runs first for every update: the gate loads the sender into the context (PTB builds one
    # context per update and hands it to every group) and stops strangers there.
    app.add_handler(TypeHandler(Update, common.gate_strangers), group=-1)
    # Group 0, in the order PTB tries them: the first handler that matches an update takes it. Order
    # matters where handlers overlap: the conversations come first, so a message typed during /new, a
    # report or a review decision reaches its step; a spreadsheet reaches the ledger import only after
    # them (ledger_upload hands a non-bureau sender's file on to the report draft); the report-draft
    # fall-through is last but one, so a liaison's message or report button that no conversation
    # claimed (its state lost to a crash) still reaches their saved draft; and the catch-all after
    # everything answers every button press nothing else took ("This button is no longer valid."), and
    # the message fallback answers a private message nothing else took ("Sorry, I did not understand that.").
    group0: list[BaseHandler[Update, RectbotContext, object]] = [
        *onboarding.handlers(),
        *admin.handlers(),
        *deadlines.handlers(),
        *new_case.handlers(),  # the /new conversation, then its own answer for stale new: buttons
        *cases.handlers(),
        *report.handlers(),  # the report and /extend conversation, /cases
        *review.handlers(),  # the review conversation, one-tap decisions, /review /budget /spotcheck
        *reminders.handlers(),  # includes replies to reminders (progress notes)
        *ledger.handlers(),
        *report.draft_fallthrough_handlers(),
        CallbackQueryHandler(common.stale_button),
        *onboarding.fallback_handlers(),
    ]
    app.add_handlers(group0, group=0)
    app.add_error_handler(common.on_error)
    return app


async def _post_init(app: Application) -> None:
    settings: Settings = app.bot_data["settings"]
    svc = await open_services(settings, app.bot_data["clock"])
    app.bot_data["services"] = svc
    await _set_default_commands(app)
    _schedule_jobs(app, svc)
    log.info("rectbot started for %s (%s mode)", settings.bureau.name, settings.telegram.mode)


def _schedule_jobs(app: Application, svc: Services) -> None:
    """The delivery loop and every JobQueue job; their bodies are Telegram-free (bot.jobs, bot.delivery)."""
    jq = app.job_queue
    if jq is None:  # pragma: no cover - the job-queue extra is a dependency
        log.error("no JobQueue: reminders and delivery are not running")
        return
    settings = svc.settings
    delivery = Delivery(TelegramChannel(app.bot), svc)

    async def start_delivery(_: object) -> None:
        # Started as a job so it begins once the application runs, and stops with it.
        app.create_task(delivery.run(should_stop=lambda: not app.running), name="rectbot-delivery")

    async def sweep_job(_: object) -> None:
        await jobs.sweep_round(svc)

    async def digest_job(_: object) -> None:
        await jobs.daily_digest(svc)

    async def calendar_job(_: object) -> None:
        await jobs.refresh_calendar(svc)

    jq.run_once(start_delivery, when=0, name="delivery")
    jq.run_repeating(sweep_job, interval=settings.reminders.sweep_seconds, first=0.2, name="reminder-sweep",
                     job_kwargs={"max_instances": 1, "coalesce": True})
    jq.run_daily(digest_job, time=settings.escalation.digest_at, name="daily-digest")
    calendar_every = timedelta(seconds=min(60, settings.reminders.sweep_seconds))
    jq.run_repeating(calendar_job, interval=calendar_every, first=calendar_every, name="refresh-calendar")


async def _post_shutdown(app: Application) -> None:
    svc = app.bot_data.get("services")
    if isinstance(svc, Services):
        await svc.db.close()


async def _set_default_commands(app: Application) -> None:
    """The menu strangers and new chats see, per language; registered people get their role's menu."""
    for language_code, locale in (("", "zh_CN"), ("zh", "zh_CN"), ("en", "en")):
        t = translator_for_locale(locale)
        commands = [BotCommand(c.name, t._(c.description)) for c in commands_for(Role.LIAISON)]
        try:
            await app.bot.set_my_commands(commands, scope=BotCommandScopeDefault(),
                                          language_code=language_code or None)
        except TelegramError as exc:
            log.warning("setMyCommands failed: %s", exc)


def run(settings: Settings) -> None:
    app = build_application(settings)
    if settings.telegram.mode == "webhook":
        assert settings.webhook.url is not None
        secret = settings.webhook.secret_token.get_secret_value() if settings.webhook.secret_token else None
        app.run_webhook(
            listen=settings.webhook.listen, port=settings.webhook.port,
            url_path=urlparse(settings.webhook.url).path.lstrip("/"),
            webhook_url=settings.webhook.url, secret_token=secret, allowed_updates=Update.ALL_TYPES,
        )
    else:
        app.run_polling(allowed_updates=Update.ALL_TYPES, poll_interval=0.0, timeout=10)

