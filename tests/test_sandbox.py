"""The sandbox Bot API server, driven by the real python-telegram-bot stack.

Every test talks HTTP to a sandbox on 127.0.0.1 through PTB's own httpx
networking, so these also pin down that PTB accepts what the sandbox answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import json
import socket
import threading
import time
import warnings
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, filters

from bot.sandbox import SandboxServer, SentMessage
from bot.sandbox.flood import GLOBAL, GROUP, PRIVATE, FloodLimiter
from bot.sandbox.formatting import EntityParseError, parse_text

# PTB 22 itself warns inside RetryAfter.__init__ and Voice.duration about the coming timedelta switch.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

TOKEN = "123456:ABC-sandbox_test"
PNG_2x3 = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x02\x00\x00\x00\x03\x08\x02\x00\x00\x00" + b"\x00" * 16


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(token=TOKEN, bot_username="rectbot_test") as server:
        yield server


@pytest.fixture
async def bot(sandbox: SandboxServer) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=sandbox.base_url, base_file_url=sandbox.base_file_url) as b:
        yield b


def seconds(exc: RetryAfter) -> float:
    """PTB 22 is moving retry_after from int to timedelta; accept both quietly."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


# --------------------------------------------------------------------------- basics
def test_refuses_non_loopback_host() -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        SandboxServer(host="0.0.0.0")
    with pytest.raises(ValueError, match=r"(?i)127"):
        SandboxServer(host="localhost")


def test_binds_loopback_only(sandbox: SandboxServer) -> None:
    assert sandbox.api_url == f"http://127.0.0.1:{sandbox.port}"
    with socket.create_connection(("127.0.0.1", sandbox.port), timeout=1) as conn:
        assert conn.getpeername()[0] == "127.0.0.1"


@pytest.mark.asyncio
async def test_get_me(bot: Bot, sandbox: SandboxServer) -> None:
    me = await bot.get_me()
    assert me.username == "rectbot_test"
    assert me.is_bot
    assert me.id == 123456 == sandbox.bot_id


