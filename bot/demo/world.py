"""The demo's stage: the sandbox, the real bot process, the simulated clock, the people and the transcript.

Why a separate process: the demo drives the real `python -m bot run` exactly as Telegram would (it
is a client of the sandbox, never of the database). The operator's set-up (departments and
invitation codes) runs before the bot starts, through the same `bot.people` functions `rectbot
department add` and `rectbot invite` call. Days pass without a restart: the bot's clock follows
`testing.clock_file` (bot.clock.FileClock), which the demo moves forward.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from bot.clock import FileClock, iso, write_clock_file
from bot.i18n import Translator, translator_for_locale
from bot.people import add_department, create_invitation
from bot.sandbox import SandboxServer, SandboxUser, SentMessage
from bot.settings import toml_dump
from storage import summary
from storage.db import Database

ROOT = Path(__file__).resolve().parents[2]
BEIJING = ZoneInfo("Asia/Shanghai")
WAIT = 30.0   # seconds for any one reply: generous, a loaded machine is slow


class DemoError(Exception):
    """The story could not go on (the bot did not answer as expected): printed, exit 1."""


Expect = str | Callable[[SentMessage], bool]


def has(*parts: Expect) -> Callable[[SentMessage], bool]:
    """Every text part is in the message, every predicate holds."""
    return lambda m: all(p(m) if callable(p) else p in m.content for p in parts)


def button(label: str, after: SentMessage | None = None) -> Callable[[SentMessage], bool]:
    """A message with that button (newer than `after`): a card opened again, not the one pushed before."""
    return lambda m: (any(text == label for text, _ in m.buttons)
                      and (after is None or m.message_id > after.message_id))


@dataclass
class Transcript:
    """What was said, as a reader follows it: simulated time, who, what; written to the terminal and a file.

    `bot(…, numbered=True)` (the interactive player's own chat) shows buttons as [1 label], to tap by number.
    """

    out: TextIO
    color: bool
    pause: float
    t: Translator
    lines: list[str] = field(default_factory=list)

    def save(self, path: Path) -> None:
        path.write_text("\n".join(self.lines) + "\n", encoding="utf-8")

    def _emit(self, plain: str, code: str = "") -> None:
        self.lines.append(plain)
        self.out.write(f"\033[{code}m{plain}\033[0m\n" if self.color and code else plain + "\n")
        self.out.flush()
        if self.pause:
            time.sleep(self.pause)

    def chapter(self, title: str) -> None:
        self._emit("")
        self._emit(f"══ {title} ══", "1;36")

    def note(self, text: str) -> None:
        self._emit(self.t._("   ({text})").format(text=text), "2")

    def said(self, when: str, who: str, what: str) -> None:
        first, *rest = what.splitlines() or [""]
        self._emit(self.t._("[{when}] {who}: {what}").format(when=when, who=who, what=first), "1;33")
        for line in rest:
            self._emit(f"      {line}", "1;33")

    def bot(self, when: str, to: str, m: SentMessage, numbered: bool = False) -> None:
        body = m.content or ""
        if m.document is not None:
            body = f"📎 {m.document.file_name or ''}\n{body}".rstrip()
        lines = body.splitlines() or [""]
        self._emit(self.t._("[{when}] Bot → {who}: {what}").format(when=when, who=to, what=lines[0]), "32")
        for line in lines[1:]:
            self._emit(f"      {line}", "32")
        labels = [label for label, _data in m.buttons]
        if labels and numbered:
            self._emit("      " + " ".join(f"[{i} {label}]" for i, label in enumerate(labels, 1)), "34")
        elif labels:
            self._emit("      " + " ".join(f"[{label}]" for label in labels), "34")


class World:
    """The sandbox, the bot process, its config, the simulated clock and the simulated people."""

    def __init__(self, workdir: Path, transcript: Transcript, start: datetime, lang: str = "zh_CN") -> None:
        self.workdir = workdir
        self.t = transcript
        self.tr = transcript.t
        self.lang = lang
        # The loopback sandbox is no Telegram: no flood limits, and the bot paces chats at 0.05 s
        # (testing.chat_interval) instead of Telegram's 1 s, so the story is not a minute of waiting.
        self.sandbox = SandboxServer(enforce_flood=False).start()
        self.config = workdir / "rectbot.toml"
        self.database = workdir / "rectbot.db"
        self.clock_path = workdir / "clock"
        self.settings: dict[str, dict[str, Any]] = {
            "telegram": {"token": self.sandbox.token, "api_url": self.sandbox.api_url},
            "storage": {"database": str(self.database), "files": str(workdir / "files")},
            "reminders": {"sweep_seconds": 1},
            "ladder": {"refresh_seconds": 1},
            "testing": {"clock_start": start.isoformat(), "clock_file": str(self.clock_path),
                        "chat_interval": 0.05},
        }
        write_clock_file(self.clock_path, start)
        self.clock = FileClock(self.clock_path, start)
        self.proc: subprocess.Popen[bytes] | None = None
        self.player: int | None = None       # the interactive player's chat: its buttons are numbered
        self.names: dict[int, str] = {}
        self.shown: set[tuple[int, int]] = set()
        self.log_path = workdir / "rectbot.log"
        self.config.write_text(toml_dump(self.settings), encoding="utf-8")

    def L(self, zh: str, en: str) -> str:
        """What the people type and the bot's words awaited, in the demo's language."""
        return en if self.lang == "en" else zh

    # --- the operator's set-up, before the bot starts -----------------------------------------

    def setup(self, departments: Sequence[str], invitations: Sequence[tuple[str, str | None]]) -> list[str]:
        """Departments and one-time invitation codes, through the functions the CLI commands call."""

        async def go() -> list[str]:
            db = await Database.open(self.database)
            try:
                now = self.clock.now()
                for name in departments:
                    await add_department(db, name, actor=None, now=now)
                codes = []
                for role, department in invitations:
                    issued = await create_invitation(db, role=role, department_name=department, actor=None,
                                                     now=now, valid_days=30)
                    codes.append(issued.code)
                return codes
            finally:
                await db.close()

        return asyncio.run(go())

    # --- the process -------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RECTBOT_")}
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def start(self) -> None:
        """Start `rectbot run` and wait until it polls the sandbox."""
        polls = len(self.sandbox.calls("getUpdates"))
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "bot", "--config", str(self.config), "run"],
                                         cwd=self.workdir, env=self.env(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while len(self.sandbox.calls("getUpdates")) <= polls:
            if self.proc.poll() is not None:
                raise DemoError(f"rectbot run exited {self.proc.returncode}:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise DemoError(f"rectbot run did not start:\n{self.tail()}")
            time.sleep(0.05)

    def travel(self, instant: datetime) -> None:
        """Move the simulated clock forward to `instant`; the running bot's jobs see it within a second."""
        self.drain()
        write_clock_file(self.clock_path, instant)

    def drain(self) -> None:
        """Wait until the bot's outbox has sent what is due now (at most 30 s), as it would in real time,
        and print it: a notice written today must not be delivered, and read, on a later simulated day."""
        deadline = time.monotonic() + 30
        while asyncio.run(summary.notifications_waiting(self.database, iso(self.clock.now()))) \
                and time.monotonic() < deadline:
            time.sleep(0.2)
        self.settle(quiet=0.3)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def close(self) -> None:
        self.stop()
        self.sandbox.stop()

    def __enter__(self) -> World:
        return self

    def __exit__(self, *exc: object) -> None:
        """Stopped and its transcript kept however the play ended (a DemoError, Ctrl-C, the end)."""
        self.close()
        self.t.save(self.workdir / "transcript.txt")

    def tail(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-3000:] if self.log_path.exists() else ""

    def now(self) -> str:
        """The bot's simulated time, as the transcript shows it."""
        return self.clock.now().astimezone(BEIJING).strftime("%m-%d %H:%M")

    # --- people ------------------------------------------------------------------------------

    def person(self, name: str) -> SandboxUser:
        user = self.sandbox.create_user(first_name=name)
        self.names[user.id] = name
        return user

    def flush(self) -> None:
        """Print every bot message not shown yet (reminders and digests arrive unasked)."""
        for m in self.sandbox.messages():
            key = (m.chat_id, m.message_id)
            if key not in self.shown:
                self.shown.add(key)
                self.t.bot(self.now(), self.names.get(m.chat_id, str(m.chat_id)), m, m.chat_id == self.player)

    def wait(self, user: SandboxUser, predicate: Callable[[SentMessage], bool], timeout: float = WAIT) -> SentMessage:
        try:
            m = user.wait_for_message(predicate, timeout=timeout)
        except (AssertionError, TimeoutError) as exc:
            self.flush()
            raise DemoError(f"{self.names[user.id]} did not get the expected answer ({exc})\n{self.tail()}") from exc
        self.flush()
        return m

    def settle(self, quiet: float = 0.6, limit: float = 5.0) -> None:
        """Wait until the bot has been quiet for `quiet` seconds (at most `limit`), then print what came."""
        deadline = time.monotonic() + limit
        count, since = len(self.sandbox.messages()), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.1)
            now_count = len(self.sandbox.messages())
            if now_count != count:
                count, since = now_count, time.monotonic()
            elif time.monotonic() - since >= quiet:
                break
        self.flush()

    def send(self, user: SandboxUser, text: str) -> None:
        """The person types `text` (a /command is sent as a command, as Telegram clients do)."""
        self.t.said(self.now(), self.names[user.id], text)
        if text.startswith("/"):
            command, _, args = text[1:].partition(" ")
            user.send_command(command, args)
        else:
            user.send_text(text)

    def say(self, user: SandboxUser, text: str, *parts: Expect) -> SentMessage:
        self.send(user, text)
        return self.wait(user, has(*parts))

    def press(self, user: SandboxUser, message: SentMessage, label: str) -> None:
        self.t.said(self.now(), self.names[user.id], self.tr._("taps [{label}]").format(label=label))
        try:
            user.press(message, label)
        except KeyError as exc:
            raise DemoError(str(exc)) from None

    def tap(self, user: SandboxUser, message: SentMessage, label: str, *parts: Expect) -> SentMessage:
        self.press(user, message, label)
        return self.wait(user, has(*parts))

    def upload(self, user: SandboxUser, name: str, data: bytes, mime: str, *parts: Expect) -> SentMessage:
        self.t.said(self.now(), self.names[user.id], self.tr._("sends the file 📎 {name}").format(name=name))
        user.send_document(name, data, mime)
        return self.wait(user, has(*parts))

    def edited(self, user: SandboxUser, text: str, timeout: float = WAIT) -> SentMessage:
        """The user's latest message once an edit says `text` (an import's report is one message edited as it goes)."""
        deadline = time.monotonic() + timeout
        while True:
            for m in reversed(self.sandbox.messages(user.id)):
                if text in m.content:
                    self.flush()
                    self.t.bot(self.now(), self.names[user.id], m)
                    return m
            if time.monotonic() > deadline:
                seen = [m.content[:200] for m in self.sandbox.messages(user.id)[-3:]]
                raise DemoError(f"{self.names[user.id]} never read {text!r}: {seen}\n{self.tail()}")
            time.sleep(0.1)


def demo_translator(lang: str) -> Translator:
    """The narration's language: zh_CN (the default) or en."""
    return translator_for_locale("en" if lang == "en" else "zh_CN")
