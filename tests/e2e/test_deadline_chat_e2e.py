"""/deadline in chat, and a year loaded with the CLI while the bot runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot.sandbox import SandboxServer
from tests.calendar_samples import SAMPLE_2027
from tests.e2e.harness import RectbotProcess


def test_deadline_in_chat_then_calendar_loaded(
    tmp_path: Path, sandbox: SandboxServer, rectbot: Callable[..., RectbotProcess]
) -> None:
    bot = rectbot()
    bot.start()
    user = sandbox.create_user(first_name="联络员")
    bot.register(user, "liaison", "县财政局")

    user.send_command("deadline", "2026年2月12日 7天")
    text = user.wait_for_message().text or ""
    assert "2026年2月24日（星期二）" in text and "2026年2月19日" in text  # moved over Spring Festival

    user.send_command("deadline", "2026-11-28 2m")
    text = user.wait_for_message().text or ""
    assert "2027年1月28日" in text and "暂定" in text

    user.send_command("deadline", "明天 两周")  # the chat's words are understood now (it used to be refused)
    text = user.wait_for_message().text or ""
    assert "用法" not in text and "看不懂" not in text and "日（星期" in text

    toml = tmp_path / "2027.toml"
    toml.write_text(SAMPLE_2027, encoding="utf-8")
    bot.cli("calendar", "load", str(toml))

    def final_answer() -> str | None:
        user.send_command("deadline", "2026-12-30 2wd")
        text = user.wait_for_message().text or ""
        return text if "暂定" not in text else None

    import time

    deadline = time.monotonic() + 15
    answer = None
    while answer is None and time.monotonic() < deadline:
        answer = final_answer()
        time.sleep(0.5)
    # 2026-12-30 + 2 working days, with 2027-01-01..03 off: 12-31, then 01-04.
    assert answer is not None and "2027年1月4日" in answer
    assert sandbox.violations.total == 0
