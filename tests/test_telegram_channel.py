"""bot/telegram_channel.py through the real PTB stack against the sandbox Bot API: what is sent, and
which port outcome each Telegram failure becomes (delivery's retry decisions rest on this)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest

from bot.channel import Channel, ChannelError, Rejected, RetryLater, Transient, Unreachable
from bot.notify import Rendered
from bot.sandbox import SandboxServer
from bot.telegram_channel import MAX_CAPTION, MAX_TEXT, TelegramChannel, keyboard, split_text, units

# PTB 22 itself warns inside RetryAfter.__init__ about the coming timedelta switch.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        yield server


@pytest.fixture
async def channel(sandbox: SandboxServer) -> AsyncIterator[TelegramChannel]:
    # No rate limiter: PTB's AIORateLimiter would retry 429s itself and hide them from the mapping.
    # A short read timeout turns the sandbox's "slow" fault into a real TimedOut.
    request = HTTPXRequest(read_timeout=0.5)
    async with Bot(sandbox.token, base_url=sandbox.base_url, base_file_url=sandbox.base_file_url,
                   request=request) as bot:
        yield TelegramChannel(bot)


async def failure(channel: Channel, chat_id: int, message: Rendered | None = None) -> ChannelError:
    with pytest.raises(ChannelError) as info:
        await channel.send(chat_id, message or Rendered("hello"))
    return info.value


async def test_text_with_buttons_returns_the_telegram_message_id(channel: TelegramChannel,
                                                                 sandbox: SandboxServer) -> None:
    user = sandbox.create_user()
    rendered = Rendered("提醒", [[("查看", "case:7"), ("稍后", "later")], [("报告", "rp:7")]])
    message_id = await channel.send(user.id, rendered)
    stored, = sandbox.messages(user)
    assert stored.message_id == message_id and stored.text == "提醒" and stored.document is None
    assert stored.reply_markup == {"inline_keyboard": [
        [{"text": "查看", "callback_data": "case:7"}, {"text": "稍后", "callback_data": "later"}],
        [{"text": "报告", "callback_data": "rp:7"}],
    ]}


async def test_no_buttons_sends_no_keyboard_and_long_text_is_split_at_line_ends(channel: TelegramChannel,
                                                                              sandbox: SandboxServer) -> None:
    sandbox.enforce_flood = False  # no rate limiter here: in the bot, the flood limiter paces the parts
    user = sandbox.create_user()
    await channel.send(user.id, Rendered("x" * (MAX_TEXT + 500)))
    first, second = sandbox.messages(user)
    assert first.reply_markup is None and second.reply_markup is None
    assert first.text == "x" * MAX_TEXT and second.text == "x" * 500  # one line longer than a message: cut
    sandbox.mark_read(user)
    lines = [f"第{i}行" + "字" * 50 for i in range(200)]
    message_id = await channel.send(user.id, Rendered("\n".join(lines), [[("查看", "case:7")]]))
    parts = sandbox.messages(user)[2:]
    assert len(parts) == 3 and all(len(p.text or "") <= MAX_TEXT for p in parts)
    assert "\n".join(p.text or "" for p in parts).split("\n") == lines  # never cut mid-line
    assert [p.buttons for p in parts] == [[], [], [("查看", "case:7")]] and parts[-1].message_id == message_id


async def test_document_with_a_caption_over_the_limit_gets_it_as_a_following_message(
        channel: TelegramChannel, sandbox: SandboxServer) -> None:
    sandbox.enforce_flood = False  # no rate limiter here: in the bot, the flood limiter paces the parts
    user = sandbox.create_user()
    content = "整改台账\n第1行".encode()
    rendered = Rendered("附" * (MAX_CAPTION + 1), [[("下载", "dl:1")]], document=("台账.csv", content))
    message_id = await channel.send(user.id, rendered)
    document, text = sandbox.messages(user)
    assert text.message_id == message_id
    assert document.document is not None and document.document.file_name == "台账.csv"
    assert document.document_bytes == content and not document.caption and document.buttons == []
    assert text.text == "附" * (MAX_CAPTION + 1)
    assert text.buttons == [("下载", "dl:1")]
    assert len(sandbox.calls("sendDocument")) == 1 and len(sandbox.calls("sendMessage")) == 1


async def test_a_keyboard_over_telegrams_limits_is_a_programming_error() -> None:
    with pytest.raises(AssertionError):
        keyboard([[("b", f"x:{i}")] for i in range(101)])
    with pytest.raises(AssertionError):
        keyboard([[("b", f"x:{i}") for i in range(9)]])
    with pytest.raises(AssertionError):
        keyboard([[("b", "x" * 65)]])
    assert keyboard([[("b", f"x:{i}") for i in range(8)] for _ in range(12)] + [[("b", "x" * 64)] for _ in range(4)])


async def test_429_becomes_retry_later_with_the_seconds_telegram_asked(channel: TelegramChannel,
                                                                       sandbox: SandboxServer) -> None:
    user = sandbox.create_user()
    sandbox.inject("sendMessage", "429", retry_after=3)
    error = await failure(channel, user.id)
    assert isinstance(error, RetryLater) and error.seconds == 3.0
    assert isinstance(error.__cause__, RetryAfter)
    assert sandbox.messages(user) == []
    sandbox.inject("sendDocument", "429", retry_after=7)  # the document path maps the same way
    error = await failure(channel, user.id, Rendered("c", document=("a.txt", b"a")))
    assert isinstance(error, RetryLater) and error.seconds == 7.0


@pytest.mark.parametrize(("kind", "words"), [("500", "Internal Server Error"), ("502", "Bad Gateway")])
async def test_server_errors_are_transient(channel: TelegramChannel, sandbox: SandboxServer, kind: str,
                                           words: str) -> None:
    user = sandbox.create_user()
    sandbox.inject("sendMessage", kind)
    error = await failure(channel, user.id)
    assert isinstance(error, Transient) and isinstance(error.__cause__, NetworkError)
    assert error.reason.startswith("NetworkError: ") and words in error.reason
    assert await channel.send(user.id, Rendered("again")) > 0  # the same message goes through later


async def test_timeouts_and_dropped_connections_are_transient(channel: TelegramChannel,
                                                              sandbox: SandboxServer) -> None:
    user = sandbox.create_user()
    sandbox.inject("sendMessage", "slow", delay=2.0)
    error = await failure(channel, user.id)
    assert isinstance(error, Transient) and isinstance(error.__cause__, TimedOut)
    assert error.reason.startswith("TimedOut: ")
    sandbox.inject("sendMessage", "disconnect")
    error = await failure(channel, sandbox.create_user().id)
    assert isinstance(error, Transient) and isinstance(error.__cause__, NetworkError)


async def test_blocked_bot_is_unreachable(channel: TelegramChannel, sandbox: SandboxServer) -> None:
    user = sandbox.create_user()
    sandbox.block(user)
    error = await failure(channel, user.id)
    assert isinstance(error, Unreachable) and isinstance(error.__cause__, Forbidden)
    assert error.reason == "Forbidden: bot was blocked by the user"
    assert sandbox.messages(user) == []


async def test_unknown_chat_is_unreachable(channel: TelegramChannel, sandbox: SandboxServer) -> None:
    error = await failure(channel, 987654321)  # no such user in the sandbox
    assert isinstance(error, Unreachable) and isinstance(error.__cause__, BadRequest)
    assert "chat not found" in error.reason.lower()


async def test_other_bad_requests_are_rejected_for_good(channel: TelegramChannel, sandbox: SandboxServer) -> None:
    user = sandbox.create_user()
    error = await failure(channel, user.id, Rendered(""))
    assert isinstance(error, Rejected) and isinstance(error.__cause__, BadRequest)
    assert error.reason == "Message text is empty"  # PTB drops Telegram's "Bad Request: " prefix
    with pytest.raises(AssertionError):  # callback_data > 64 bytes is a programming error, caught before sending
        await channel.send(user.id, Rendered("x", [[("too long", "d" * 65)]]))
    sandbox.inject("sendMessage", "400", description="message is too long")
    error = await failure(channel, user.id)
    assert isinstance(error, Rejected) and error.reason == "Message is too long"
    assert sandbox.messages(user) == []


def test_split_counts_as_telegram_does_in_utf16_units() -> None:
    line = "🔴 整改事项 " * 40                       # an emoji is two UTF-16 units
    parts = split_text("\n".join([line] * 60))
    assert len(parts) > 1 and all(units(p) <= MAX_TEXT for p in parts)
    assert "\n".join(parts).split("\n") == [line] * 60
    one = split_text("🔴" * 5000)                   # one line, no line end: cut, whole characters only
    assert [units(p) for p in one] == [4096, 4096, 1808] and "".join(one) == "🔴" * 5000
