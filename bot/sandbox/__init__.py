"""A loopback-only fake Telegram Bot API for end-to-end tests of rectbot.

Typical use::

    with SandboxServer(token="123:ABC", bot_username="rectbot_test") as tg:
        alice = tg.create_user(first_name="Alice")
        # start the bot with base_url=tg.base_url, base_file_url=tg.base_file_url
        alice.send_command("start", "CODE")
        reply = tg.wait_for_message(alice)
        alice.press(reply, "确认")

See :class:`SandboxServer` for reading what the bot did, fault injection
(:meth:`SandboxServer.inject`, :meth:`SandboxServer.inject_random`,
:meth:`SandboxServer.block`) and flood limits
(:mod:`bot.sandbox.flood`).
"""

from .flood import FloodLimiter
from .models import (
    ApiCall,
    CallbackAnswer,
    CallbackQueryRecord,
    CommandsCall,
    Fault,
    FloodViolations,
    MessageEdit,
    RandomFaults,
    SentMessage,
    StoredFile,
)
from .server import LOOPBACK, SandboxServer, SandboxUser

__all__ = [
    "LOOPBACK",
    "ApiCall",
    "CallbackAnswer",
    "CallbackQueryRecord",
    "CommandsCall",
    "Fault",
    "FloodLimiter",
    "FloodViolations",
    "MessageEdit",
    "RandomFaults",
    "SandboxServer",
    "SandboxUser",
    "SentMessage",
    "StoredFile",
]
