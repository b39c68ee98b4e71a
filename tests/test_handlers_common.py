"""The per-update context: a button press is answered once, a domain refusal is answered politely."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from telegram import CallbackQuery, Chat, Message, MessageEntity, Update, User
from telegram.constants import ChatType
from telegram.ext import Application, ContextTypes

from bot.errors import DomainError
from handlers.common import (
    STALE_BUTTON,
    RectbotContext,
    ack,
    addressed_to_bot,
    guarded,
    markup,
    pressed_page,
    refuse,
    reply,
    translator,
)


@pytest.fixture
def app() -> Application:
    return Application.builder().token("1:TEST").context_types(ContextTypes(context=RectbotContext)).build()


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str | None, bool]]:
    calls: list[tuple[str | None, bool]] = []

    async def answer(self: CallbackQuery, text: str | None = None, show_alert: bool = False, **_: Any) -> bool:
        calls.append((text, show_alert))
        return True

    monkeypatch.setattr(CallbackQuery, "answer", answer)
    return calls


def press(data: str) -> Update:
    user = User(7, "联络员", False)
    return Update(1, callback_query=CallbackQuery("q1", user, "chat", data=data))


def test_the_application_builds_rectbot_contexts(app: Application) -> None:
    context = app.context_types.context.from_update(press("rv:close:1"), app)
    assert isinstance(context, RectbotContext)
    assert context.person is None and not context.answered


async def test_a_press_is_answered_once(app: Application, answers: list[tuple[str | None, bool]]) -> None:
    update = press("rv:close:1")
    context = RectbotContext(app, user_id=7)
    await ack(update, context, "first")
    await ack(update, context, "second")
    await refuse(update, context, "too late for an alert")  # no chat to send it to either
    assert answers == [("first", False)]
    await ack(update, RectbotContext(app, user_id=7), "another update's context")
    assert answers[-1] == ("another update's context", False)


async def test_guarded_refuses_and_can_end_a_conversation(
    app: Application, answers: list[tuple[str | None, bool]]
) -> None:
    @guarded
    async def plain(update: Update, context: RectbotContext) -> int:
        raise DomainError(STALE_BUTTON)

    @guarded(on_refusal=-1, forget="review")
    async def step(update: Update, context: RectbotContext) -> int:
        raise DomainError(STALE_BUTTON)

    context = RectbotContext(app, user_id=7)
    assert await plain(press("x"), context) is None
    assert answers == [(translator(None)._(STALE_BUTTON), True)]  # an alert, in the default language
    context = RectbotContext(app, user_id=7)
    assert context.user_data is not None
    context.user_data["review"] = {"report_id": 1}
    assert await step(press("x"), context) == -1
    assert "review" not in context.user_data


def group_message(text: str, *, command: bool = False, reply_to_bot: bool = False) -> Message:
    chat = Chat(-100, ChatType.GROUP)
    entities = [MessageEntity(MessageEntity.BOT_COMMAND, 0, len(text.split()[0]))] if command else []
    bot_said = Message(1, datetime.now(UTC), chat, from_user=User(BOT_ID, "rectbot", True), text="…")
    return Message(2, datetime.now(UTC), chat, from_user=User(7, "联络员", False), text=text,
                   entities=entities, reply_to_message=bot_said if reply_to_bot else None)


BOT_ID = 4242


@pytest.mark.parametrize(("message", "addressed"), [
    (group_message("/case 1", command=True), True),
    (group_message("/case@rectbot_test 1", command=True), True),
    (group_message("/case@other_bot 1", command=True), False),
    (group_message("这个怎么用？", reply_to_bot=True), True),
    (group_message("大家看一下 /case 1"), False),  # chatter (no command entity at the start)
    (group_message("今天开会"), False),
])
def test_only_commands_and_replies_to_the_bot_are_addressed_to_it(message: Message, addressed: bool) -> None:
    """In groups the bot answers those (with one line) and stays silent on everything else."""
    assert addressed_to_bot(message, BOT_ID, "RectBot_Test") is addressed


async def test_reply_splits_long_text_at_line_ends_with_the_keyboard_last(
        app: Application, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple[str, Any]] = []

    async def send_message(self: Chat, text: str, reply_markup: Any = None, **_: Any) -> None:
        sent.append((text, reply_markup))

    monkeypatch.setattr(Chat, "send_message", send_message)
    chat = Chat(7, ChatType.PRIVATE)
    update = Update(1, message=Message(1, datetime.now(UTC), chat, from_user=User(7, "联络员", False), text="/x"))
    lines = [f"{i:04d} " + "整改" * 40 for i in range(120)]
    keyboard = markup([[("下一页 ▶", "pg:cases:2")]])
    await reply(update, RectbotContext(app, user_id=7), "\n".join(lines), reply_markup=keyboard)
    assert len(sent) == 3 and all(len(text) <= 4096 for text, _ in sent)
    assert "\n".join(text for text, _ in sent).split("\n") == lines   # never cut mid-line
    assert [m for _, m in sent] == [None, None, keyboard]


@pytest.mark.parametrize("data", ["pg:todo:x", "pg:status:2", "garbage", "pg:todo"])
def test_a_forged_or_foreign_page_press_is_a_stale_button(data: str) -> None:
    with pytest.raises(DomainError) as refused:
        pressed_page(press(data), "todo")
    assert refused.value.args[0] == STALE_BUTTON


def test_a_page_press_of_the_listing_gives_its_page_number() -> None:
    assert pressed_page(press("pg:todo:3"), "todo").number() == 3
    assert pressed_page(press("pg:sdept:7:2"), "status", "sdept").number(0) == 7
