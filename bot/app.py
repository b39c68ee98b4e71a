"""The one wiring place: settings + storage + handlers + jobs → a PTB Application."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

from telegram import BotCommand, BotCommandScopeDefault, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    Defaults,
    PersistenceInput,
    PicklePersistence,
    TypeHandler,
)

from bot.bootstrap import open_services
from bot.clock import Clock, OffsetClock, SystemClock
from bot.commands import commands_for
from bot.domain import Role
from bot.i18n import translator_for_locale
from bot.services import Services
from bot.settings import Settings
from bot.telegram_channel import flood_limiter
from handlers import admin, cases, common, deadlines, onboarding, reminders, report, review

log = logging.getLogger(__name__)

# One module per user journey; each exposes handlers() and may expose schedule_jobs(app).
FEATURE_MODULES = (onboarding, admin, deadlines, cases, report, review, reminders)


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
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        .build()
    )
    app.bot_data["settings"] = settings
    app.bot_data["clock"] = clock or make_clock(settings)
    app.add_handler(TypeHandler(Update, common.gate_strangers), group=-1)
    for module in FEATURE_MODULES:
        for handler in module.handlers():
            app.add_handler(handler)
    # Last of group 0: a liaison's message or report button that no conversation claimed (its state
    # lost to a crash) still reaches their saved report draft, so nothing typed is lost.
    for handler in report.draft_fallthrough_handlers():
        app.add_handler(handler)
    app.add_handler(CallbackQueryHandler(common.stale_button))  # every press gets an answer
    app.add_error_handler(common.on_error)
    return app


async def _post_init(app: Application) -> None:
    settings: Settings = app.bot_data["settings"]
    svc = await open_services(settings, app.bot_data["clock"])
    app.bot_data["services"] = svc
    await _set_default_commands(app)
    for module in FEATURE_MODULES:
        schedule = getattr(module, "schedule_jobs", None)
        if schedule is not None:
            schedule(app)
    log.info("rectbot started for %s (%s mode)", settings.bureau.name, settings.telegram.mode)


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