@pytest.mark.asyncio
async def test_wrong_token_and_unknown_method(sandbox: SandboxServer) -> None:
    async with httpx.AsyncClient() as client:
        r = await client.post(f"{sandbox.base_url}999:WRONG/getMe")
        assert r.status_code == 401
        assert r.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
        r = await client.post(f"{sandbox.base_url}not-a-token/getMe")
        assert r.status_code == 404
        r = await client.post(f"{sandbox.base_url}{TOKEN}/fooBar")
        assert r.status_code == 404
        assert r.json() == {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
    with pytest.raises(InvalidToken):
        async with Bot("999:WRONG", base_url=sandbox.base_url) as wrong:
            await wrong.get_me()


@pytest.mark.asyncio
async def test_json_body_get_query_and_form(sandbox: SandboxServer) -> None:
    """Other clients send JSON bodies or GET query strings; all are accepted."""
    alice = sandbox.create_user(1001, "Alice")
    markup = {"inline_keyboard": [[{"text": "OK", "callback_data": "ok"}]]}
    async with httpx.AsyncClient() as client:
        r = await client.post(
            f"{sandbox.base_url}{TOKEN}/sendMessage",
            json={"chat_id": alice.id, "text": "json", "reply_markup": markup},
        )
        assert r.status_code == 200 and r.json()["result"]["reply_markup"] == markup
        r = await client.get(f"{sandbox.base_url}{TOKEN}/getMe")
        assert r.json()["ok"] is True
        r = await client.post(
            f"{sandbox.base_url}{TOKEN}/sendMessage",
            data={"chat_id": str(alice.id), "text": ""},
        )
        assert r.status_code == 400
        assert r.json()["description"] == "Bad Request: message text is empty"
        r = await client.post(f"{sandbox.base_url}{TOKEN}/sendMessage", data={"chat_id": "5", "text": "x"})
        assert r.json()["description"] == "Bad Request: chat not found"


# ------------------------------------------------------------------------- updates
@pytest.mark.asyncio
async def test_get_updates_offsets(bot: Bot, sandbox: SandboxServer) -> None:
    alice = sandbox.create_user(1001, "Alice", username="alice", language_code="zh-hans")
    alice.send_text("你好")
    alice.send_command("start", "INVITE42")
    updates = await bot.get_updates(timeout=0)
    assert [u.update_id for u in updates] == [1, 2]
    first, second = updates
    assert first.message is not None and first.message.text == "你好"
    assert first.message.from_user is not None and first.message.from_user.language_code == "zh-hans"
    assert first.message.chat.id == alice.id and first.message.chat.type == "private"
    assert second.message is not None and second.message.text == "/start INVITE42"
    assert second.message.entities[0].type == "bot_command" and second.message.entities[0].length == 6
    # Not confirmed yet: delivered again.
    assert len(await bot.get_updates(timeout=0)) == 2
    assert len(await bot.get_updates(offset=2, timeout=0)) == 1
    assert await bot.get_updates(offset=3, timeout=0) == ()
    assert sandbox.pending_updates == 0


@pytest.mark.asyncio
async def test_long_polling_waits_for_update(bot: Bot, sandbox: SandboxServer) -> None:
    alice = sandbox.create_user(1001, "Alice")
    started = time.monotonic()
    timer = threading.Timer(0.3, alice.send_text, args=("迟到的消息",))
    timer.start()
    updates = await bot.get_updates(timeout=5)
    elapsed = time.monotonic() - started
    timer.join()
    assert 0.25 <= elapsed < 2
    assert updates[0].message is not None and updates[0].message.text == "迟到的消息"

    started = time.monotonic()
    assert await bot.get_updates(offset=updates[-1].update_id + 1, timeout=dtm.timedelta(seconds=0.5)) == ()
    assert time.monotonic() - started >= 0.45


@pytest.mark.asyncio
async def test_drop_pending_updates_and_allowed_updates(bot: Bot, sandbox: SandboxServer) -> None:
    alice = sandbox.create_user(1001, "Alice")
    alice.send_text("old")
    await bot.delete_webhook(drop_pending_updates=True)
    assert sandbox.pending_updates == 0
    msg = await bot.send_message(
        alice.id, "menu", reply_markup=InlineKeyboardMarkup.from_button(InlineKeyboardButton("A", callback_data="a"))
    )
    alice.send_text("text")
    alice.press(msg.message_id, "A")
    updates = await bot.get_updates(timeout=0, allowed_updates=["callback_query"])
    assert [u.callback_query is not None for u in updates] == [True]


# --------------------------------------------------------------- messages & buttons
@pytest.mark.asyncio
async def test_application_keyboard_press_answer_and_edit(sandbox: SandboxServer) -> None:
    """The full loop through a real Application with polling."""
    alice = sandbox.create_user(1001, "Alice")

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton("确认", callback_data="confirm:7"),
                    InlineKeyboardButton("取消", callback_data="cancel"),
                ]
            ]
        )
        await update.effective_message.reply_text(
            f"参数: {' '.join(context.args or [])}", reply_markup=keyboard, do_quote=True
        )

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer(f"收到 {query.data}", show_alert=True)
        await query.edit_message_text(f"已处理 {query.data}")

    app = Application.builder().token(TOKEN).base_url(sandbox.base_url).base_file_url(sandbox.base_file_url).build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(pressed))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=dtm.timedelta(seconds=2))
        try:
            alice.send_command("start", "CODE")
            menu = await sandbox.await_message(alice, timeout=5)
            assert menu.text == "参数: CODE"
            assert menu.buttons == [("确认", "confirm:7"), ("取消", "cancel")]
            assert menu.reply_to_message_id is not None  # do_quote sends reply_parameters

            query_id = alice.press(menu, "确认")
            answer = await sandbox.await_callback_answer(query_id, timeout=5)
            assert answer.text == "收到 confirm:7" and answer.show_alert
            edited = await sandbox.await_edit(alice, menu.message_id, timeout=5)
            assert edited is menu
            assert menu.text == "已处理 confirm:7"
            assert menu.text_history == ["参数: CODE", "已处理 confirm:7"]
            assert menu.buttons == []  # editMessageText without reply_markup drops the keyboard

            forged = alice.press(menu, data="confirm:999")  # arbitrary data, keyboard is gone
            assert (await sandbox.await_callback_answer(forged, timeout=5)).text == "收到 confirm:999"
        finally:
            await app.updater.stop()
            await app.stop()
    assert sandbox.pending_updates == 0


