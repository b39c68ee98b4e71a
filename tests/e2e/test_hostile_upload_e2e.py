"""Issue 13's hostile-files set through the real `rectbot run`: each file refused or imported safely, the bot's
peak memory stays under 300 MB, and another person's /help is answered within 2 s while imports run."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bot.sandbox import SandboxServer, SandboxUser, SentMessage
from tests.e2e.harness import RectbotProcess
from tests.test_hostile_sheets import DATA_ROW, HEADER_ROW, MIB, dimension_bomb, handmade_xlsx
from tests.test_ledger import sample_rows, xlsx_bytes

RSS_LIMIT_MB = 300
HELP_LIMIT_S = 2.0


def status_kb(pid: int, field: str) -> int:
    """VmHWM (peak) or VmRSS of a process, in kB; 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    """Direct children of `pid` (the capped worker processes that parse uploads)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


class MemoryWatch(threading.Thread):
    """Samples the bot's and its workers' peak resident memory until stopped (bounded: 50 ms steps)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_bot_kb, self.peak_worker_kb, self.workers_seen = pid, 0, 0, 0
        self._halt = threading.Event()
        self._seen: set[int] = set()

    def run(self) -> None:
        while not self._halt.wait(0.05):
            self.peak_bot_kb = max(self.peak_bot_kb, status_kb(self.pid, "VmHWM"))
            for child in children(self.pid):
                self._seen.add(child)
                self.peak_worker_kb = max(self.peak_worker_kb, status_kb(child, "VmHWM"))
        self.workers_seen = len(self._seen)

    def stop(self) -> None:
        self._halt.set()
        self.join(5)


def final_status(sandbox: SandboxServer, user: SandboxUser, first: SentMessage, done: Callable[[str], bool],
                 timeout: float = 60) -> str:
    """The import's one status message, edited as it goes, once it says it is finished."""
    deadline = time.monotonic() + timeout
    while not done(text := sandbox.message(user, first.message_id).text or ""):
        assert time.monotonic() < deadline, text
        time.sleep(0.1)
    return text


def case_count(bot: RectbotProcess) -> int:
    conn = sqlite3.connect(bot.database, timeout=30)
    try:
        return int(conn.execute("SELECT count(*) FROM cases").fetchone()[0])
    finally:
        conn.close()


def test_hostile_uploads_are_refused_or_imported_safely_and_others_are_answered(
    sandbox: SandboxServer, rectbot: Callable[..., RectbotProcess]
) -> None:
    bot = rectbot()
    bot.add_department("县教育局")
    bot.start()
    supervisor, liaison = sandbox.create_user(first_name="督办员"), sandbox.create_user(first_name="联络员")
    bot.register(supervisor, "supervisor")
    bot.register(liaison, "liaison", "县教育局")
    assert bot.proc is not None
    watch = MemoryWatch(bot.proc.pid)
    watch.start()

    help_waits: list[float] = []
    stop_help = threading.Event()

    def ask_for_help() -> None:  # another person keeps using the bot meanwhile (bounded: ≤ 60 asks)
        for _ in range(60):
            if stop_help.is_set():
                return
            asked = time.monotonic()
            liaison.send_command("help")
            liaison.wait_for_message(timeout=10)  # the next unread reply: this /help's
            help_waits.append(time.monotonic() - asked)
            time.sleep(0.3)

    helper = threading.Thread(target=ask_for_help, daemon=True)
    helper.start()
    files: list[tuple[str, bytes, Callable[[str], bool], str]] = [
        # (file name, content, when the status is final, what it must say)
        ("台账-大.xlsx", xlsx_bytes(sample_rows(5000)), lambda s: "已导入" in s, "已导入 5000 件"),
        ("维度炸弹.xlsx", dimension_bomb(), lambda s: "已导入" in s or "尚未导入" in s, "已导入 1 件"),
        ("压缩炸弹.xlsx", handmade_xlsx(HEADER_ROW + DATA_ROW, extra={"xl/media/image1.bin": bytes(150 * MIB)}),
         lambda s: "100 MB" in s, "100 MB"),
        ("超长字段.csv", ("部门,项目名称,来源,存在问题\r\n县教育局,校舍维修,绩效运行监控," + "问" * 200_000 + "\r\n")
         .encode(), lambda s: "个字符" in s, "个字符"),
        ("latin1.csv", "Département,Projet\r\nCafé Müller,Déjà vu à Saint-Étienne\r\n".encode("latin-1"),
         lambda s: "UTF-8" in s, "UTF-8"),
    ]
    outcomes = []
    try:
        for name, data, done, expected in files:
            sent_before = case_count(bot)
            supervisor.send_document(name, data)
            first = supervisor.wait_for_message(lambda m, n=name: n in (m.text or ""), timeout=20)
            text = final_status(sandbox, supervisor, first, done)
            assert expected in text, (name, text)
            outcomes.append((name, len(data), case_count(bot) - sent_before, text.splitlines()[-1][:60]))
    finally:
        stop_help.set()
        helper.join(30)
        watch.stop()
    for name, size, added, last in outcomes:
        print(f"{name}: {size} bytes → {added} case(s) added; {last}")
    print(f"bot peak RSS {watch.peak_bot_kb / 1024:.0f} MB, workers' peak {watch.peak_worker_kb / 1024:.0f} MB "
          f"({watch.workers_seen} worker(s) seen); /help answered {len(help_waits)} times, slowest "
          f"{max(help_waits):.2f} s")
    assert [added for _n, _s, added, _l in outcomes] == [5000, 1, 0, 0, 0]
    assert 0 < watch.peak_bot_kb < RSS_LIMIT_MB * 1024
    assert watch.peak_worker_kb < RSS_LIMIT_MB * 1024
    assert len(help_waits) >= 5 and max(help_waits) < HELP_LIMIT_S, help_waits
    assert "Traceback" not in bot.log()
