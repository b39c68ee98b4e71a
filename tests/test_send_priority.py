"""Replies before broadcasts (issue 14, item 4): the bot-wide pacer serves a person's reply before the
outbox backlog waiting for slots, and the outbox's sends are marked as background."""

from __future__ import annotations

import asyncio

from bot.telegram_channel import BACKGROUND, SendPacer


async def test_a_reply_overtakes_the_queued_broadcasts() -> None:
    pacer = SendPacer(limit=10, window=0.2)   # one slot every ~18 ms
    order: list[str] = []

    async def send(name: str, *, background: bool) -> None:
        async with pacer.turn(background=background):
            order.append(name)

    backlog = [asyncio.create_task(send(f"b{i}", background=True)) for i in range(30)]
    await asyncio.sleep(0.05)                 # a few broadcasts went out, the rest wait
    async with pacer.turn(reply=True):
        order.append("reply")
    position = order.index("reply")
    await asyncio.gather(*backlog)
    assert position <= 8, order               # at most the slots already being taken, not the 30 queued
    assert len(order) == 31 and order.count("reply") == 1


async def test_broadcasts_alone_still_keep_the_limit() -> None:
    pacer = SendPacer(limit=5, window=0.2)
    loop = asyncio.get_running_loop()
    seen: list[float] = []

    async def send() -> None:
        async with pacer.turn(background=True):
            seen.append(loop.time())

    await asyncio.gather(*(send() for _ in range(15)))
    spans = [b - a for a, b in zip(seen, seen[pacer.limit:], strict=False)]
    assert len(seen) == 15 and min(spans) >= pacer.window - 0.005, spans


def test_sends_are_foreground_unless_marked() -> None:
    assert BACKGROUND.get() is False


async def test_the_outbox_channel_sends_as_background() -> None:
    from types import SimpleNamespace
    from typing import Any, cast

    from bot.notify import Rendered
    from bot.telegram_channel import TelegramChannel

    flags: list[bool] = []

    class FakeBot:
        async def send_message(self, chat_id: int, text: str, reply_markup: Any = None) -> Any:
            flags.append(BACKGROUND.get())
            return SimpleNamespace(message_id=7)

    assert await TelegramChannel(cast(Any, FakeBot())).send(1, Rendered("提醒")) == 7
    assert flags == [True] and BACKGROUND.get() is False


async def test_a_reply_skips_the_spacing_but_never_the_window_count_nor_a_pause() -> None:
    now = [0.0]
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(round(seconds, 3))
        now[0] += seconds

    pacer = SendPacer(limit=3, window=1.0, clock=lambda: now[0], sleep=fake_sleep)
    for _ in range(3):
        async with pacer.turn(reply=True):
            pass
    assert slept == []                  # three replies at once: within the count, no spacing
    async with pacer.turn(reply=True):  # a fourth must wait for the window to slide
        pass
    assert slept == [1.0]
    pacer.pause(2.0)
    async with pacer.turn(reply=True):
        pass
    async with pacer.turn(reply=True):  # after a 429, replies resume spaced too
        pass
    assert slept[1] == 2.0 and slept[2] == 0.25
