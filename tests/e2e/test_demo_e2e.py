"""Issue 12 item 1: `rectbot demo --out DIR` through the real processes, so the demo cannot silently rot.

The demo is run as a newcomer runs it (a subprocess; it starts the sandbox and `rectbot run` itself);
the story's key events must appear in its transcript in this order, and --out keeps what it says.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]

# What the transcript must show, in this order (a tuple: all of them, in any order among themselves).
EVENTS: list[str | tuple[str, ...]] = [
    "欢迎，张联络（教育局）",            # registration by invitation and /start
    "已登记",                           # a case registered through /new
    "已确认收到",                        # the liaison's 确认收到 on the feedback card
    "整改报告已提交",                     # a report with a PDF
    "被退回补充",                         # 退回补充 …
    "整改期限不变",                       # … keeping its deadline
    "第2次报送",                          # resubmitted item by item
    "该事项已销号",                        # closed with a 审核意见
    "随机种子",                           # a spot check (/spotcheck)
    "抽查复核：财政局将对整改事项#1",         # … told to the department
    "2026年3月5日（星期四）",               # the simulated clock moved on
    ("整改落实情况报告已逾期",               # overdue (one notice listing a liaison's cases) and escalated
     "督办：本次新增"),                      # to the supervisors (one message each): one sweep, any order
    ("今日待办：2026年3月5日",               # the to-do on the menu's tap and the daily digest, any order
     "2026年3月5日（星期四）每日汇总"),
    "已提交延期申请",                       # an extension asked …
    "延期申请已获同意",                     # … and granted
    "整改工作周通报 2026-W11",              # the weekly bulletin (the first week, W10, only recorded) …
    "考核排名：",                           # … ranking the departments (checked below: at least two)
    "期限届满日：2026年5月11日（星期一）",      # /deadline over Labour Day …
    "5月9日（星期六）调休上班，计入",          # … the narrator says the holiday is skipped, the Saturday counted
    "[05-09 09:05] 机器人 → 张联络（教育局）：⏰ 提醒",   # a reminder on the make-up working Saturday …
    "距截止还有1个工作日",                    # … one working day before Monday 11 May
    "小结",
]


def test_demo_plays_the_story_in_order_and_keeps_its_files(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECTBOT_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    result = subprocess.run([sys.executable, "-m", "bot", "demo", "--out", str(out), "--no-color"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    transcript = (out / "transcript.txt").read_text(encoding="utf-8")
    assert transcript.strip() in result.stdout
    position = 0
    for event in EVENTS:
        found = [transcript.find(part, position) for part in ((event,) if isinstance(event, str) else event)]
        assert min(found) >= 0, f"{event!r} missing after position {position}"
        position = min(found)
    assert "\033[" not in result.stdout                      # --no-color
    ranking = transcript[transcript.find("考核排名："):]
    ranked = re.findall(r"^\s+(\d+)\. (县\S+?局)[ （]", ranking[:ranking.find("\n\n")], flags=re.M)
    assert len(ranked) >= 2, ranking[:600]                   # at least two departments ranked (min_cases met)
    assert "演示用时" in transcript and "Traceback" not in transcript
    assert "⏰ 提醒" in transcript                              # a reminder before the deadline
    assert "Traceback" not in result.stdout + result.stderr
    assert (out / "rectbot.db").stat().st_size > 0
    for name in ("整改台账-导入.xlsx", "整改台账-导出.xlsx"):
        assert (out / name).read_bytes()[:2] == b"PK"
    assert (out / "整改工作周通报.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


CJK = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]")
DEPARTMENTS = ("县教育局", "县卫健局", "县水利局")     # the bureau's own data: Chinese in either language


def test_demo_in_english_narrates_in_english_and_the_bot_answers_in_english(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECTBOT_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    result = subprocess.run([sys.executable, "-m", "bot", "demo", "--lang", "en", "--no-color"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    lines = result.stdout.splitlines()
    narration = [line for line in lines if line.startswith(("══", "   ("))]
    assert len(narration) >= 15
    heads = [m.group(1) for line in lines if (m := re.match(r"\[\d\d-\d\d \d\d:\d\d\] (.+?): ", line))]
    assert heads and "Bot → Zhang (Education liaison)" in heads
    for line in narration + heads:
        for name in DEPARTMENTS:
            line = line.replace(name, "")
        assert not CJK.search(line), line
    text = result.stdout
    for event in ("Language set to English", "Deadline: 2026-05-11 (Monday)", "make-up working day",
                  "⏰ Reminder", "Summary"):
        assert event in text, event


def test_interactive_demo_lets_the_newcomer_play_a_supervisor(tmp_path: Path) -> None:
    """Choose a role by number, type /todo, tap its first button by number, /quit: exit 0."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECTBOT_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    result = subprocess.run([sys.executable, "-m", "bot", "demo", "--interactive", "--no-color"],
                            input="4\n2\n/todo\n1\n9\n/quit\n", cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    out = result.stdout
    events = [
        "您想扮演谁？",
        "2. 财政局督办人员（王督办）",
        "请输入角色序号",                                # "4" is no role: asked again
        "已导入",                                       # the scripted opening: the ledger imported …
        "整改报告已提交",                                 # … and the liaison's report, waiting for review
        "══ 轮到您了 ══",
        "[03-02 09:3",                                  # the player's /todo, at the simulated time
        "王督办：/todo",
        "📝 今日待办",
        "[1 审核#1]",                                   # the player's buttons are numbered …
        "王督办：点按 [审核#1]",                          # … and "1" tapped the first
        "待审核的整改落实情况报告",
        "没有第9个按钮",                                  # a number without a button: said, nothing sent
        "演示结束。",
    ]
    position = 0
    for event in events:
        found = out.find(event, position)
        assert found >= 0, f"{event!r} missing after position {position}:\n{out[position:position + 3000]}"
        position = found
    assert "Traceback" not in out + result.stderr


def test_interactive_demo_ends_at_once_without_input(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECTBOT_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    result = subprocess.run([sys.executable, "-m", "bot", "demo", "--interactive"], input="", cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "您想扮演谁？" in result.stdout