@pytest.mark.asyncio
async def test_reply_to_bot_message_and_answer_twice(bot: Bot, sandbox: SandboxServer) -> None:
    alice = sandbox.create_user(1001, "Alice")
    question = await bot.send_message(alice.id, "请输入金额")
    stored = sandbox.wait_for_message(alice, timeout=1)
    alice.send_text("1200", reply_to=stored)
    (update,) = await bot.get_updates(timeout=0)
    assert update.message is not None and update.message.reply_to_message is not None
    assert update.message.reply_to_message.message_id == question.message_id
    assert update.message.reply_to_message.text == "请输入金额"

    qid = alice.press(stored, data="anything")
    (_, press) = await bot.get_updates(timeout=0)
    assert press.callback_query is not None and press.callback_query.id == qid
    assert press.callback_query.message is not None
    assert press.callback_query.message.message_id == question.message_id
    assert await press.callback_query.answer()
    with pytest.raises(BadRequest, match=r"(?i)query ID is invalid"):
        await press.callback_query.answer()


@pytest.mark.asyncio
async def test_edit_rules(bot: Bot, sandbox: SandboxServer) -> None:
    alice = sandbox.create_user(1001, "Alice")
    kb = InlineKeyboardMarkup.from_button(InlineKeyboardButton("x", callback_data="x"))
    msg = await bot.send_message(alice.id, "v1", reply_markup=kb)
    await bot.edit_message_text("v2", chat_id=alice.id, message_id=msg.message_id, reply_markup=kb)
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("v2", chat_id=alice.id, message_id=msg.message_id, reply_markup=kb)
    await bot.edit_message_reply_markup(chat_id=alice.id, message_id=msg.message_id)
    stored = sandbox.message(alice, msg.message_id)
    assert stored.text == "v2" and stored.reply_markup is None and len(stored.edits) == 2
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("zz", chat_id=alice.id, message_id=999)
    assert await bot.delete_message(alice.id, msg.message_id)
    assert stored.deleted
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(alice.id, msg.message_id)
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        long_kb = InlineKeyboardMarkup.from_button(InlineKeyboardButton("x", callback_data="x" * 65))
        await bot.send_message(alice.id, "too long data", reply_markup=long_kb)


@pytest.mark.asyncio
async def test_parse_modes(bot: Bot, sandbox: SandboxServer) -> None:
    alice = sandbox.create_user(1001, "Alice")
    msg = await bot.send_message(alice.id, "<b>合计</b> 1 &lt; 2 😀<i>ok</i>", parse_mode=ParseMode.HTML)
    assert msg.text == "合计 1 < 2 😀ok"
    # 😀 counts as 2 UTF-16 code units in entity offsets.
    assert [(e.type, e.offset, e.length) for e in msg.entities] == [("bold", 0, 2), ("italic", 11, 2)]
    stored = sandbox.wait_for_message(alice, timeout=1)
    assert stored.source_text == "<b>合计</b> 1 &lt; 2 😀<i>ok</i>" and stored.text == msg.text
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities: Unsupported start tag"):
        await bot.send_message(alice.id, "1 < 2", parse_mode=ParseMode.HTML)
    sandbox.reset_violations()  # forget the send history instead of sleeping 1 s
    with pytest.raises(BadRequest, match=r"(?i)reserved and must be escaped"):
        await bot.send_message(alice.id, "金额 1.5 元", parse_mode=ParseMode.MARKDOWN_V2)
    ok = await bot.send_message(alice.id, r"*金额* 1\.5 元", parse_mode=ParseMode.MARKDOWN_V2)
    assert ok.text == "金额 1.5 元" and ok.entities[0].type == "bold"


# ----------------------------------------------------------------------------- files
@pytest.mark.asyncio
async def test_bot_sends_document_and_photo(bot: Bot, sandbox: SandboxServer) -> None:
    alice = sandbox.create_user(1001, "Alice")
    data = "整改台账\n第1行".encode()
    msg = await bot.send_document(alice.id, data, filename="台账.csv", caption="<b>附件</b>", parse_mode="HTML")
    assert msg.document is not None and msg.document.file_name == "台账.csv"
    assert msg.document.file_size == len(data) and msg.caption == "附件"
    stored = sandbox.wait_for_message(alice, timeout=1)
    assert stored.document is not None and stored.document.mime_type == "text/csv"
    assert stored.document_bytes == data
    # Files the bot sent can be fetched back, and re-sent by file_id without upload.
    file = await bot.get_file(msg.document.file_id)
    assert bytes(await file.download_as_bytearray()) == data
    bob = sandbox.create_user(1002, "Bob")
    again = await bot.send_document(bob.id, msg.document.file_id)
    assert again.document is not None and again.document.file_id == msg.document.file_id

    carol = sandbox.create_user(1003, "Carol")
    photo_msg = await bot.send_photo(carol.id, PNG_2x3, caption="图")
    assert photo_msg.photo[-1].width == 2 and photo_msg.photo[-1].height == 3
    assert sandbox.last_message(carol) is not None
    assert sandbox.file_bytes(photo_msg.photo[-1].file_id) == PNG_2x3


