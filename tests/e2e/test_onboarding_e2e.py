"""Issue 2, as users would: CLI invitation, /start CODE, strangers, /lang, restarts."""

from __future__ import annotations

from collections.abc import Callable

from bot.sandbox import SandboxServer
from tests.e2e.harness import RectbotProcess


def test_invitation_redeem_refuse_stranger_and_language(
    sandbox: SandboxServer, rectbot: Callable[..., RectbotProcess]
) -> None:
    bot = rectbot()
    bot.add_department("县教育局")
    code = bot.invite("liaison", "县教育局")
    assert code and " " not in code
    bot.start()

    liaison = sandbox.create_user(first_name="王芳")
    liaison.send_command("start", code)
    welcome = liaison.wait_for_message()
    assert "县教育局" in (welcome.text or "") and "联络员" in (welcome.text or "")
    assert "/help" in (welcome.text or "")

    # The same code a second time, by somebody else: refused, nothing bound.
    other = sandbox.create_user(first_name="李雷")
    other.send_command("start", code)
    refusal = other.wait_for_message()
    assert "已被使用" in (refusal.text or "")
    other.send_command("whoami")
    hint = other.wait_for_message()
    assert "邀请码" in (hint.text or "") and "县教育局" not in (hint.text or "")

    # A stranger asking for cases gets the invitation hint and no data.
    stranger = sandbox.create_user(first_name="陌生人")
    stranger.send_command("cases")
    hint = stranger.wait_for_message()
    assert "邀请码" in (hint.text or "") and "/start" in (hint.text or "")
    assert len(stranger.messages()) == 1

    # /lang en switches only that user.
    liaison.send_command("lang", "en")
    assert "English" in (liaison.wait_for_message().text or "")
    liaison.send_command("whoami")
    me = liaison.wait_for_message().text or ""
    assert "Role: liaison officer" in me and "Department: 县教育局" in me
    assert sandbox.commands({"type": "chat", "chat_id": liaison.id})  # menu set for that chat

    other_liaison = sandbox.create_user(first_name="赵敏")
    bot.register(other_liaison, "liaison", "县教育局")
    other_liaison.send_command("whoami")
    assert "角色：联络员" in (other_liaison.wait_for_message().text or "")

    # Secrets never reach the log.
    assert sandbox.token not in bot.log() and code not in bot.log()
    # Default menus exist per language.
    assert sandbox.commands(language_code="zh") and sandbox.commands(language_code="en")


def test_restart_keeps_people_roles_and_invitations(
    sandbox: SandboxServer, rectbot: Callable[..., RectbotProcess]
) -> None:
    bot = rectbot()
    bot.add_department("县卫健局")
    supervisor = sandbox.create_user(first_name="督办员")
    bot.start()
    bot.register(supervisor, "supervisor")
    pending_code = bot.invite("liaison", "县卫健局")
    bot.restart()

    supervisor.send_command("whoami")
    assert "财政局督办人员" in (supervisor.wait_for_message().text or "")
    newcomer = sandbox.create_user(first_name="新联络员")
    newcomer.send_command("start", pending_code)
    assert "县卫健局" in (newcomer.wait_for_message().text or "")

    # A supervisor can invite in chat; the code works once.
    supervisor.send_command("invite", "liaison 县卫健局")
    supervisor.wait_for_message(lambda m: "邀请对象" in (m.text or ""))
    code_message = supervisor.wait_for_message(lambda m: (m.text or "").startswith("/start "))
    chat_code = (code_message.text or "").split()[1]
    bot.kill()
    bot.start()
    third = sandbox.create_user(first_name="第三人")
    third.send_command("start", chat_code)
    assert "县卫健局" in (third.wait_for_message().text or "")
    # Replies of several messages are paced to Telegram's one message per second per chat.
    assert sandbox.violations.total == 0


def test_liaison_cannot_invite(sandbox: SandboxServer, rectbot: Callable[..., RectbotProcess]) -> None:
    bot = rectbot()
    bot.start()
    liaison = sandbox.create_user(first_name="联络员甲")
    bot.register(liaison, "liaison", "县民政局")
    liaison.send_command("invite", "supervisor")
    assert "无权" in (liaison.wait_for_message().text or "")
