"""The Telegram implementation of `bot.channel.Channel`: sending, files, flood limits, error mapping.

Everything Telegram-specific about what the bot sends lives here, so `bot/delivery.py` stays
platform-neutral:
* `TelegramChannel` turns a `Rendered` into sendMessage / sendDocument (inline keyboard from the
  (label, action) rows, action → callback_data), splits text over Telegram's size limits into
  several messages (a keyboard over its limits is a programming error: `check_keyboard`), and maps PTB's
  errors onto the port's outcomes (RetryAfter → RetryLater, Forbidden or "chat not found" →
  Unreachable, other BadRequest → Rejected, timeouts/5xx/network → Transient).
* `RectbotRateLimiter` / `flood_limiter()` keep every request inside Telegram's flood limits:
  bot-wide spacing (`SendPacer`), one send per second per private chat (`ChatPacer`; PTB's
  AIORateLimiter has no such limit) and AIORateLimiter's per-group bucket, so interactive
  replies and outbox delivery alike stay inside them, also right after a 429.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextvars import ContextVar
from datetime import timedelta
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import AIORateLimiter

from bot.channel import ChannelError, Rejected, RetryLater, Transient, Unreachable
from bot.notify import Rendered

log = logging.getLogger(__name__)

MAX_TEXT = 4096     # characters in a message (Bot API sendMessage)
MAX_CAPTION = 1024  # characters in a document's caption
MAX_BUTTONS = 100   # inline buttons in one keyboard
MAX_ROW = 8         # inline buttons in one row
MAX_DATA = 64       # bytes of callback data

# ----------------------------------------------------------------------------- sending


class TelegramChannel:
    """Sends through a PTB Bot (whose rate limiter, see `flood_limiter`, keeps the flood limits)."""

    name = "Telegram"

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, chat_id: int, message: Rendered) -> int:
        """Text as messages, or the document with the text as its caption; the Telegram message id.

        Text over 4,096 characters goes as several messages split at line ends (the buttons on the
        last); a caption over 1,024 follows the document as text messages. The id returned is the
        last message's, the one with the buttons.
        """
        token = BACKGROUND.set(True)  # the outbox's messages yield the bot-wide slots to replies
        try:
            return await self._send(chat_id, message)
        finally:
            BACKGROUND.reset(token)

    async def _send(self, chat_id: int, message: Rendered) -> int:
        markup = keyboard(message.buttons)
        try:
            texts = split_text(message.text)
            if message.document is not None:
                name, content = message.document
                fits = units(message.text) <= MAX_CAPTION
                sent = await self.bot.send_document(
                    chat_id, document=InputFile(content, filename=name), caption=message.text if fits else None,
                    reply_markup=markup if fits else None,
                )
                if fits:
                    return sent.message_id
            for i, part in enumerate(texts):
                sent = await self.bot.send_message(chat_id, part, reply_markup=markup if i == len(texts) - 1 else None)
        except TelegramError as exc:
            raise channel_error(exc) from exc
        return sent.message_id


def keyboard(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup | None:
    """Inline buttons from (label, action) rows; a press sends the action back as callback_data.

    A keyboard over Telegram's limits is a programming error (the pager exists so that none is
    ever built): it fails here, in tests, instead of as a 400 from Telegram in production.
    """
    if not rows:
        return None
    check_keyboard(rows)
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=action) for label, action in row]
                                 for row in rows])


def check_keyboard(rows: list[list[tuple[str, str]]]) -> None:
    """Assert Telegram's inline-keyboard limits: 100 buttons, 8 a row, callback data of 1–64 bytes."""
    count = sum(len(row) for row in rows)
    assert count <= MAX_BUTTONS, f"{count} buttons (Telegram takes {MAX_BUTTONS})"
    assert all(len(row) <= MAX_ROW for row in rows), f"a row over {MAX_ROW} buttons"
    for row in rows:
        for label, action in row:
            size = len(action.encode())
            assert 1 <= size <= MAX_DATA, f"callback data of {label!r} is {size} bytes"