@pytest.mark.asyncio
async def test_user_sends_document_photo_voice(bot: Bot, sandbox: SandboxServer) -> None:
    alice = sandbox.create_user(1001, "Alice")
    xlsx = b"PK\x03\x04 fake workbook"
    alice.send_document("整改清单.xlsx", xlsx, caption="请查收")
    alice.send_photo(PNG_2x3)
    alice.send_voice(b"OggS voice", duration=3)
    doc_u, photo_u, voice_u = await bot.get_updates(timeout=0)

    assert doc_u.message is not None and doc_u.message.document is not None
    document = doc_u.message.document
    assert document.file_name == "整改清单.xlsx" and doc_u.message.caption == "请查收"
    assert document.mime_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert document.file_size == len(xlsx)
    tg_file = await document.get_file()
    assert tg_file.file_path is not None and tg_file.file_path.startswith(sandbox.base_file_url)
    buf = bytearray()
    await tg_file.download_as_bytearray(buf)
    assert bytes(buf) == xlsx

    assert photo_u.message is not None and photo_u.message.photo[-1].width == 2
    photo_bytes = await (await photo_u.message.photo[-1].get_file()).download_as_bytearray()
    assert bytes(photo_bytes) == PNG_2x3
    assert voice_u.message is not None and voice_u.message.voice is not None
    assert voice_u.message.voice.duration == dtm.timedelta(seconds=3) or voice_u.message.voice.duration == 3

    async with httpx.AsyncClient() as client:
        r = await client.get(f"{sandbox.base_file_url}{TOKEN}/documents/nope.bin")
        assert r.status_code == 404
        r = await client.get(f"{sandbox.base_file_url}1:WRONG/{tg_file.file_path.rsplit('/', 2)[-2]}")
        assert r.status_code == 401


# ---------------------------------------------------------------------------- faults
@pytest.mark.asyncio
async def test_fault_429(bot: Bot, sandbox: SandboxServer) -> None:
    alice = sandbox.create_user(1001, "Alice")
    sandbox.inject("sendMessage", "429", retry_after=7)
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(alice.id, "hi")
    assert seconds(info.value) == 7
    assert sandbox.messages(alice) == []  # Telegram did not send it
    await bot.send_message(alice.id, "hi")  # fault used up
    assert [m.text for m in sandbox.messages(alice)] == ["hi"]
    assert [c.status for c in sandbox.calls("sendMessage")] == [429, 200]


@pytest.mark.asyncio
async def test_fault_403_and_block(bot: Bot, sandbox: SandboxServer) -> None:
    alice = sandbox.create_user(1001, "Alice")
    sandbox.inject("sendMessage", 403, chat_id=alice.id)
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.send_message(alice.id, "x")
    await bot.send_message(alice.id, "y")

    alice.block_bot()
    for _ in range(2):
        with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
            await bot.send_document(alice.id, b"1", filename="a.txt")
    (update,) = await bot.get_updates(timeout=0)
    assert update.my_chat_member is not None
    assert update.my_chat_member.new_chat_member.status == "kicked"
    sandbox.unblock(alice)
    sandbox.reset_violations()  # forget the send history instead of sleeping 1 s
    await bot.send_message(alice.id, "z")
    assert [m.content for m in sandbox.messages(alice)] == ["y", "z"]


@pytest.mark.asyncio
async def test_fault_500_502_400_disconnect(bot: Bot, sandbox: SandboxServer) -> None:
    alice = sandbox.create_user(1001, "Alice")
    sandbox.inject("sendMessage", "500")
    sandbox.inject("sendMessage", "502")
    sandbox.inject("sendMessage", "400", description="chat not found")
    sandbox.inject("sendMessage", "disconnect")
    with pytest.raises(NetworkError, match=r"(?i)Internal Server Error"):
        await bot.send_message(alice.id, "1")
    with pytest.raises(NetworkError, match=r"(?i)Bad Gateway"):
        await bot.send_message(alice.id, "2")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(alice.id, "3")
    with pytest.raises(NetworkError):
        await bot.send_message(alice.id, "4")
    assert sandbox.messages(alice) == []


