"""`rectbot demo`: the whole story played against the loopback Bot API sandbox, for a newcomer.

Why a separate process: the demo drives the real `python -m bot run` exactly as Telegram would (it is
a client of the sandbox, never of the database); only the administrator's CLI commands (`invite`,
`department add`, `import`, `export`) are run as an operator would run them. Days pass by restarting
the bot with a later `testing.clock_start`, as the e2e tests of bulletins do.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import openpyxl

from bot.sandbox import SandboxServer, SandboxUser, SentMessage

ROOT = Path(__file__).resolve().parents[1]
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <</Type /Catalog>> endobj\ntrailer <<>>\n%%EOF\n"
EDU, HEALTH, WATER = "县教育局", "县卫健局", "县水利局"
WAIT = 30.0   # seconds for any one reply: generous, a loaded machine is slow


class DemoError(Exception):
    """The story could not go on (the bot did not answer as expected): printed, exit 1."""


def toml_dump(data: Mapping[str, Mapping[str, Any]]) -> str:
    """Just enough TOML for rectbot's flat sections (no dependency for writing TOML)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return str(v)
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    out = []
    for section, items in data.items():
        out.append(f"[{section}]")
        out.extend(f"{k} = {value(v)}" for k, v in items.items())
        out.append("")
    return "\n".join(out)


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
    """What was said, as a reader follows it: simulated time, who, what; written to the terminal and a file."""

    out: TextIO
    color: bool
    pause: float
    lines: list[str] = field(default_factory=list)

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
        self._emit(f"   （{text}）", "2")

    def said(self, when: str, who: str, what: str) -> None:
        first, *rest = what.splitlines() or [""]
        self._emit(f"[{when}] {who}：{first}", "1;33")
        for line in rest:
            self._emit(f"      {line}", "1;33")

    def bot(self, when: str, to: str, m: SentMessage) -> None:
        body = m.content or ""
        if m.document is not None:
            body = f"📎 {m.document.file_name or ''}\n{body}".rstrip()
        lines = body.splitlines() or [""]
        self._emit(f"[{when}] 机器人 → {to}：{lines[0]}", "32")
        for line in lines[1:]:
            self._emit(f"      {line}", "32")
        labels = [label for label, _data in m.buttons]
        if labels:
            self._emit("      " + " ".join(f"[{label}]" for label in labels), "34")