def units(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji or a rare CJK character counts two)."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Text in parts of at most `limit` UTF-16 units, cut at line ends (never mid-line).

    Only a single line longer than the limit is cut inside it: there is no line end to cut at.
    """
    if units(text) <= limit:
        return [text]
    parts: list[str] = []
    current: str | None = None
    for line in text.split("\n"):
        while units(line) > limit:
            if current is not None:
                parts.append(current)
                current = None
            head = _prefix(line, limit)
            parts.append(head)
            line = line[len(head):]
        if current is None:
            current = line
        elif units(current) + 1 + units(line) <= limit:
            current += "\n" + line
        else:
            parts.append(current)
            current = line
    if current is not None:
        parts.append(current)
    return [part for part in parts if part.strip()] or [_prefix(text, limit)]


def _prefix(text: str, limit: int) -> str:
    """The longest start of `text` within `limit` UTF-16 units (whole characters only)."""
    end = min(len(text), limit)
    while units(text[:end]) > limit:
        end -= max(1, (units(text[:end]) - limit) // 2)
    return text[:end]


def channel_error(exc: TelegramError) -> ChannelError:
    """What a PTB error means for delivery (order matters: BadRequest and TimedOut are NetworkErrors)."""
    if isinstance(exc, RetryAfter):
        return RetryLater(retry_after_seconds(exc))
    if isinstance(exc, Forbidden):  # blocked by the user, deactivated, kicked
        return Unreachable(exc.message)
    if isinstance(exc, BadRequest):
        if "chat not found" in exc.message.lower():  # the account is gone
            return Unreachable(exc.message)
        return Rejected(exc.message)
    return Transient(f"{type(exc).__name__}: {exc}")  # TimedOut, NetworkError (5xx, connection), the rest


def retry_after_seconds(exc: RetryAfter) -> float:
    """The seconds Telegram asks for, read without tripping PTB 22's deprecated int attribute."""
    raw = getattr(exc, "_retry_after", None)  # a timedelta in PTB 22 (the public int is deprecated)
    return raw.total_seconds() if isinstance(raw, timedelta) else float(getattr(exc, "retry_after", 1))


# ----------------------------------------------------------------------------- flood limits

SEND_ENDPOINTS = frozenset({
    "sendMessage", "sendDocument", "sendPhoto", "sendVideo", "sendAudio", "sendVoice", "sendAnimation",
    "sendSticker", "sendMediaGroup", "sendLocation", "sendContact", "copyMessage", "forwardMessage",
})


class ChatPacer:
    """At most one send per `interval` seconds to each chat, first come first served.

    The interval counts from the moment the previous send to that chat *completed*: a request may
    spend a while in the overall limiter or the connection pool after its slot, and counting from the
    slot would let two sends reach Telegram closer together than the interval. Sends to one chat are
    therefore strictly one after another.

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

    @contextlib.asynccontextmanager
    async def slot(self, chat_id: int) -> AsyncIterator[None]:
        """Hold the chat's turn for one send: wait for it, send inside the block, space the next one."""
        lock = self._locks.setdefault(chat_id, asyncio.Lock())
        async with lock:
            now = self._clock()
            at = max(now, self._next.get(chat_id, self._first_slot))
            if at > now:
                await self._sleep(at - now)
            try:
                yield
            finally:
                done = self._clock()
                self._next[chat_id] = done + self.interval
                self._prune(done)

    async def wait(self, chat_id: int) -> None:
        """Take the chat's next slot for a send that is not awaited inside `slot` (spaced from now)."""
        async with self.slot(chat_id):
            pass


# True while the outbox delivery sends (TelegramChannel.send): the rate limiter then lets people's
# replies, sent by handlers in their own update tasks, take the bot-wide slots first.
BACKGROUND: ContextVar[bool] = ContextVar("rectbot_background_send", default=False)


class SendPacer:
    """Bot-wide: at most `limit` requests in any `window` seconds *as Telegram sees them*, spaced
    `window / (limit + 1)` apart, first come first served.

    Spacing starts alone is not enough: a request reaches Telegram some time between its start and
    its answer, so network or scheduling jitter can bunch evenly started requests together. Counting
    every request still in flight, and every answer received within the window, before starting
    the next one bounds what Telegram counts whatever the jitter. (aiolimiter's bucket, which
    AIORateLimiter uses, also let requests take their slot and then wait on its retry_after event,
    so after a 429 everything queued reached Telegram at once and earned the next 429; here a
    429 moves the next slot back, see `pause`.)
    """

    def __init__(
        self,
        limit: int,
        window: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        reserve: int = 3,
    ) -> None:
        self.limit, self.window = limit, window
        self.interval = window / (limit + 1)
        self._clock = clock
        self._sleep = sleep
        self._next = clock()
        self._answered: deque[float] = deque()  # answer times within the window, oldest first
        self._in_flight = 0
        self._lock = asyncio.Lock()
        self.reserve = min(reserve, max(0, limit - 1))
        self._paused_until = float("-inf")
        self._fg_recent_until = float("-inf")  # until when foreground traffic counts as recent
        self._fg_waiting = 0                  # foreground (reply) requests waiting for a slot
        self._fg_clear = asyncio.Event()      # set while none is waiting
        self._fg_clear.set()

    RECENT = 5.0  # s: foreground traffic this recent makes broadcasts leave `reserve` slots free

    def _wait_needed(self, background: bool = False, reply: bool = False) -> float:
        now = self._clock()
        while self._answered and self._answered[0] <= now - self.window:
            self._answered.popleft()
        if self._paused_until > now:
            return self._paused_until - now
        # A reply skips the spacing (never the count below), except in the window after a 429's pause,
        # when every request resumes spaced.
        if self._next > now and (not reply or now < self._paused_until + self.window):
            return self._next - now
        # While people are talking to the bot, broadcasts leave `reserve` of the window free, so a
        # reply finds room at once instead of waiting for the window to slide (fan-out alone: all).
        limit = self.limit - (self.reserve if background and now < self._fg_recent_until else 0)
        if len(self._answered) + self._in_flight < limit:
            return 0.0
        if self._answered:
            return self._answered[0] + self.window - now
        return self.interval  # all in flight: look again when one may have been answered

    @contextlib.asynccontextmanager
    async def turn(self, *, background: bool = False, reply: bool = False) -> AsyncIterator[None]:
        """Wait for a bot-wide slot, hold it for one request (send inside the block).

        Replies to people go first: a `background` request (the outbox's broadcasts) takes no slot
        while a foreground one is waiting and sleeps outside the lock, so a reply never waits behind
        the reminder backlog (issue 14, item 4); a `reply` also skips the even spacing (not the count
        of the window, and not after a 429)."""
        if not background:
            self._fg_waiting += 1
            self._fg_clear.clear()
            self._fg_recent_until = self._clock() + self.RECENT
        try:
            while True:
                if background:
                    await self._fg_clear.wait()
                async with self._lock:
                    if background and self._fg_waiting:
                        continue  # a reply arrived meanwhile: let it have this slot
                    delay = self._wait_needed(background, reply)
                    if not background:
                        while delay > 0:  # replies wait in order, holding the lock (a pause may move the slot)
                            await self._sleep(delay)
                            delay = self._wait_needed(False, reply)
                    if delay <= 0:
                        self._in_flight += 1
                        self._next = self._clock() + self.interval
                        break
                await self._sleep(delay)  # a broadcast waits outside the lock, so a reply never queues behind it
        finally:
            if not background:
                self._fg_waiting -= 1
                if not self._fg_waiting:
                    self._fg_clear.set()
        try:
            yield
        finally:
            self._in_flight -= 1
            self._answered.append(self._clock())

    def pause(self, seconds: float) -> None:
        """Telegram said retry_after: no request at all before then."""
        self._next = max(self._next, self._clock() + seconds)
        self._paused_until = max(self._paused_until, self._clock() + seconds)


