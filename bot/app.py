"""The one wiring place: settings + storage + handlers + jobs → a PTB Application."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
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


class StatePersistence(PicklePersistence[dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """PicklePersistence that survives its own file: written atomically, a damaged one set aside.

    The file only says where each person is in a conversation; what they typed lives in SQLite, so
    a garbage, empty or half-written file is moved to `<file>.damaged-<UTC time>` with one warning
    and the bot starts with no conversation state (the draft fall-through handler picks drafts up)
    instead of stopping with a traceback. Writes go to a temporary file, fsync, then os.replace,
    so a crash mid-write leaves the previous file, never half of a new one.
    """

    def _load_singlefile(self) -> None:
        try:
            super()._load_singlefile()
        except TypeError as exc:  # what PTB raises for any file it cannot unpickle
            self._set_aside(exc.__cause__ or exc)
            super()._load_singlefile()  # the file is gone now: PTB starts empty

    def _set_aside(self, reason: BaseException) -> None:
        stem = f"{self.filepath.name}.damaged-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
        aside, n = self.filepath.with_name(stem), 1
        while aside.exists():  # never overwrite an earlier damaged file
            n += 1
            aside = self.filepath.with_name(f"{stem}-{n}")
        try:
            os.replace(self.filepath, aside)
        except OSError as exc:
            log.warning("conversation state %s is damaged (%s) and could not be moved aside (%s); starting "
                        "without conversation state, drafts are kept in the database",
                        self.filepath, type(reason).__name__, exc.strerror or exc)
            self.filepath.unlink(missing_ok=True)
            return
        log.warning("conversation state %s is damaged (%s); moved it to %s and started without conversation "
                    "state, drafts are kept in the database", self.filepath, type(reason).__name__, aside.name)

    def _dump_singlefile(self) -> None:
        # The same dictionary PTB writes, through the atomic _dump_file below.
        self._dump_file(self.filepath, {
            "conversations": self.conversations, "user_data": self.user_data, "chat_data": self.chat_data,
            "bot_data": self.bot_data, "callback_data": self.callback_data,
        })

    def _dump_file(self, filepath: Path, data: object) -> None:
        tmp = filepath.with_name(f".{filepath.name}.{os.getpid()}.tmp")
        try:
            super()._dump_file(tmp, data)
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, filepath)
        finally:
            tmp.unlink(missing_ok=True)
        fd = os.open(filepath.parent, os.O_RDONLY)
        try:
            os.fsync(fd)  # the rename itself reaches the disk
        finally:
            os.close(fd)


def build_application(settings: Settings, clock: Clock | None = None) -> Application:
    assert settings.telegram.token is not None
    persistence = StatePersistence(
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