@pytest.mark.asyncio
async def test_fault_slow_still_sends(bot: Bot, sandbox: SandboxServer) -> None:
    alice = sandbox.create_user(1001, "Alice")
    fault = sandbox.inject("*", "slow", delay=0.4)
    started = time.monotonic()
    await bot.send_message(alice.id, "慢")
    assert time.monotonic() - started >= 0.4
    assert fault.exhausted
    assert sandbox.wait_for_message(alice, timeout=1).text == "慢"


# ----------------------------------------------------------------------------- flood
@pytest.mark.asyncio
async def test_flood_private_chat_violation(bot: Bot, sandbox: SandboxServer) -> None:
    alice = sandbox.create_user(1001, "Alice")
    await bot.send_message(alice.id, "1")
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(alice.id, "2")
    assert seconds(info.value) == 1
    v = sandbox.violations
    assert (v.total, v.by_kind, v.by_chat) == (1, {PRIVATE: 1}, {alice.id: 1})
    assert [m.text for m in sandbox.messages(alice)] == ["1"]
    # Edits and chat actions are not "messages" for the limit.
    msg = sandbox.messages(alice)[0]
    await bot.edit_message_text("1'", chat_id=alice.id, message_id=msg.message_id)
    await bot.send_chat_action(alice.id, "typing")
    assert sandbox.violations.total == 1 and sandbox.chat_actions(alice) == ["typing"]

    sandbox.enforce_flood = False
    await bot.send_message(alice.id, "3")  # counted, but delivered
    assert sandbox.violations.total == 2
    assert [m.text for m in sandbox.messages(alice)] == ["1'", "3"]


@pytest.mark.asyncio
async def test_flood_compliant_pace_counts_nothing(bot: Bot, sandbox: SandboxServer) -> None:
    users = [sandbox.create_user(2000 + i, f"U{i}") for i in range(5)]
    for user in users:  # different chats may be served back to back
        await bot.send_message(user.id, "通知")
    await asyncio.sleep(0.96)  # 1 s per chat, minus the 50 ms jitter tolerance
    await bot.send_message(users[0].id, "第二条")
    assert sandbox.violations.total == 0


@pytest.mark.asyncio
async def test_flood_group_and_global(bot: Bot, sandbox: SandboxServer) -> None:
    group = sandbox.create_group("整改群")
    for i in range(20):
        await bot.send_message(group, f"g{i}")
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(group, "g20")
    assert 50 <= seconds(info.value) <= 60
    assert sandbox.violations.by_kind == {GROUP: 1}

    sandbox.reset_violations()
    users = [sandbox.create_user(3000 + i, f"U{i}") for i in range(31)]
    results = await asyncio.gather(*(bot.send_message(u.id, "广播") for u in users), return_exceptions=True)
    assert sum(isinstance(r, RetryAfter) for r in results) == 1
    assert sandbox.violations.by_kind == {GLOBAL: 1}


def test_flood_limiter_rule() -> None:
    """The exact rule, with a synthetic clock."""
    lim = FloodLimiter()
    lim.record(1, 100.0)
    assert lim.check(1, 100.94) is not None  # < 0.95 s since the last accepted send
    assert lim.check(1, 100.95) is None  # within the 50 ms tolerance
    assert lim.check(2, 100.1) is None  # other chat
    for i in range(20):
        lim.record(-5, 200.0 + i)
    verdict = lim.check(-5, 230.0)
    assert verdict is not None and verdict.kind == GROUP and verdict.retry_after == 30
    assert lim.check(-5, 259.96) is None
    lim.reset()
    for uid in range(30):
        lim.record(uid + 10, 300.0 + uid * 0.01)
    verdict = lim.check(999, 300.5)
    assert verdict is not None and verdict.kind == GLOBAL
    assert lim.check(999, 300.96) is None  # the oldest send aged out


