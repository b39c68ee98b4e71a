"""Telegram's flood limits for everything the bot sends.

PTB's AIORateLimiter enforces the bot-wide (30/s) and per-group (20/min) limits but not
Telegram's "about one message per second per private chat". This subclass adds that pacing
for the sending endpoints, so interactive replies and outbox delivery alike stay inside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram.ext import AIORateLimiter

SEND_ENDPOINTS = frozenset({
    "sendMessage", "sendDocument", "sendPhoto", "sendVideo", "sendAudio", "sendVoice", "sendAnimation",
    "sendSticker", "sendMediaGroup", "sendLocation", "sendContact", "copyMessage", "forwardMessage",
})


class ChatPacer:
    """At most one send per `interval` seconds to each chat, first come first served.

    A fresh process does not know what its predecessor sent just before a crash or restart, so
    the first send to any chat waits until one interval after start-up.
    """

    def __init__(
        self,
        interval: float = 1.05,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._first_slot = clock() + interval
        self._next: dict[int, float] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    def _prune(self, now: float) -> None:
        if len(self._next) > 4096:
            for chat, at in list(self._next.items()):
                if at < now and not self._locks[chat].locked():
                    del self._next[chat], self._locks[chat]

    async def wait(self, chat_id: int) -> None:
        lock = self._locks.setdefault(chat_id, asyncio.Lock())
        async with lock:
            now = self._clock()
            slot = max(now, self._next.get(chat_id, self._first_slot))
            if slot > now:
                await self._sleep(slot - now)
            self._next[chat_id] = slot + self.interval
            self._prune(now)


class RectbotRateLimiter(AIORateLimiter):
    def __init__(self, *, chat_interval: float = 1.05, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pacer = ChatPacer(chat_interval)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        if endpoint in SEND_ENDPOINTS:
            chat_id: Any = data.get("chat_id")
            with contextlib.suppress(TypeError, ValueError):
                chat_id = int(chat_id)
            if isinstance(chat_id, int) and chat_id > 0:  # groups are covered by the group limiter
                await self.pacer.wait(chat_id)
        return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
