"""`rectbot deadline` and `rectbot calendar …`, through the CLI main function with a tmp database."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from bot.cli import main
from bot.schedules import get_year, load_years, save_year
from storage.db import Database
from tests.calendar_samples import SAMPLE_2027

BAD_2027 = """
year = 2027
source = ""
[[rest]]
name = "春节"
from = 2027-02-14
to = 2027-02-06
[[workdays]]
date = 2027-02-17
name = "春节补班"
"""


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith("RECTBOT_"):
            monkeypatch.delenv(key)
    db = tmp_path / "data" / "rectbot.db"
    monkeypatch.setenv("RECTBOT_STORAGE__DATABASE", str(db))
    return db


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_deadline_human_chinese(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "deadline", "2026-02-12", "7d")
    assert code == 0, err
    assert "2026年2月24日（星期二）" in out.splitlines()[0]
    assert "2026年2月19日（星期四）" in out and "春节" in out  # moved from, and why
    assert "第二百零三条" in out
    assert "暂定" not in out
    assert not env.exists()  # computing a deadline never creates the database


def test_deadline_json(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "deadline", "2026年2月12日", "7日", "--json")
    assert code == 0
    data = json.loads(out)
    assert data == {
        "start": "2026-02-12",
        "period": "7d",
        "due": "2026-02-24",
        "provisional": False,
        "moved_from": "2026-02-19",
        "rule": "days+shift:broad",
    }
    code, out, _ = run(capsys, "deadline", "2020-11-27", "7个工作日", "--json")
    data = json.loads(out)
    assert (data["due"], data["moved_from"], data["rule"]) == ("2020-12-08", None, "working_days")


def test_deadline_strict(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Sat 2026-03-07 is a plain weekend: strict keeps it, broad moves to Mon 03-09
    _, out, _ = run(capsys, "deadline", "2026-03-06", "1d", "--json", "--strict")
    assert json.loads(out)["due"] == "2026-03-07"
    _, out, _ = run(capsys, "deadline", "2026-03-06", "1d", "--json")
    assert json.loads(out)["due"] == "2026-03-09"
    _, out, _ = run(capsys, "deadline", "2026-03-06", "1d", "--strict")
    assert "从严解释" in out


def test_deadline_provisional_then_loaded(env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "deadline", "2026-11-28", "2m")
    assert code == 0
    assert "2027年1月28日（星期四）" in out
    assert "暂定" in out and "2027年节假日安排尚未发布" in out
    _, out, _ = run(capsys, "deadline", "2026-11-28", "2m", "--json")
    assert json.loads(out)["provisional"] is True

    (tmp_path / "y2027.toml").write_text(SAMPLE_2027, encoding="utf-8")
    code, out, err = run(capsys, "calendar", "load", "y2027.toml")
    assert code == 0, err
    _, out, _ = run(capsys, "deadline", "2026-11-28", "2m", "--json")
    assert json.loads(out) == {
        "start": "2026-11-28",
        "period": "2m",
        "due": "2027-01-28",
        "provisional": False,
        "moved_from": None,
        "rule": "months",
    }


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["deadline", "2026-02-30", "2m"], "日期不存在"),
        (["deadline", "明天吧", "2m"], "看不懂日期"),  # the chat's parser, and its wording
        (["deadline", "2026-02-01", "2x"], "无法识别期限"),
        (["deadline", "2026-02-01", "0d"], "期限应为不小于 1 的整数"),
        (["deadline", "2026-02-01", "2月"], "您是指2个月吗"),  # February, not two months
        (["deadline", "2月", "2个月"], "2月底"),  # a month is not a start day
        (["deadline", "2026-02-01", "2m", "--json"], None),
    ],
)
def test_deadline_bad_input(env: Path, capsys: pytest.CaptureFixture[str], argv: list[str], needle: str | None) -> None:
    code, out, err = run(capsys, *argv)
    if needle is None:
        assert code == 0
        return
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and needle in err


@pytest.mark.parametrize(("start", "expected"), [
    ("明天", "2026-12-22"),
    ("今天", "2026-12-21"),
    ("上周五", "2026-12-18"),
    ("12月25日", "2025-12-25"),  # a start day without a year: the latest one not after today
    ("12月1日", "2026-12-01"),
    ("2027年1月29日", "2027-01-29"),
    ("下个月底", "2027-01-31"),
])
def test_deadline_start_in_words_on_the_simulated_day(env: Path, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch, start: str,
                                                       expected: str) -> None:
    """The chat's parser (Direction.START) on the bureau's day: testing.clock_start, as the bot would see it."""
    monkeypatch.setenv("RECTBOT_TESTING__CLOCK_START", "2026-12-21T10:00:00+08:00")  # a Monday
    code, out, err = run(capsys, "deadline", start, "2个月", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert (data["start"], data["period"]) == (expected, "2m")


def test_calendar_load_show_replace(env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "y2027.toml"
    f.write_text(SAMPLE_2027, encoding="utf-8")
    code, out, err = run(capsys, "calendar", "load", str(f))
    assert code == 0, err
    assert "已导入2027年节假日安排" in out and "国办发明电〔2026〕7号" in out
    assert "春节：2027年2月6日（星期六）至2027年2月14日（星期日），共9天" in out
    assert "2027年2月20日（星期六） 春节补班" in out

    code, out, _ = run(capsys, "calendar", "show", "2027")
    assert code == 0
    assert "2027年节假日安排" in out and "来源：国办发明电〔2026〕7号" in out
    assert "发布日期：2026年11月10日" in out and "由财政局于" in out
    assert "元旦：2027年1月1日（星期五）至2027年1月3日（星期日），共3天" in out

    f.write_text(SAMPLE_2027.replace("date = 2027-02-20", "date = 2027-02-21"), encoding="utf-8")
    code, out, _ = run(capsys, "calendar", "load", str(f))
    assert code == 0 and "已替换此前导入的2027年安排" in out

    async def check() -> None:
        db = await Database.open(env)
        try:
            years = await load_years(db)
            assert [s.year for s in years] == [2027]
            s = await get_year(db, 2027)
            assert s is not None and list(s.makeup_workdays) == [date(2027, 2, 21)]
            rows = await db.fetchall("SELECT action FROM audit_log WHERE entity = 'calendar_year' ORDER BY id")
            assert [r[0] for r in rows] == ["calendar.load", "calendar.replace"]
        finally:
            await db.close()

    asyncio.run(check())

    code, out, _ = run(capsys, "calendar", "list")
    assert "内置年份：2004—2026年" in out and "2027年：已导入" in out


def test_calendar_load_bad_file(env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(BAD_2027, encoding="utf-8")
    code, out, err = run(capsys, "calendar", "load", str(f))
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert "未通过校验" in lines[0]
    reasons = lines[1:]
    assert len(reasons) == 3  # empty source, from > to, a Wednesday make-up day
    assert any("发文依据" in r for r in reasons)
    assert any("晚于截止日期" in r for r in reasons)
    assert any("星期三" in r and "调休上班日只能是星期六或星期日" in r for r in reasons)
    # nothing stored
    code, out, _ = run(capsys, "calendar", "show", "2027")
    assert "尚未发布或尚未导入" in out


def test_calendar_load_missing_file(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "calendar", "load", "nope.toml")
    assert code == 2 and "找不到文件" in err


def test_calendar_show_library_and_unknown(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "calendar", "show", "2026")
    assert code == 0
    assert "内置数据（chinesecalendar" in out
    assert "春节：2026年2月15日（星期日）至2026年2月23日（星期一），共9天" in out
    assert "2026年2月28日（星期六） 春节补班" in out
    code, out, _ = run(capsys, "calendar", "show", "2030")
    assert code == 0
    assert "2030年节假日安排尚未发布或尚未导入" in out and "暂定" in out
    assert "2030年2月3日（星期日） 春节" in out  # 正月初一 2030
    assert "rectbot calendar load" in out
    code, _, err = run(capsys, "calendar", "show", "1800")
    assert code == 2 and "超出允许范围" in err


def test_repository_roundtrip(tmp_path: Path) -> None:
    from bot.workcalendar import parse_year_toml

    async def go() -> None:
        db = await Database.open(tmp_path / "r.db")
        try:
            s = parse_year_toml(SAMPLE_2027)
            assert await save_year(db, s, "person:1") is False
            assert await save_year(db, s, "person:1") is True
            assert await load_years(db) == [s]
            row = await db.fetchone("SELECT source, published_on, loaded_by FROM calendar_years WHERE year = 2027")
            assert tuple(row) == ("国办发明电〔2026〕7号", "2026-11-10", "person:1")
        finally:
            await db.close()

    asyncio.run(go())


def test_cli_subprocess_exit_codes(env: Path) -> None:
    root = Path(__file__).resolve().parent.parent
    cmd = [sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main(sys.argv[1:]))"]
    ok = subprocess.run(
        [*cmd, "deadline", "2025-12-31", "2m", "--json"],
        capture_output=True,
        text=True,
        cwd=env.parent.parent,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["due"] == "2026-02-28"
    bad = subprocess.run(
        [*cmd, "deadline", "2025-12-31", "两年半"],
        capture_output=True,
        text=True,
        cwd=env.parent.parent,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert bad.returncode == 2 and bad.stdout == ""
    assert len(bad.stderr.strip().splitlines()) == 1 and "无法识别期限" in bad.stderr


RECOMPUTE_2027 = """
year = 2027
source = "国办发明电〔2026〕99号"
published_on = 2026-11-20
[[rest]]
name = "测试假日"
from = 2027-01-11
to = 2027-01-11
"""


def test_calendar_load_recomputes_provisional_deadlines(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Loading 2027 turns a provisional 2027-01-11 deadline final, moved to 01-12, and tells people."""
    import asyncio
    from datetime import date

    from bot import cases
    from bot.workcalendar import WorkCalendar
    from tests.test_cases import NOW, evaluation_draft, make_world

    async def prepare() -> int:
        world = await make_world(env)
        case, _ = await cases.register_case(world.db, WorkCalendar(),
                                            evaluation_draft(feedback_sent_on=date(2026, 11, 9)),
                                            actor=world.supervisor, now=NOW)
        await cases.acknowledge_receipt(world.db, WorkCalendar(), case.id, person=world.liaison, now=NOW,
                                        today=date(2026, 11, 10))
        await world.db.close()
        return case.id

    case_id = asyncio.run(prepare())
    toml = tmp_path / "2027.toml"
    toml.write_text(RECOMPUTE_2027, encoding="utf-8")
    code, out, err = run(capsys, "calendar", "load", str(toml))
    assert code == 0, err
    assert "暂定期限已重新计算：1" in out

    import sqlite3

    db = sqlite3.connect(env)
    assert db.execute("SELECT due_on, due_provisional FROM cases WHERE id = ?", (case_id,)).fetchone() == (
        "2027-01-12", 0)
    kinds = [r[0] for r in db.execute("SELECT kind FROM outbox WHERE kind = 'deadline_recomputed'")]
    assert kinds  # liaisons and supervisors are told through the outbox
    db.close()