# ------------------------------------------------------------------- commands & misc
@pytest.mark.asyncio
async def test_set_my_commands(bot: Bot, sandbox: SandboxServer) -> None:
    await bot.set_my_commands([("start", "开始"), ("report", "提交报表")], language_code="zh")
    await bot.set_my_commands([("start", "Start")])
    assert sandbox.commands(language_code="zh") == [("start", "开始"), ("report", "提交报表")]
    assert sandbox.commands() == [("start", "Start")]
    got = await bot.get_my_commands(language_code="zh")
    assert [c.command for c in got] == ["start", "report"]
    assert [c.language_code for c in sandbox.commands_calls] == ["zh", ""]
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([("Bad-Cmd", "x")])
    assert await bot.log_out() and await bot.close()


@pytest.mark.asyncio
async def test_webhook_delivery(sandbox: SandboxServer) -> None:
    """PTB's own webhook server receives updates the sandbox POSTs to 127.0.0.1."""
    alice = sandbox.create_user(1001, "Alice")
    received: list[str] = []

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_message.text is not None
        received.append(update.effective_message.text)
        await update.effective_message.reply_text("回声: " + update.effective_message.text)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = Application.builder().token(TOKEN).base_url(sandbox.base_url).build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_webhook(
            listen="127.0.0.1",
            port=port,
            url_path="hook",
            webhook_url=f"http://127.0.0.1:{port}/hook",
            secret_token="s3cret",
        )
        try:
            assert sandbox.webhook_url == f"http://127.0.0.1:{port}/hook"
            with pytest.raises(Conflict):
                await app.bot.get_updates()
            alice.send_text("经 webhook")
            reply = await sandbox.await_message(alice, timeout=5)
            assert reply.text == "回声: 经 webhook" and received == ["经 webhook"]
            await sandbox.await_updates_consumed(timeout=5)
            with pytest.raises(BadRequest, match=r"(?i)bad webhook"):
                await app.bot.set_webhook("https://example.com/hook")
        finally:
            await app.updater.stop()
            await app.stop()


def test_wait_helpers_walk_messages_in_order(sandbox: SandboxServer) -> None:
    """Sync tests: the bot runs elsewhere (here: a thread with its own loop)."""
    alice = sandbox.create_user(1001, "Alice")
    sandbox.enforce_flood = False

    async def bot_side() -> None:
        async with Bot(TOKEN, base_url=sandbox.base_url) as b:
            for text in ("一", "二", "三"):
                await b.send_message(alice.id, text)
                await asyncio.sleep(0.05)

    thread = threading.Thread(target=asyncio.run, args=(bot_side(),))
    thread.start()
    assert sandbox.wait_for_message(alice, lambda m: m.text == "二", timeout=5).text == "二"
    rest = sandbox.wait_for_messages(alice, 2, timeout=5)
    assert [m.text for m in rest] == ["一", "三"]
    thread.join()
    with pytest.raises(TimeoutError, match=r"(?i)bot messages in chat 1001"):
        sandbox.wait_for_message(alice, timeout=0.2)
    assert isinstance(sandbox.messages()[0], SentMessage)
    sandbox.reset()
    assert sandbox.messages() == []


def test_json_error_shape_for_429(sandbox: SandboxServer) -> None:
    alice = sandbox.create_user(1001, "Alice")
    sandbox.inject("sendMessage", "429", retry_after=3)
    r = httpx.post(f"{sandbox.base_url}{TOKEN}/sendMessage", data={"chat_id": alice.id, "text": "x"})
    assert r.status_code == 429
    assert r.json() == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }
    assert json.loads(r.text)["parameters"]["retry_after"] == 3


@pytest.mark.asyncio
async def test_stop_releases_long_poll() -> None:
    server = SandboxServer(token=TOKEN).start()
    async with Bot(TOKEN, base_url=server.base_url) as b:
        poll = asyncio.create_task(b.get_updates(timeout=30, read_timeout=35))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await asyncio.to_thread(server.stop)
        # Either an empty answer or a closed connection is fine for PTB's polling loop.
        with contextlib.suppress(NetworkError):
            assert await asyncio.wait_for(poll, 3) == ()
        assert time.monotonic() - started < 3


