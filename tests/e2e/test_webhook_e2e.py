"""telegram.mode = webhook: the bot registers its URL and secret, and answers updates posted to it."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
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


def post_update(url: str, update: dict[str, object], secret: str | None) -> int:
    """POST an update to the bot's webhook as a forger would; the HTTP status."""
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    request = urllib.request.Request(url, data=json.dumps(update).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_webhook_refuses_updates_without_the_secret(
    sandbox: SandboxServer, rectbot: Callable[..., RectbotProcess]
) -> None:
    """Only Telegram knows the secret: a forged update without it, or with a wrong one, is refused
    (403) and never handled; the real ones keep working."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/rectbot-hook"
    bot = rectbot({
        "telegram": {"mode": "webhook"},
        "webhook": {"listen": "127.0.0.1", "port": port, "url": url, "secret_token": "hook-secret-456"},
    })
    bot.start()
    stranger = sandbox.create_user(first_name="路人")
    stranger.send_text("你好")
    stranger.wait_for_message()
    before = len(stranger.messages())

    def forged(update_id: int) -> dict[str, object]:
        who = {"id": stranger.id, "is_bot": False, "first_name": "路人"}
        return {"update_id": update_id, "message": {
            "message_id": 900000 + update_id, "date": int(time.time()), "text": "你好",
            "chat": {"id": stranger.id, "type": "private", "first_name": "路人"}, "from": who}}

    assert post_update(url, forged(990001), None) == 403
    assert post_update(url, forged(990002), "wrong-secret") == 403
    stranger.send_text("你好")      # a real update after the forged ones: once it is answered, they would have been
    stranger.wait_for_message()
    time.sleep(0.5)
    assert len(stranger.messages()) == before + 1, [m.text for m in stranger.messages()[before:]]
    assert "hook-secret-456" not in bot.log()
