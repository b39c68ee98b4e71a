"""Measurements through the real `rectbot run` process against the loopback sandbox (127.0.0.1 only).

A copy of the little of tests/e2e/harness.py that the benchmark needs (bench/ does not import tests/):
a TOML config, the process spawned with this interpreter, readiness = its first getUpdates.
Latency is update → reply as the sandbox sees it: from just before the update is queued to the
moment the bot's sendMessage reached the sandbox (both on this process's monotonic clock).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bot.sandbox import SandboxServer, SentMessage
from bot.settings import toml_dump

ROOT = Path(__file__).resolve().parents[1]


class Bot:
    """One `rectbot run` over an existing database."""

    def __init__(self, workdir: Path, sandbox: SandboxServer, database: Path) -> None:
        self.workdir, self.sandbox, self.database = workdir, sandbox, database
        workdir.mkdir(parents=True, exist_ok=True)
        self.config = workdir / "rectbot.toml"
        self.config.write_text(toml_dump({
            "telegram": {"token": sandbox.token, "api_url": sandbox.api_url},
            "storage": {"database": str(database), "files": str(workdir / "files")},
            "reminders": {"sweep_seconds": 5, "send_window": "00:00-23:59", "working_days_only": False},
            "escalation": {"digest_time": "00:00"},
        }), encoding="utf-8")
        self.log_path = workdir / "rectbot.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120) -> float:
        """Spawn and wait for the first getUpdates; returns the seconds that took."""
        polls = len(self.sandbox.calls("getUpdates"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("RECTBOT_")}
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        env["PYTHONUNBUFFERED"] = "1"
        t0 = time.monotonic()
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "bot", "--config", str(self.config), "run"],
                                         cwd=self.workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
        while len(self.sandbox.calls("getUpdates")) <= polls:
            if self.proc.poll() is not None:
                raise RuntimeError(f"rectbot exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            if time.monotonic() - t0 > timeout:
                raise RuntimeError(f"rectbot did not poll within {timeout} s:\n{self.log()[-3000:]}")
            time.sleep(0.005)
        return time.monotonic() - t0

    def started(self) -> dict[str, str]:
        """The fields of the bot's latest `rectbot started` line (what opening cost, since when), as text
        (the log is appended to, so a kept work folder holds earlier starts too)."""
        for line in reversed(self.log().splitlines()):
            if "rectbot started " in line:
                return dict(f.split("=", 1) for f in line.split("rectbot started ", 1)[1].split() if "=" in f)
        return {}

    def peak_rss_mb(self) -> float | None:
        if self.proc is None or self.proc.poll() is not None:
            return None
        try:
            with open(f"/proc/{self.proc.pid}/status", encoding="ascii") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""


def request(sandbox: SandboxServer, user_id: int, command: str, args: str,
            match: Callable[[SentMessage], bool], timeout: float = 60) -> float | None:
    """Send one command and wait for the reply that `match`es; its latency in ms, None if unanswered."""
    sandbox.mark_read(user_id)
    t0 = time.monotonic()
    sandbox.send_command(user_id, command, args)
    try:
        reply = sandbox.wait_for_message(user_id, match, timeout)
    except TimeoutError:
        return None
    return (reply.sent_at - t0) * 1000


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def case_match(case_id: int) -> Callable[[SentMessage], bool]:
    """The /case reply names the case's project (项目NNNNNNN for case NNNNNNN+1, see bench/data.py)."""
    project = f"项目{case_id - 1:07d}"
    return lambda m: project in (m.text or "") or "抱歉" in (m.text or "")


def any_reply(m: SentMessage) -> bool:
    return True


CHAT_SPACING = 1.1   # s between two requests of one user: the bot may send one message a second per chat
REQUEST_GAP = 0.1    # s between two requests overall (10 users a second, well under the 30/s bot limit)


class Users:
    """Round-robin over users so that no chat's one-message-a-second limit is what we measure."""

    def __init__(self, ids: list[int]) -> None:
        self.ids = ids
        self.last = {i: 0.0 for i in ids}
        self.n = 0

    def next(self) -> int:
        uid = self.ids[self.n % len(self.ids)]
        self.n += 1
        wait = self.last[uid] + CHAT_SPACING - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self.last[uid] = time.monotonic()
        return uid


def case_latencies(sandbox: SandboxServer, users: Users, case_ids: list[int], rounds: int,
                   *, until: float | None = None) -> tuple[list[float], int]:
    """/case N for the sample ids, `rounds` times (or until the monotonic `until`); (latencies, unanswered)."""
    got: list[float] = []
    missed = 0
    n = 0
    while (until is None and n < rounds * len(case_ids)) or (until is not None and time.monotonic() < until):
        cid = case_ids[n % len(case_ids)]
        n += 1
        ms = request(sandbox, users.next(), "case", str(cid), case_match(cid), timeout=30 if until is None else 60)
        if ms is None:
            missed += 1
        else:
            got.append(ms)
        time.sleep(REQUEST_GAP)
    return got, missed


def mixed_latencies(sandbox: SandboxServer, pools: dict[str, tuple[Users, list[int]]], until: float,
                    ) -> dict[str, tuple[list[float], int]]:
    """/case N alternating between pools of users until the monotonic `until`; per pool (latencies, unanswered)."""
    out: dict[str, tuple[list[float], int]] = {name: ([], 0) for name in pools}
    n = 0
    names = list(pools)
    while time.monotonic() < until:
        name = names[n % len(names)]
        users, ids = pools[name]
        cid = ids[(n // len(names)) % len(ids)]
        n += 1
        ms = request(sandbox, users.next(), "case", str(cid), case_match(cid), timeout=60)
        got, missed = out[name]
        if ms is None:
            out[name] = (got, missed + 1)
        else:
            got.append(ms)
        time.sleep(REQUEST_GAP)
    return out


def delivered_rate(sandbox: SandboxServer, chats: set[int], since: float) -> tuple[int, float]:
    """Messages the bot sent to `chats` since `since` (monotonic) and their rate, first to last."""
    times = sorted(m.sent_at for m in sandbox.messages() if m.from_bot and m.chat_id in chats and m.sent_at >= since)
    if len(times) < 2 or times[-1] <= times[0]:
        return len(times), 0.0
    return len(times), (len(times) - 1) / (times[-1] - times[0])