BOT_SCRIPT = r"""
import sys
from telegram import Update
from telegram.ext import AIORateLimiter, Application, ContextTypes, MessageHandler, filters

async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_message.reply_text("收到: " + update.effective_message.text)

async def on_doc(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    data = await (await update.effective_message.document.get_file()).download_as_bytearray()
    await update.effective_message.reply_text(f"{update.effective_message.document.file_name}: {len(data)} bytes")

token, api_url = sys.argv[1], sys.argv[2]
app = (
    Application.builder().token(token).base_url(api_url + "/bot").base_file_url(api_url + "/file/bot")
    .rate_limiter(AIORateLimiter(max_retries=2)).build()
)
app.add_handler(MessageHandler(filters.TEXT, on_text))
app.add_handler(MessageHandler(filters.Document.ALL, on_doc))
app.run_polling(allowed_updates=Update.ALL_TYPES, poll_interval=0.0, timeout=10)
"""


def test_bot_in_subprocess_run_polling(sandbox: SandboxServer) -> None:
    """The e2e shape: a separate process runs the real polling loop against the sandbox."""
    import signal
    import subprocess
    import sys

    alice = sandbox.create_user(1001, "Alice")
    alice.send_text("启动前的消息")  # queued before the bot starts: delivered after deleteWebhook
    proc = subprocess.Popen([sys.executable, "-c", BOT_SCRIPT, TOKEN, sandbox.api_url])
    try:
        assert sandbox.wait_for_message(alice, timeout=15).text == "收到: 启动前的消息"
        alice.send_document("报表.xlsx", b"x" * 1234)
        assert sandbox.wait_for_message(alice, timeout=5).text == "报表.xlsx: 1234 bytes"
        sandbox.wait_for_updates_consumed(timeout=5)
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
    # The second reply usually follows the first within 1 s: the sandbox answers 429 and PTB's
    # AIORateLimiter (which has no per-private-chat limit of its own) retries after retry_after.
    statuses = [c.status for c in sandbox.calls("sendMessage")]
    assert statuses.count(200) == 2
    assert sandbox.violations.total == statuses.count(429) <= 1
    assert sandbox.internal_errors == []
    assert [c.method for c in sandbox.calls()][:2] == ["getMe", "deleteWebhook"]


# ------------------------------------------------------------------ pure helpers
@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("line<br>next", 'Unsupported start tag "br"'),
        ("<b>open", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
    ],
)
def test_html_errors_match_telegram(source: str, error: str) -> None:
    with pytest.raises(EntityParseError) as info:
        parse_text(source, "HTML")
    assert str(info.value).startswith(error)


def test_html_and_markdown_v2_entities() -> None:
    text, entities = parse_text(
        '<a href="https://x.cn/?a=1&amp;b=2">链接</a> <pre><code class="language-python">x&lt;1</code></pre> R&D',
        "HTML",
    )
    assert text == "链接 x<1 R&D"
    assert entities == [
        {"type": "text_link", "url": "https://x.cn/?a=1&b=2", "offset": 0, "length": 2},
        {"type": "pre", "language": "python", "offset": 3, "length": 3},
    ]
    text, entities = parse_text(r"__下划线__ `a_b` [文档](https://x.cn/a\)b) 1\+1", "MarkdownV2")
    assert text == "下划线 a_b 文档 1+1"
    assert [e["type"] for e in entities] == ["underline", "code", "text_link"]
    assert entities[2]["url"] == "https://x.cn/a)b"
    assert parse_text("*not parsed*", None) == ("*not parsed*", [])


@pytest.mark.asyncio
async def test_caption_edit_and_profile_settings(bot: Bot, sandbox: SandboxServer) -> None:
    alice = sandbox.create_user(1001, "Alice")
    msg = await bot.send_document(alice.id, b"abc", filename="a.txt", caption="旧")
    await bot.edit_message_caption(chat_id=alice.id, message_id=msg.message_id, caption="<i>新</i>", parse_mode="HTML")
    stored = sandbox.message(alice, msg.message_id)
    assert stored.caption == "新" and stored.caption_entities[0]["type"] == "italic"
    await bot.set_my_description("整改台账机器人", language_code="zh")
    assert sandbox.bot_setting("setMyDescription", "zh") == "整改台账机器人"
    assert (await bot.get_my_description(language_code="zh")).description == "整改台账机器人"


def test_cli_actions(sandbox: SandboxServer) -> None:
    from bot.sandbox.__main__ import _act

    user = sandbox.create_user(1001, "Alice")
    assert _act(sandbox, user, "/start ABC") is user
    assert _act(sandbox, user, "你好") is user
    other = _act(sandbox, user, ":user 1002 Bob")
    assert other is not None and other.id == 1002
    _act(sandbox, user, ":inject sendMessage 429 2")
    assert sandbox.pending_updates == 2
    assert _act(sandbox, user, ":quit") is None


