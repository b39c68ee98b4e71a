"""Issue 13, finding 9, in chat through the real `rectbot run`: a registered person's role never changes
silently, and a sender who keeps sending wrong codes is throttled."""

from __future__ import annotations

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
    refusal = admin.wait_for_message().text or ""
    assert refusal == "您已注册为管理员。如需更改身份，请联系管理员。"
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
