"""The one wiring place: settings + services (bot/bootstrap.py) + handlers + jobs → a PTB Application.

Every handler, in the order PTB tries them, is declared in `build_application`; every background job
and the delivery loop are started in `_schedule_jobs`. Nothing registers itself at import time.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from telegram import BotCommand, BotCommandScopeDefault, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    BaseHandler,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    ContextTypes,
    Defaults,
    JobQueue,
    PersistenceInput,
    PicklePersistence,
    TypeHandler,
)

from bot import bulletin, jobs, ladder
from bot.bootstrap import open_services
from bot.clock import Clock, clock_for
from bot.commands import commands_for
from bot.domain import Role
from bot.i18n import translator_for_locale
from bot.logs import log_event
from bot.services import Services
from bot.settings import Settings
from bot.telegram_channel import TelegramChannel, flood_limiter
from handlers import (
    admin,
    cases,
    common,
    deadlines,
    guidance,
    ledger,
    menu,
    new_case,
    onboarding,
    overview,
    reminders,
    report,
    review,
    todo,
)
from handlers.common import RectbotContext
from storage import summary

log = logging.getLogger(__name__)

class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Different people's updates run at the same time; one chat's updates run one after another.

    PTB's default handles every update in turn, so a supervisor's import (seconds of parsing and
    writing) kept everyone else's /help waiting. Keeping each chat in order is what the conversations
    and the per-person drafts need; nothing needs one chat to wait for another.
    """

    def __init__(self, max_concurrent_updates: int = 64) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}  # updates holding or waiting for each chat's lock

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = _chat_key(update)
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            self._users[key] -= 1
            if not self._users[key]:  # nobody else holds or waits: forget the chat
                del self._users[key], self._locks[key]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""


class RectbotJobQueue(JobQueue[RectbotContext]):
    """PTB's JobQueue, but stopping it lets running jobs finish rather than cancelling one started late.

    PTB waits for the jobs running when it stops, then shuts the scheduler down, which cancels
    any job that started in between (the delivery loop runs every second): that job died half-way
    and APScheduler logged it as an error. Pausing the scheduler first means none starts then.
    """

    async def stop(self, wait: bool = True) -> None:
        if self.scheduler.running:
            self.scheduler.pause()
        await super().stop(wait)


def _chat_key(update: object) -> int:
    if isinstance(update, Update):
        if update.effective_chat is not None:
            return update.effective_chat.id
        if update.effective_user is not None:
            return update.effective_user.id
    return 0


def make_clock(settings: Settings) -> Clock:
    return clock_for(settings.testing.clock_start, settings.testing.clock_file)


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
        .rate_limiter(flood_limiter(settings.testing.chat_interval))
        .job_queue(RectbotJobQueue())
        .persistence(persistence)
        .context_types(ContextTypes(context=RectbotContext))
        .concurrent_updates(PerChatUpdateProcessor())
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
    # everything answers every button press nothing else took ("This button is no longer valid."); an
    # unknown command gets the sender's closest commands and a question in words a pointer (guidance), and
    # the message fallback answers a private message nothing else took ("Sorry, I did not understand that.").
    # The menu's taps come first of all: a tap is never the answer to a conversation's step, it runs its
    # command wherever the person is (报送整改, 申请延期 and 登记事项 are instead entry points of their
    # conversations, which have to own the state they start).
    group0: list[BaseHandler[Update, RectbotContext, object]] = [
        *menu.handlers({
            "todo": todo.cmd_todo, "cases": report.cmd_cases, "review": review.cmd_review,
            "export": ledger.export_command,
            "status": overview.status_command,
        }),
        *onboarding.handlers(),
        *todo.handlers(),
        *admin.handlers(),
        *deadlines.handlers(),
        *new_case.handlers(),  # the /new conversation, then its own answer for stale new: buttons
        *cases.handlers(),
        *report.handlers(),  # the report and /extend conversation, /cases
        *review.handlers(),  # the review conversation, one-tap decisions, /review /budget /spotcheck
        *reminders.handlers(),  # includes replies to reminders (progress notes)
        *overview.handlers(),  # /status
        *ledger.handlers(),
        *report.draft_fallthrough_handlers(),
        CallbackQueryHandler(common.stale_button),
        *guidance.handlers(),  # never silent: an unknown command → the closest real ones; a question → a hint
        *onboarding.fallback_handlers(),
    ]
    app.add_handlers(group0, group=0)
    app.add_error_handler(common.on_error)
    return app


