"""The CLI reads the bot's clock (issue 12): under `testing.clock_start` an import plans on simulated time,
and `testing.clock_file` moves a running clock forward without a restart (the demo's days)."""

from __future__ import annotations

import io
import os
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest

from bot.clock import FileClock, OffsetClock, SystemClock, clock_for, write_clock_file

START = "2026-06-01T09:00:00+08:00"   # a simulated day long before this machine's (real) date
DUE = "2026-06-30"


def ledger(due: str) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["部门", "项目名称", "来源", "反馈文号", "收到反馈日期", "整改期限"])
    sheet.append(["县教育局", "义务教育补助", "绩效评价", "海财绩〔2026〕9号", "2026-05-04", due])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def test_cli_import_plans_on_the_simulated_clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("RECTBOT_")]:
        monkeypatch.delenv(key)
    cfg = tmp_path / "rectbot.toml"
    cfg.write_text(f'[storage]\ndatabase = "{tmp_path / "r.db"}"\n[testing]\nclock_start = "{START}"\n',
                   encoding="utf-8")
    src = tmp_path / "台账.xlsx"
    src.write_bytes(ledger(DUE))
    assert main(["--config", str(cfg), "import", str(src)]) == 0
    db = sqlite3.connect(tmp_path / "r.db")
    (planned,) = db.execute("SELECT next_action_at FROM cases").fetchone()
    db.close()
    start = datetime.fromisoformat(START)
    # The first reminder is planned in simulated June (10 working days before the deadline); on the
    # real clock the case would already be overdue and planned for the real now.
    due = datetime.fromisoformat(DUE + "T00:00+08:00")
    assert start - timedelta(minutes=1) <= datetime.fromisoformat(planned) < due


def test_clock_for_picks_the_clock_the_settings_ask_for(tmp_path: Path) -> None:
    assert isinstance(clock_for(None), SystemClock)
    assert isinstance(clock_for(START), OffsetClock)
    assert abs(clock_for(START).now() - datetime.fromisoformat(START)) < timedelta(seconds=5)
    assert isinstance(clock_for(START, str(tmp_path / "clock")), FileClock)


def test_file_clock_follows_the_file_forward_and_keeps_flowing(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    clock = FileClock(path, datetime.fromisoformat(START))
    assert abs(clock.now() - datetime.fromisoformat(START)) < timedelta(seconds=5)   # no file yet: start
    later = datetime(2030, 1, 10, 9, 0, tzinfo=UTC)
    write_clock_file(path, later)
    assert timedelta(0) <= clock.now() - later < timedelta(seconds=5)
    time.sleep(0.05)
    assert clock.now() - later >= timedelta(seconds=0.05)                            # time flows on
    path.write_text("half-writ", encoding="utf-8")                                   # a bad file: last reading
    assert timedelta(0) <= clock.now() - later < timedelta(seconds=5)
