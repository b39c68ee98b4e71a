"""rectbot's real PTB Application (bot.app.build_application) run in this process, on its own thread and
event loop, polling the sandbox exactly as `rectbot run` does; logs are kept for the checks."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from telegram import Update
from telegram.ext import Application

from bot.app import build_application
from bot.settings import Settings


class LogKeeper(logging.Handler):
    """Every record at WARNING or above, for asserting that nothing went unhandled."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def tracebacks(self) -> list[str]:
        return [f"{r.name}: {r.getMessage()}" for r in self.records
                if r.exc_info or "unhandled error" in r.getMessage()]


class InProcessBot:
    """start() → the application is polling; stop() → it has shut down like `rectbot run` on SIGTERM."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app: Application[Any, Any, Any, Any, Any, Any] | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self.error: BaseException | None = None

    def start(self, timeout: float = 30) -> None:
        self._thread = threading.Thread(target=self._run, name="rectbot-inprocess", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout) or self.error is not None:
            raise RuntimeError(f"the in-process bot did not start: {self.error!r}")

    def stop(self, timeout: float = 30) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self.error is None

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by start() and alive
            self.error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        app = self.app = build_application(self.settings)
        await app.initialize()
        if app.post_init is not None:
            await app.post_init(app)
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=10, allowed_updates=Update.ALL_TYPES)
        await app.start()
        self._ready.set()
        await self._stop.wait()
        await app.updater.stop()
        await app.stop()
        if app.post_stop is not None:
            await app.post_stop(app)
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)
