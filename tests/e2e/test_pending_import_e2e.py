"""Issue 13, finding 11, through the real `rectbot run`: an upload waiting for 导入/取消 leaves no copy behind
once it is replaced or cancelled (copies nobody answers are purged after a day: tests/test_pending_imports.py)."""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.sandbox import SandboxServer, SentMessage
from tests.e2e.harness import RectbotProcess

BAD_ROWS_CSV = ("部门,项目名称,来源,存在问题,反馈文号,期限,涉密\r\n"
                "县教育局,校舍维修,绩效运行监控,维修滞后,盐财监〔2026〕9号,10个工作日,否\r\n"
                "县教育局,图书馆建设,审计,,,,否\r\n").encode()


def waiting_copies(bot: RectbotProcess) -> list[str]:
    folder = bot.workdir / "files" / "imports"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def wait_for_text(sandbox: SandboxServer, user_id: int, message: SentMessage, words: str) -> str:
    deadline = time.monotonic() + 15
    while words not in (text := sandbox.message(user_id, message.message_id).text or ""):
        assert time.monotonic() < deadline, text
        time.sleep(0.1)
    return text


def test_replaced_and_cancelled_uploads_leave_no_copy(
    sandbox: SandboxServer, rectbot: Callable[..., RectbotProcess]
) -> None:
    bot = rectbot()
    bot.add_department("县教育局")
    bot.start()
    supervisor = sandbox.create_user(first_name="督办员")
    bot.register(supervisor, "supervisor")

    supervisor.send_document("台账.csv", BAD_ROWS_CSV)
    first = supervisor.wait_for_message(lambda m: "读取" in (m.text or ""), timeout=15)
    wait_for_text(sandbox, supervisor.id, first, "尚未导入")
    assert len(waiting_copies(bot)) == 1

    supervisor.send_document("台账2.csv", BAD_ROWS_CSV)  # a second upload replaces the first
    second = supervisor.wait_for_message(lambda m: "读取" in (m.text or "") and m.message_id != first.message_id,
                                         timeout=15)
    wait_for_text(sandbox, supervisor.id, second, "尚未导入")
    assert len(waiting_copies(bot)) == 1

    supervisor.press(sandbox.message(supervisor.id, second.message_id), "取消")
    assert "未导入任何" in wait_for_text(sandbox, supervisor.id, second, "取消")
    assert waiting_copies(bot) == []
