"""Issue 13, finding 9, in chat through the real `rectbot run`: a registered person's role never changes
silently, and a sender who keeps sending wrong codes is throttled."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from bot.sandbox import SandboxServer
from tests.e2e.harness import RectbotProcess


def test_an_admin_redeeming_a_code_stays_admin_and_guessing_is_throttled(
    sandbox: SandboxServer, rectbot: Callable[..., RectbotProcess]
) -> None:
    admin = sandbox.create_user(first_name="管理员")
    bot = rectbot({"bureau": {"admins": [admin.id]}})
    bot.add_department("县教育局")
    code = bot.invite("liaison", "县教育局")
    bot.start()

    admin.send_command("start", code)
    refusal = admin.wait_for_message()
    assert refusal.text == "您已注册为管理员。\n管理员的身份不会因邀请码而改变。"
    assert refusal.buttons == []  # nothing to confirm: an admin is never lowered
    admin.send_command("whoami")
    assert "角色：管理员" in (admin.wait_for_message().text or "")

    # The code was not spent on the admin: the liaison it was meant for still gets in.
    liaison = sandbox.create_user(first_name="王芳")
    liaison.send_command("start", code)
    assert "县教育局" in (liaison.wait_for_message().text or "")

    guesser = sandbox.create_user(first_name="猜码人")
    for n in range(5):
        guesser.send_command("start", f"wrong-code-{n}")
        assert "邀请码无效" in (guesser.wait_for_message().text or "")
    good = bot.invite("supervisor")
    guesser.send_command("start", good)  # a valid code, but the sender is cooling off
    assert "次数过多" in (guesser.wait_for_message(lambda m: "次数过多" in (m.text or "")).text or "")
    guesser.send_command("whoami")
    assert "邀请码" in (guesser.wait_for_message().text or "")  # still a stranger
    assert good not in bot.log() and code not in bot.log()


def _role_and_audit(bot: RectbotProcess, telegram_id: int) -> tuple[str, list[str]]:
    conn = sqlite3.connect(bot.database, timeout=30)
    try:
        role = conn.execute("SELECT role FROM people WHERE telegram_id = ?", (telegram_id,)).fetchone()[0]
        actions = [r[0] for r in conn.execute("SELECT action FROM audit_log ORDER BY id")]
    finally:
        conn.close()
    return str(role), actions


def test_a_registered_person_is_asked_before_a_code_changes_their_role(
    sandbox: SandboxServer, rectbot: Callable[..., RectbotProcess]
) -> None:
    bot = rectbot()
    bot.add_department("县教育局")
    liaison_code, supervisor_code = bot.invite("liaison", "县教育局"), bot.invite("supervisor")
    bot.start()
    person = sandbox.create_user(first_name="王芳")
    person.send_command("start", liaison_code)
    assert "县教育局" in (person.wait_for_message().text or "")

    person.send_command("start", supervisor_code)
    question = person.wait_for_message(lambda m: "要把您的身份改为" in (m.text or ""))
    assert (question.text or "").startswith("您已注册为县教育局联络员。")
    assert "财政局督办人员" in (question.text or "")
    assert _role_and_audit(bot, person.id)[0] == "liaison"  # asking changes nothing

    person.press(question, "保持现有身份")
    kept = person.wait_for_message(lambda m: "未做任何更改" in (m.text or ""))
    assert "联络员" in (kept.text or "")
    role, actions = _role_and_audit(bot, person.id)
    assert role == "liaison" and "person.role_changed" not in actions
    person.press(question, "更改为新身份")  # the question was answered already: a stale button
    assert _role_and_audit(bot, person.id)[0] == "liaison"

    person.send_command("start", supervisor_code)  # the code was not spent: it can still be confirmed
    again = person.wait_for_message(lambda m: "要把您的身份改为" in (m.text or "") and m is not question)
    person.press(again, "更改为新身份")
    person.wait_for_message(lambda m: "财政局督办人员" in (m.text or "") and "欢迎" in (m.text or ""))
    role, actions = _role_and_audit(bot, person.id)
    assert role == "supervisor" and actions.count("person.role_changed") == 1
    assert supervisor_code not in bot.log() and liaison_code not in bot.log()


def test_start_typed_as_plain_text_is_answered_like_the_command(
    sandbox: SandboxServer, rectbot: Callable[..., RectbotProcess]
) -> None:
    """"/start" without Telegram's command entity (pasted, or a reply to the bot's hint) used to reach no
    handler at all, so a stranger got silence (found by the fuzz suite). Now it is the command."""
    bot = rectbot()
    bot.add_department("县教育局")
    bot.start()
    stranger = sandbox.create_user(first_name="路人")
    stranger.send_text("你好")
    hint = stranger.wait_for_message(lambda m: "邀请码" in m.content)
    stranger.send_text("/start", reply_to=hint)                      # plain text, a reply: the hint again
    assert "邀请码" in stranger.wait_for_message(timeout=15).content
    code = bot.invite("liaison", "县教育局")
    stranger.send_text(f"/start {code}")                              # plain text with the code: registered
    welcome = stranger.wait_for_message(timeout=15)
    assert "欢迎" in welcome.content and "县教育局" in welcome.content
