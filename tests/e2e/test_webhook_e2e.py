"""telegram.mode = webhook: the bot registers its URL and secret, and answers updates posted to it."""

from __future__ import annotations

import socket
from collections.abc import Callable

from bot.sandbox import SandboxServer
from tests.e2e.harness import RectbotProcess


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_webhook_mode(sandbox: SandboxServer, rectbot: Callable[..., RectbotProcess]) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/rectbot-hook"
    bot = rectbot({
        "telegram": {"mode": "webhook"},
        "webhook": {"listen": "127.0.0.1", "port": port, "url": url, "secret_token": "hook-secret-123"},
    })
    bot.start()
    assert sandbox.webhook_url == url
    liaison = sandbox.create_user(first_name="钱七")
    welcome = bot.register(liaison, "liaison", "县水利局")
    assert "县水利局" in (welcome.text or "")
    stranger = sandbox.create_user(first_name="路人")
    stranger.send_text("你好")
    assert "邀请码" in (stranger.wait_for_message().text or "")
    assert "hook-secret-123" not in bot.log() and sandbox.token not in bot.log()