@pytest.mark.asyncio
async def test_reset_keeps_update_ids_increasing(bot: Bot, sandbox: SandboxServer) -> None:
    """A session-wide sandbox can be reset between tests while the bot keeps polling."""
    sandbox.create_user(1001, "Alice").send_text("one")
    (first,) = await bot.get_updates(timeout=0)
    sandbox.reset()
    sandbox.create_user(1001, "Alice").send_text("two")
    (second,) = await bot.get_updates(offset=first.update_id + 1, timeout=0)
    assert second.update_id > first.update_id
    assert second.message is not None and second.message.text == "two"


# ----------------------------------------------------------------- random faults, keyboards
@pytest.mark.asyncio
async def test_random_faults_are_seeded_and_proportional(bot: Bot, sandbox: SandboxServer) -> None:
    """The fault suite relies on per-call probabilities that replay identically for one seed."""
    sandbox.enforce_flood = False
    alice = sandbox.create_user(1001, "Alice")

    async def run(seed: int) -> list[int]:
        sandbox.clear_faults()
        sandbox.inject_random("sendMessage", {"429": 0.3, "500": 0.2}, seed=seed, retry_after=(1, 3))
        statuses = []
        for i in range(200):
            try:
                await bot.send_message(alice.id, str(i))
                statuses.append(200)
            except RetryAfter as exc:
                assert 1 <= seconds(exc) <= 3
                statuses.append(429)
            except NetworkError:
                statuses.append(500)
        return statuses

    first, again, other = await run(7), await run(7), await run(8)
    assert first == again and first != other
    assert 40 <= first.count(429) <= 80 and 20 <= first.count(500) <= 60
    with pytest.raises(ValueError, match="sum to at most 1"):
        sandbox.inject_random("*", {"429": 0.7, "500": 0.5}, seed=1)
    with pytest.raises(ValueError, match="unknown fault"):
        sandbox.inject_random("*", {"418": 0.1}, seed=1)


@pytest.mark.asyncio
async def test_random_faults_limited_to_chats_and_cleared(bot: Bot, sandbox: SandboxServer) -> None:
    sandbox.enforce_flood = False
    alice, bob = sandbox.create_user(1001, "Alice"), sandbox.create_user(1002, "Bob")
    faults = sandbox.inject_random("sendMessage", {"403": 1.0}, seed=1, chat_ids={bob.id})
    await bot.send_message(alice.id, "fine")
    with pytest.raises(Forbidden):
        await bot.send_message(bob.id, "no")
    assert faults.calls == 1 and faults.hits == {"403": 1} and faults.met == [("403", bob.id)]
    sandbox.clear_faults()
    await bot.send_message(bob.id, "now fine")
    assert [m.text for m in sandbox.messages(bob)] == ["now fine"]


@pytest.mark.asyncio
async def test_inline_keyboard_limits(bot: Bot, sandbox: SandboxServer) -> None:
    """Telegram refuses more than 100 inline buttons or more than 8 in a row (and data over 64 bytes)."""
    alice = sandbox.create_user(1001, "Alice")
    sandbox.enforce_flood = False

    def grid(rows: int, per_row: int) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup([[InlineKeyboardButton(f"{r}.{c}", callback_data=f"{r}.{c}")
                                      for c in range(per_row)] for r in range(rows)])

    await bot.send_message(alice.id, "ok", reply_markup=grid(12, 8))  # 96 buttons
    await bot.send_message(alice.id, "ok", reply_markup=grid(20, 5))  # exactly 100
    for markup in (grid(1, 9), grid(21, 5)):
        with pytest.raises(BadRequest, match=r"(?i)reply markup is too long"):
            await bot.send_message(alice.id, "too many", reply_markup=markup)
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.send_message(alice.id, "x", reply_markup=InlineKeyboardMarkup(
            [[InlineKeyboardButton("big", callback_data="é" * 33)]]))
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(alice.id, "字" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)caption is too long"):
        await bot.send_document(alice.id, b"1", filename="a.txt", caption="字" * 1025)
    assert [m.text for m in sandbox.messages(alice)] == ["ok", "ok"]
