"""The bulletin's chart and text (issue 11): Chinese on a bare machine, from the font shipped with the package.

Every character of every department name and of every label is in the font's character map
(fontTools), and the chart renders without matplotlib's missing-glyph warning; the CLI writes it.
"""

from __future__ import annotations

import sqlite3
import warnings
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from bot import bulletin, chart
from bot.bootstrap import build_renderers, history_labels
from bot.clock import FakeClock
from bot.i18n import translator_for_locale
from bot.services import Services
from bot.settings import Settings
from storage.db import Database
from tests.reminder_helpers import add_person, local
from tests.test_stats import DEPARTMENTS, fixture

ZH, EN = translator_for_locale("zh_CN"), translator_for_locale("en")
MONDAY = bulletin.parse_week("2026-W06")   # 2 February 2026: the year to date is January


@pytest.fixture
async def svc(tmp_path: Path) -> AsyncIterator[Services]:
    db = await Database.open(tmp_path / "rectbot.db")
    yield Services(settings=Settings(), db=db, clock=FakeClock(local(MONDAY, 9)),
                   renderers=build_renderers(Path("files")), history_labels=history_labels())
    await db.close()


def test_the_font_is_shipped_with_its_licence() -> None:
    assert chart.FONT.is_file() and chart.FONT.stat().st_size > 1_000_000
    assert "SIL OPEN FONT LICENSE Version 1.1" in (chart.FONT.parent / "OFL.txt").read_text(encoding="utf-8")


async def test_every_character_drawn_is_in_the_font_and_nothing_is_missing(svc: Services, tmp_path: Path) -> None:
    fixture(tmp_path / "rectbot.db", await add_person(svc.db, 500, "supervisor"))
    b = await bulletin.compute(svc.db, svc.calendar, svc.settings, MONDAY)
    assert b.week == "2026-W06" and (b.period.start, b.period.end) == (date(2026, 1, 1), date(2026, 2, 1))
    assert len(b.lines) == 30
    labels = [t_(t) for t in (ZH, EN) for t_ in (
        lambda t: bulletin.chart_title(t, b), lambda t: bulletin.chart_subtitle(t, b),
        lambda t: t._("On-time rate (%)"))]
    values = [line.rate for line in b.lines] + ["—", "0123456789.%"]
    assert chart.missing_characters([*DEPARTMENTS, *labels, *values]) == set()
    assert chart.missing_characters(["𠀀"]) == {"𠀀"}        # the check itself works: a CJK Ext. B character
    with warnings.catch_warnings():
        warnings.simplefilter("error")                        # matplotlib warns "Glyph … missing from font(s)"
        png = bulletin.chart_png(ZH, b)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 20_000
    (tmp_path / "bulletin.png").write_bytes(png)


def test_cli_writes_the_chart_and_the_sheet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main
    for key in [k for k in __import__("os").environ if k.startswith("RECTBOT_")]:
        monkeypatch.delenv(key)
    cfg = tmp_path / "rectbot.toml"
    cfg.write_text(f'[storage]\ndatabase = "{tmp_path / "rectbot.db"}"\n', encoding="utf-8")
    assert main(["--config", str(cfg), "db", "upgrade"]) == 0
    with sqlite3.connect(tmp_path / "rectbot.db") as conn:
        author = conn.execute("INSERT INTO people (telegram_id, name, role, created_at) VALUES (500, '督办', "
                              "'supervisor', '2025-10-01T00:00:00+00:00')").lastrowid
    assert author is not None
    fixture(tmp_path / "rectbot.db", author)
    capsys.readouterr()
    png, sheet = tmp_path / "out" / "bulletin.png", tmp_path / "out" / "bulletin.xlsx"
    assert main(["--config", str(cfg), "bulletin", "--week", "2026-W06", "-o", str(png), "--xlsx", str(sheet)]) == 0
    out = capsys.readouterr().out
    assert "📢 整改工作周通报 2026-W06（统计期 2026-01-01 至 2026-02-01）" in out and "通报表扬" in out
    assert png.read_bytes().startswith(b"\x89PNG") and sheet.read_bytes().startswith(b"PK")
    from openpyxl import load_workbook
    rows = list(load_workbook(sheet).active.iter_rows(values_only=True))
    assert rows[0][:3] == ("排名", "单位", "得分") and len(rows) == 31
    assert main(["--config", str(cfg), "bulletin", "--week", "2026-W60"]) == 2
    assert "无法识别周次" in capsys.readouterr().err
