"""Drive the real `rectbot run` process against the loopback sandbox Bot API, as users would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bot.sandbox import SandboxServer, SandboxUser, SentMessage
from bot.settings import toml_dump

ROOT = Path(__file__).resolve().parents[2]


class RectbotProcess:
    """One bot installation (config, database, evidence folder) and its `rectbot run` process."""

    def __init__(self, workdir: Path, sandbox: SandboxServer, settings: Mapping[str, Mapping[str, Any]]) -> None:
        self.workdir = workdir
        self.sandbox = sandbox
        self.config = workdir / "rectbot.toml"
        self.database = workdir / "rectbot.db"
        base: dict[str, dict[str, Any]] = {
            "telegram": {"token": sandbox.token, "api_url": sandbox.api_url},
            "storage": {"database": str(self.database), "files": str(workdir / "files")},
            "reminders": {"sweep_seconds": 1, "send_window": "00:00-23:59", "working_days_only": False},
        }
        for section, items in settings.items():
            base.setdefault(section, {}).update(items)
        self.settings = base
        self.config.write_text(toml_dump(base), encoding="utf-8")
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "rectbot.log"
        self.starts = 0

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RECTBOT_")}
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "bot", "--config", str(self.config), *args],
            cwd=self.workdir, env=self.env(), capture_output=True, text=True, timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"rectbot {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
        return result

    def start(self, timeout: float = 30, *, args: Sequence[str] = ()) -> RectbotProcess:
        """`rectbot run [args]`, until it polls (or its webhook is set); its stdout and stderr go to the log."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        polls_before = len(self.sandbox.calls("getUpdates"))
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "--config", str(self.config), "run", *args],
            cwd=self.workdir, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
        )
        self.starts += 1
        deadline = time.monotonic() + timeout
        webhook = self.settings.get("telegram", {}).get("mode") == "webhook"

        def ready() -> bool:
            if webhook:
                return self.sandbox.webhook_url == self.settings["webhook"]["url"]
            return len(self.sandbox.calls("getUpdates")) > polls_before

        while not ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"rectbot exited with {self.proc.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"rectbot did not start polling within {timeout} s:\n{self.log()}")
            time.sleep(0.05)
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, like a power cut."""
        self.stop(signal.SIGKILL)

    def restart(self) -> RectbotProcess:
        self.stop()
        return self.start()

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    # --- people ------------------------------------------------------------------------------

    def invite(self, role: str, department: str | None = None) -> str:
        args = ["invite", "--role", role] + (["--department", department] if department else [])
        return self.cli(*args).stdout.strip().splitlines()[-1]

    def add_department(self, name: str) -> None:
        self.cli("department", "add", name)

    def register(self, user: SandboxUser, role: str, department: str | None = None) -> SentMessage:
        """Invite with the CLI and redeem in chat; returns the welcome message."""
        if department is not None and department not in self.cli("department", "list").stdout.splitlines():
            self.add_department(department)
        code = self.invite(role, department)
        user.send_command("start", code)
        return user.wait_for_message(lambda m: "欢迎" in (m.text or "") or "Welcome" in (m.text or ""),
                                     timeout=15)
