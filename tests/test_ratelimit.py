"""Flood pacing: one send per interval to each private chat (counted from process start too), and
bot-wide spacing that holds right after a 429."""

from __future__ import annotations

import asyncio
import itertools
import random
from datetime import timedelta

import pytest
from telegram.error import RetryAfter

from bot.telegram_channel import ChatPacer, RectbotRateLimiter, SendPacer


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


async def test_send_pacer_spaces_requests_and_a_pause_moves_the_next_slot() -> None:
    clock = FakeTime()
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(round(seconds, 3))
        clock.now += seconds

    pacer = SendPacer(limit=24, window=1.0, clock=clock, sleep=fake_sleep)
    for _ in range(2):
        async with pacer.turn():     # the first goes at once, the next one interval later
            pass
    pacer.pause(1.5)                 # Telegram said retry_after
    for _ in range(2):
        async with pacer.turn():     # after the pause, spaced again rather than at once
            pass
    assert slept == [0.04, 1.5, 0.04]


async def test_send_pacer_never_lets_telegram_count_more_than_its_limit_in_a_window() -> None:
    """Whatever the latency, the moments the server sees (anywhere between a request's start and
    its answer) hold at most `limit` in any window: seeded random latencies, up to 4 intervals."""
    rng = random.Random(20261201)
    pacer = SendPacer(limit=5, window=0.2)
    loop = asyncio.get_running_loop()
    seen: list[float] = []

    async def request() -> None:
        async with pacer.turn():
            before, after = rng.uniform(0, 0.12), rng.uniform(0, 0.05)
            await asyncio.sleep(before)
            seen.append(loop.time())      # the server counts it now
            await asyncio.sleep(after)

    await asyncio.gather(*(request() for _ in range(40)))
    seen.sort()
    spans = [b - a for a, b in zip(seen, seen[pacer.limit:], strict=False)]
    assert len(seen) == 40 and min(spans) >= pacer.window - 0.005, spans


async def test_sends_queued_behind_a_429_resume_spaced_not_in_a_burst() -> None:
    """AIORateLimiter's own bucket releases everything queued during a retry_after at once (and so
    earns the next 429); ours must keep the bot-wide spacing right after the pause."""
    limiter = RectbotRateLimiter(overall_limit=49, max_retries=2)
    loop = asyncio.get_running_loop()
    sent: list[float] = []
    refused = False

    async def call() -> bool:
        nonlocal refused
        if not refused:
            refused = True
            raise RetryAfter(timedelta(milliseconds=300))
        sent.append(loop.time())
        return True

    results = await asyncio.gather(*(
        limiter.process_request(call, (), {}, "sendMessage", {"chat_id": 1000 + n}, None) for n in range(12)
    ))
    gaps = [b - a for a, b in itertools.pairwise(sorted(sent))]
    assert all(results) and len(sent) == 12
    assert min(gaps) >= 0.018, gaps   # 49 a second → 20 ms apart, a little timer slack allowed


async def test_a_429_that_persists_is_raised_after_the_retries() -> None:
    limiter = RectbotRateLimiter(overall_limit=0, max_retries=1)
    calls = 0

    async def call() -> bool:
        nonlocal calls
        calls += 1
        raise RetryAfter(timedelta(milliseconds=10))

    with pytest.raises(RetryAfter):
        await limiter.process_request(call, (), {}, "sendMessage", {"chat_id": -5}, None)
    assert calls == 2
