"""Issue 12 item 1: `rectbot demo --out DIR` through the real processes, so the demo cannot silently rot.

The demo is run as a newcomer runs it (a subprocess; it starts the sandbox and `rectbot run` itself);
the story's key events must appear in its transcript in this order, and --out keeps what it says.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]

# (what the transcript must show, in this order)
EVENTS = [
    "欢迎，张联络（教育局）",            # registration by invitation and /start
    "已登记",                           # a case registered through /new
    "已确认收到",                        # the liaison's 确认收到 on the feedback card
    "整改报告已提交",                     # a report with a PDF
    "被退回补充",                         # 退回补充 …
    "整改期限不变",                       # … keeping its deadline
    "第2次报送",                          # resubmitted item by item
    "该事项已销号",                        # closed with a 审核意见
]


def test_demo_plays_the_story_in_order_and_keeps_its_files(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECTBOT_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    result = subprocess.run([sys.executable, "-m", "bot", "demo", "--out", str(out), "--no-color"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    transcript = (out / "transcript.txt").read_text(encoding="utf-8")
    assert transcript.strip() in result.stdout
    position = 0
    for event in EVENTS:
        found = transcript.find(event, position)
        assert found >= 0, f"{event!r} missing after position {position}"
        position = found
    assert "\033[" not in result.stdout                      # --no-color
    assert "小结" in transcript and "Traceback" not in result.stdout + result.stderr
    assert (out / "rectbot.db").stat().st_size > 0
    assert (out / "整改台账-导出.xlsx").read_bytes()[:2] == b"PK"