def since_start_ms() -> int | None:
    """Milliseconds since this process started (Linux /proc, 10 ms resolution): what a start-up costs,
    imports included, as the operator and the bench see it; None where /proc is not there."""
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            started_ticks = int(f.read().rsplit(")", 1)[1].split()[19])  # field 22, starttime
        ticks = os.sysconf("SC_CLK_TCK")
        return round((time.clock_gettime(time.CLOCK_BOOTTIME) - started_ticks / ticks) * 1000)
    except (OSError, ValueError, IndexError, AttributeError):
        return None


async def _post_init(app: Application) -> None:
    """Everything before polling begins: only what does not grow with the database (issue 14).

    Opening the database reads its header and schema (and applies a pending migration, which is a
    real cost the first time); the full quick_check, the first sweep, the ladder and the default
    menus (three Bot API round trips) all wait until polling has begun (`_schedule_jobs`).
    """
    settings: Settings = app.bot_data["settings"]
    t0 = time.perf_counter()
    svc = await open_services(settings, app.bot_data["clock"])
    open_ms = round((time.perf_counter() - t0) * 1000)
    app.bot_data["services"] = svc
    _schedule_jobs(app, svc)
    counts = await summary.startup_counts(svc.db)
    log_event(log, "rectbot started", mode=settings.telegram.mode, bureau=settings.bureau.name, **counts,
              open_ms=open_ms, **svc.db.opened, since_start_ms=since_start_ms())


def _schedule_jobs(app: Application, svc: Services) -> None:
    """The delivery loop and every JobQueue job; their bodies are Telegram-free (bot.jobs, bot.delivery)."""
    jq = app.job_queue
    if jq is None:  # pragma: no cover - the job-queue extra is a dependency
        log.error("no JobQueue: reminders and delivery are not running")
        return
    settings = svc.settings
    delivery = jobs.LoggedDelivery(TelegramChannel(app.bot), svc)

    async def start_delivery(_: object) -> None:
        # Started as a job so it begins once the application runs, and stops with it.
        app.create_task(delivery.run(should_stop=lambda: not app.running), name="rectbot-delivery")

    async def sweep_job(_: object) -> None:
        await jobs.sweep_round(svc)

    async def digest_job(_: object) -> None:
        await jobs.daily_digest(svc)

    async def calendar_job(_: object) -> None:
        await jobs.refresh_calendar(svc)

    async def check_job(_: object) -> None:
        await jobs.check_database(svc)

    async def purge_job(_: object) -> None:
        removed = await jobs.purge_imports(svc)
        if removed:
            log_event(log, "imports purged", removed=removed)  # uploads nobody confirmed within a day

    async def polling_began(_: object) -> None:
        # The JobQueue starts after the updater, so this runs once the first getUpdates is on its way.
        log_event(log, "polling began", since_start_ms=since_start_ms())

    async def default_menus(_: object) -> None:
        await _set_default_commands(app)  # three Bot API round trips: they no longer hold polling back

    jq.run_once(polling_began, when=0, name="polling-began")
    jq.run_once(default_menus, when=1, name="default-menus")
    jq.run_once(start_delivery, when=0, name="delivery")
    jq.run_repeating(sweep_job, interval=settings.reminders.sweep_seconds, first=0.2, name="reminder-sweep",
                     job_kwargs={"max_instances": 1, "coalesce": True})
    jq.run_daily(digest_job, time=settings.escalation.digest_at, name="daily-digest")
    calendar_every = timedelta(seconds=min(60, settings.reminders.sweep_seconds))
    jq.run_repeating(calendar_job, interval=calendar_every, first=calendar_every, name="refresh-calendar")
    jq.run_repeating(purge_job, interval=3600, first=5, name="purge-stale-imports")
    jq.run_once(check_job, when=3, name="database-quick-check")  # after polling began (start-up stays cheap)

    async def checkpoint_job(_: object) -> None:
        await jobs.checkpoint(svc)

    jq.run_repeating(checkpoint_job, interval=jobs.CHECKPOINT_SECONDS, first=jobs.CHECKPOINT_SECONDS,
                     name="wal-checkpoint", job_kwargs={"max_instances": 1, "coalesce": True})

    async def ladder_job(_: object) -> None:
        await ladder.refresh(svc.db, svc.calendar, settings, svc.clock)

    jq.run_repeating(ladder_job, interval=settings.ladder.refresh_seconds, first=1, name="ladder",
                     job_kwargs={"max_instances": 1, "coalesce": True})

    async def bulletin_job(_: object) -> None:
        await bulletin.issue_weekly(svc)

    jq.run_repeating(bulletin_job, interval=calendar_every, first=2, name="weekly-bulletin",
                     job_kwargs={"max_instances": 1, "coalesce": True})


async def _post_shutdown(app: Application) -> None:
    svc = app.bot_data.get("services")
    if isinstance(svc, Services):
        await svc.db.close()
    log_event(log, "rectbot stopped")


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

