"""Issue 13, finding 7, through the real `rectbot run`: a damaged `rectbot.db.state` (garbage, empty,
half-written) no longer stops the bot; it is moved aside with one warning line and the bot answers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot.sandbox import SandboxServer
from tests.e2e.harness import RectbotProcess


def _warnings(bot: RectbotProcess) -> list[str]:
    return [line for line in bot.log().splitlines() if "conversation state" in line and "damaged" in line]


def test_damaged_state_files_are_set_aside_and_the_bot_answers(
    sandbox: SandboxServer, rectbot: Callable[..., RectbotProcess]
) -> None:
    bot = rectbot()
    bot.start()
    liaison = sandbox.create_user(first_name="王芳")
    bot.register(liaison, "liaison", "县教育局")
    assert bot.stop() == 0
    state = Path(f"{bot.database}.state")
    good = state.read_bytes()
    assert good and _warnings(bot) == []

    damages = {"garbage": b"\x00\xff this is not a pickle \x13" * 50, "empty": b"", "truncated": good[: len(good) // 2]}
    for n, (name, content) in enumerate(damages.items(), 1):
        state.write_bytes(content)
        bot.start()
        liaison.send_command("help")
        answer = liaison.wait_for_message(lambda m: "您可以使用以下命令" in (m.text or ""), timeout=15)
        assert "/report" in (answer.text or ""), name
        assert bot.stop() == 0, name
        warnings = _warnings(bot)
        assert len(warnings) == n, (name, warnings)  # one line per damaged start, never a traceback
        assert "Traceback" not in bot.log()
        aside = sorted(p for p in state.parent.iterdir() if p.name.startswith("rectbot.db.state.damaged-"))
        assert len(aside) == n and any(p.read_bytes() == content for p in aside), name
        assert state.exists()  # a good state file was written again

    # The person is still who they were: people live in SQLite, not in the state file.
    bot.start()
    liaison.send_command("whoami")
    assert "县教育局" in (liaison.wait_for_message(lambda m: "县教育局" in (m.text or "")).text or "")
    assert len(_warnings(bot)) == len(damages)
