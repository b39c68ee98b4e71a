"""Per-chat pacing: one send per interval to each private chat, counted from process start too."""

from __future__ import annotations

import asyncio
import itertools

from bot.telegram_channel import ChatPacer


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_pacer_spaces_sends_per_chat_and_after_start() -> None:
    clock = FakeTime()
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(round(seconds, 3))
        clock.now += seconds

    pacer = ChatPacer(1.0, clock=clock, sleep=fake_sleep)
    await pacer.wait(1)          # first send waits one interval after start-up
    await pacer.wait(1)          # the next one a full interval later
    clock.now += 5
    await pacer.wait(1)          # long after: no wait
    await pacer.wait(2)          # another chat, after start-up: no wait
    assert slept == [1.0, 1.0]


async def test_pacer_serializes_concurrent_sends_to_one_chat() -> None:
    pacer = ChatPacer(0.05)
    loop = asyncio.get_running_loop()
    times: list[float] = []

    async def send() -> None:
        await pacer.wait(7)
        times.append(loop.time())

    await asyncio.gather(*(send() for _ in range(4)))
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(times) == 4 and all(g >= 0.045 for g in gaps)