class World:
    """The sandbox, the bot process, its config and the simulated people."""

    def __init__(self, workdir: Path, transcript: Transcript) -> None:
        self.workdir = workdir
        self.t = transcript
        self.sandbox = SandboxServer().start()
        self.config = workdir / "rectbot.toml"
        self.database = workdir / "rectbot.db"
        self.settings: dict[str, dict[str, Any]] = {
            "telegram": {"token": self.sandbox.token, "api_url": self.sandbox.api_url},
            "storage": {"database": str(self.database), "files": str(workdir / "files")},
            "reminders": {"sweep_seconds": 1},
            "ladder": {"refresh_seconds": 1},
            "testing": {"clock_start": "2026-03-02T09:30:00+08:00"},
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = time.monotonic()
        self.names: dict[int, str] = {}
        self.shown: set[tuple[int, int]] = set()
        self.log_path = workdir / "rectbot.log"
        self.config.write_text(toml_dump(self.settings), encoding="utf-8")

    # --- the process -------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RECTBOT_")}
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def cli(self, *args: str) -> str:
        """An operator's `rectbot` command against the same configuration."""
        result = subprocess.run([sys.executable, "-m", "bot", "--config", str(self.config), *args],
                                cwd=self.workdir, env=self.env(), capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise DemoError(f"rectbot {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def start(self, clock: str) -> None:
        """(Re)start `rectbot run` with the simulated clock at `clock` and wait until it polls."""
        self.stop()
        self.settings["testing"]["clock_start"] = clock
        self.config.write_text(toml_dump(self.settings), encoding="utf-8")
        polls = len(self.sandbox.calls("getUpdates"))
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "bot", "--config", str(self.config), "run"],
                                         cwd=self.workdir, env=self.env(), stdout=log, stderr=subprocess.STDOUT)
        self.started_at = time.monotonic()
        self.clock = datetime.fromisoformat(clock)
        deadline = time.monotonic() + 60
        while len(self.sandbox.calls("getUpdates")) <= polls:
            if self.proc.poll() is not None:
                raise DemoError(f"rectbot run exited {self.proc.returncode}:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise DemoError(f"rectbot run did not start:\n{self.tail()}")
            time.sleep(0.05)

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

    def tail(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-3000:] if self.log_path.exists() else ""

    def now(self) -> str:
        """The bot's simulated time (its clock runs at real speed from clock_start)."""
        return (self.clock + timedelta(seconds=time.monotonic() - self.started_at)).strftime("%m-%d %H:%M")

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
                self.t.bot(self.now(), self.names.get(m.chat_id, str(m.chat_id)), m)

    def wait(self, user: SandboxUser, predicate: Callable[[SentMessage], bool], timeout: float = WAIT) -> SentMessage:
        try:
            m = user.wait_for_message(predicate, timeout=timeout)
        except (AssertionError, TimeoutError) as exc:
            self.flush()
            raise DemoError(f"{self.names[user.id]} did not get the expected answer ({exc})\n{self.tail()}") from exc
        self.flush()
        return m

    def say(self, user: SandboxUser, text: str, *parts: Expect) -> SentMessage:
        self.t.said(self.now(), self.names[user.id], text)
        if text.startswith("/"):
            command, _, args = text[1:].partition(" ")
            user.send_command(command, args)
        else:
            user.send_text(text)
        return self.wait(user, has(*parts))

    def tap(self, user: SandboxUser, message: SentMessage, label: str, *parts: Expect) -> SentMessage:
        self.t.said(self.now(), self.names[user.id], f"点按 [{label}]")
        user.press(message, label)
        return self.wait(user, has(*parts))

    def upload(self, user: SandboxUser, name: str, data: bytes, mime: str, *parts: Expect) -> SentMessage:
        self.t.said(self.now(), self.names[user.id], f"上传文件 📎 {name}")
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

    def register(self, user: SandboxUser, role: str, department: str | None = None) -> None:
        args = ["invite", "--role", role] + (["--department", department] if department else [])
        code = self.cli(*args).strip().splitlines()[-1]
        self.t.note(f"管理员用 rectbot invite 为{self.names[user.id]}生成邀请码，私下转交")
        self.say(user, f"/start {code}", "欢迎")


def ledger_xlsx() -> bytes:
    """The ledger (整改台账) the bureau keeps in Excel: two more cases, for 卫健局 and 水利局."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["部门", "项目名称", "来源", "评价等级", "存在问题", "整改建议", "反馈文号", "收到反馈日期",
                  "整改期限"])
    sheet.append([HEALTH, "基本公共卫生服务补助", "绩效评价", "中", "绩效目标不明确", "细化绩效指标",
                  "海财绩〔2026〕15号", "2026-01-05", "2026-03-04"])
    sheet.append([WATER, "农村饮水安全工程", "绩效评价", "良", "项目档案不全", "补齐验收资料",
                  "海财绩〔2026〕16号", "2026-01-10", "2026-04-30"])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def ledger_file(name: str) -> bool:
    """The exported ledger, not the bulletin's sheet nor evidence files sent earlier."""
    return name.endswith(".xlsx") and "通报" not in name


def play(world: World, out: Path) -> dict[str, int]:
    """The story, chapter by chapter; returns the figures of the summary."""
    t = world.t
    for name in (EDU, HEALTH, WATER):
        world.cli("department", "add", name)
    t.chapter("第一天 2026年3月2日（星期一）：邀请与注册")
    t.note("管理员用 rectbot department add 建了三个单位：" + "、".join((EDU, HEALTH, WATER)))
    world.start("2026-03-02T09:30:00+08:00")
    admin = world.person("李管理员")
    sup1, sup2 = world.person("王督办"), world.person("陈督办")
    edu, health, water = (world.person(n) for n in ("张联络（教育局）", "刘联络（卫健局）", "赵联络（水利局）"))
    world.register(admin, "admin")
    world.register(sup1, "supervisor")
    world.register(sup2, "supervisor")
    world.register(edu, "liaison", EDU)
    world.register(health, "liaison", HEALTH)
    world.register(water, "liaison", WATER)

    t.chapter("登记整改事项：/new 与导入台账")
    ask = world.say(sup1, "/new", "哪个单位")
    world.tap(sup1, ask, EDU, "项目名称")
    ask = world.say(sup1, "义务教育均衡发展补助", "来源")
    ask = world.tap(sup1, ask, "绩效评价", "评价等级")
    world.tap(sup1, ask, "中", "存在问题")
    world.say(sup1, "1. 资金拨付滞后\n2. 绩效目标不明确", "整改建议")
    world.say(sup1, "加快拨付进度，细化绩效目标", "反馈文号")
    world.say(sup1, "海财绩〔2026〕12号", "评价工作")
    world.say(sup1, "1月20日", "反馈是哪天发出")
    ask = world.say(sup1, "上周五", "涉密")
    summary = world.tap(sup1, ask, "否", "请核对")
    world.tap(sup1, summary, "确认", "已登记")
    card = world.wait(edu, has("整改反馈"))
    world.tap(edu, card, "确认收到", "已确认收到")
    ledger = out / "整改台账-导入.xlsx"
    ledger.write_bytes(ledger_xlsx())
    t.note("王督办把 Excel 台账发到对话里导入（另两个单位各一项）")
    world.upload(sup1, "整改台账.xlsx", ledger.read_bytes(),
                 "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "读取")
    world.edited(sup1, "已导入")
    time.sleep(1)
    world.flush()

    t.chapter("报送整改报告（逐条整改，附 PDF）")
    world.say(edu, "/report", "第1条（共2条）")
    ask = world.say(edu, "已拨付全部补助资金", "第1条（共2条）", "已拨付全部补助资金")
    world.tap(edu, ask, "已完成", "第2条（共2条）")
    ask = world.say(edu, "已修订绩效目标", "第2条（共2条）", "已修订绩效目标")
    world.tap(edu, ask, "已完成", "佐证材料")
    ask = world.upload(edu, "拨付凭证.pdf", PDF, "application/pdf", "拨付凭证.pdf")
    summary = world.tap(edu, ask, "完成", "请核对")
    world.tap(edu, summary, "提交", "已提交")

    t.chapter("审核：退回补充（保持原期限）")
    listing = world.say(sup2, "/review", button("查看#1"))
    card = world.tap(sup2, listing, "查看#1", button("退回补充", after=listing))
    world.tap(sup2, card, "退回补充", "理由")
    prompt = world.say(sup2, "第2条缺少修订后的绩效目标表", "现行整改期限")
    world.tap(sup2, prompt, "保持原期限", "整改期限不变")
    world.wait(edu, has("退回补充", "退回理由"))

    t.chapter("第2次报送，逐条修改")
    opening = world.say(edu, "/report", "第2次报送")
    ask = world.tap(edu, opening, "已完成", "第2条（共2条）")
    ask = world.say(edu, "附修订后的绩效目标表", "第2条（共2条）", "附修订后的绩效目标表")
    summary = world.tap(edu, ask, "已完成", "请核对")
    world.tap(edu, summary, "提交", "已提交")

    t.chapter("销号：审核意见 → 确认销号")
    listing = world.say(sup2, "/review", button("查看#1"))
    card = world.tap(sup2, listing, "查看#1", "第2次报送", button("退回补充", after=listing))
    close = next(label for label, data in card.buttons if (data or "").startswith("rv:close:"))
    world.tap(sup2, card, close, "请输入审核意见")
    check = world.say(sup2, "整改到位，同意销号", "确认对")
    world.tap(sup2, check, "确认销号", "已销号")
    world.wait(edu, has("销号", "审核意见"))
    time.sleep(1)
    world.flush()

    t.chapter("抽查复核：/spotcheck")
    world.say(sup1, "/spotcheck 1", "随机种子")
    world.wait(edu, has("抽查复核"))

    t.chapter("三天后 2026年3月5日（星期四）：逾期、督办与今日待办")
    t.note("模拟时钟前进：机器人以新的时间重新启动")
    world.start("2026-03-05T09:00:00+08:00")
    world.wait(health, has("逾期"))
    world.wait(sup1, has("每日汇总"))
    world.say(sup1, "今日待办", "今日待办")
    time.sleep(2)
    world.flush()

    t.chapter("申请延期并获批准")
    world.say(water, "/extend 3", "理由")
    world.say(water, "验收专家组延期到场", "延至")
    check = world.say(water, "5月29日", "请核对延期申请")
    world.tap(water, check, "提交", "已提交延期申请")
    card = world.wait(sup1, has("延期申请", "#3"))
    world.tap(sup1, card, "同意延期", "#3", "2026年5月29日")
    world.wait(water, has("2026年5月29日"))

    t.chapter("下周一 2026年3月9日：整改工作周通报")
    world.start("2026-03-09T09:00:00+08:00")
    bulletin = world.wait(sup1, has("整改工作周通报"))
    if bulletin.document is not None:
        (out / "整改工作周通报.png").write_bytes(bulletin.document.data)
    time.sleep(2)
    world.flush()

    sent = world.sandbox.messages()
    texts = [m.content for m in sent]
    figures = {
        "messages": len(sent),
        "cases": len({n for x in texts for n in re.findall(r"整改事项#(\d+)", x)}),
        "closed": sum("该事项已销号" in x for x in texts),
        "on_time": sum(x.startswith("整改报告已提交") and "（按期）" in x for x in texts),
        "overdue": len({n for x in texts if "已逾期" in x for n in re.findall(r"整改事项#(\d+)", x)}),
        "extended": sum("延期申请已获同意" in x for x in texts),
    }
    t.chapter("导出整改台账")
    sheet = world.say(sup1, "/export", lambda m: m.document is not None and ledger_file(m.document.file_name or ""))
    if sheet.document is not None:
        (out / "整改台账-导出.xlsx").write_bytes(sheet.document.data)
    world.stop()
    return figures


@contextmanager
def workspace(out: Path | None) -> Iterator[Path]:
    """--out DIR is kept; otherwise a temporary folder removed at the end."""
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        yield out
        return
    tmp = Path(tempfile.mkdtemp(prefix="rectbot-demo-"))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(out: Path | None, *, speed: float = 0.0, color: bool = True, stream: TextIO | None = None) -> int:
    """Play the story; 0 when it went through, 1 (with the bot's log) when the bot did not answer."""
    stream = stream or sys.stdout
    began = time.monotonic()
    with workspace(out) as workdir:
        transcript = Transcript(stream, color, speed)
        world = World(workdir, transcript)
        try:
            figures = play(world, workdir)
        except DemoError as exc:
            stream.write(f"演示中断：{exc}\n")
            return 1
        finally:
            world.close()
            (workdir / "transcript.txt").write_text("\n".join(transcript.lines) + "\n", encoding="utf-8")
        transcript.chapter("小结")
        transcript.note(f"整改事项 {figures['cases']} 件（含抽查复核 1 件），已销号 {figures['closed']} 件；按期报送 "
                        f"{figures['on_time']} 次，逾期 {figures['overdue']} 件，获准延期 {figures['extended']} 件")
        transcript.note(f"机器人共发出消息 {figures['messages']} 条；演示用时 {time.monotonic() - began:.0f} 秒")
        (workdir / "transcript.txt").write_text("\n".join(transcript.lines) + "\n", encoding="utf-8")
    return 0