class RectbotRateLimiter(AIORateLimiter):
    """Telegram's flood limits kept without bursts: at most `overall_limit` requests with a chat in
    any second (`SendPacer`; 0 for none), one send per `chat_interval` to each private chat
    (`ChatPacer`, which AIORateLimiter lacks) and AIORateLimiter's per-group bucket. A 429 pauses
    every request for its retry_after, then retries."""

    def __init__(
        self,
        *,
        overall_limit: int = 29,
        chat_interval: float = 1.05,
        group_max_rate: float = 1,
        group_time_period: float = 3.2,
        max_retries: int = 2,
    ) -> None:
        super().__init__(overall_max_rate=0, overall_time_period=0, group_max_rate=group_max_rate,
                         group_time_period=group_time_period, max_retries=max_retries)
        self.pacer = ChatPacer(chat_interval)
        self.overall = SendPacer(overall_limit) if overall_limit else None

    @contextlib.asynccontextmanager
    async def _turn(self, endpoint: str, chat_id: Any) -> AsyncIterator[None]:
        """Hold every limit's turn for one request: the chat's first, then the bot-wide slot."""
        async with contextlib.AsyncExitStack() as stack:
            if isinstance(chat_id, str) or (isinstance(chat_id, int) and chat_id < 0):
                if self._group_max_rate:
                    await stack.enter_async_context(self._get_group_limiter(chat_id))
            elif isinstance(chat_id, int) and endpoint in SEND_ENDPOINTS:
                await stack.enter_async_context(self.pacer.slot(chat_id))
            if chat_id is not None and self.overall is not None:
                background = BACKGROUND.get()
                await stack.enter_async_context(self.overall.turn(background=background, reply=not background))
            yield

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        chat_id: Any = data.get("chat_id")
        with contextlib.suppress(TypeError, ValueError):
            chat_id = int(chat_id)
        retries = rate_limit_args or self._max_retries
        attempt = 0
        while True:
            try:
                async with self._turn(endpoint, chat_id):
                    return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt >= retries:
                    raise
                wait = retry_after_seconds(exc) + 0.1
                log.info("Telegram asked to wait %.1f s (%s); retrying", wait, endpoint)
                if self.overall is not None:
                    self.overall.pause(wait)
                await asyncio.sleep(wait)
                attempt += 1


def flood_limiter(chat_interval: float | None = None) -> RectbotRateLimiter:
    """Telegram's limits whatever the network's jitter: 29 in any second bot-wide (limit 30/s), one
    per 3.2 s per group (limit 20/min), one per 1.05 s per private chat (limit about 1/s).
    `chat_interval` replaces the last only for the loopback sandbox (`testing.chat_interval`, the demo)."""
    return RectbotRateLimiter(overall_limit=29, chat_interval=1.05 if chat_interval is None else chat_interval,
                              group_max_rate=1,
                              group_time_period=3.2, max_retries=2)
