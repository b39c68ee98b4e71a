"""Statistics and ranking (issue 11) on a fixture of 30 departments and 600 cases, checked against figures
computed by hand (the working days counted on paper from the 2025/2026 holiday schedule: 1–3 January 2026
off, Sunday 4 January a make-up working day), over a period that crosses the year boundary.

Each department k (0…29) has 20 cases of these kinds (received 2025-12-01 unless said otherwise):
  T1  8−a−b  closed, deadline 2025-12-15, report 2025-12-10 accepted           due, on time, closed; 7 wd to report
  T2  2      reported, deadline 2026-01-20, report 2026-01-20 (its last day)   due, on time; 35 wd
  T3  b      reported late: deadline 2025-12-31, report 2026-01-07             due, overdue 4 wd (1–3 Jan off); 26 wd
  T4  a      rectifying, deadline 2026-01-23, no report (registered 2025-12-20)  due, overdue 5 wd to 31 Jan
  T5  1      extension approved 2026-01-15 → 2026-02-10                        not due in the period
  T5b 1      extension approved 2025-11-28 → 2025-12-19, report 2025-12-18      due, on time; 13 wd
  T6  f      report 2025-12-05 returned 2025-12-08, new deadline 2026-02-27    a return; not due; 4 wd
  T7  1      returned 2025-12-08, new deadline 2026-01-16, rework 2026-01-14   a return; due, on time; 4 wd
  T8  c      report 2025-12-10, 拒不整改 2025-12-20, deadline 2025-12-15        due, overdue 33 wd; refused; 7 wd
  T9  d      the same, 虚报                                                      due, overdue 33 wd; 虚报; 7 wd
  T10 e      the same, 整改不到位                                                due, overdue 33 wd; inadequate; 7 wd
  T11 1      awaiting feedback (registered 2025-12-03)                          nothing but "registered"
  T13 rest   rectifying, deadline 2026-03-31 (outside), a return decided 2025-11-25 (outside)
with a = k mod 4, b = k mod 3, c = k div 10, d = [k mod 7 = 0], e = [k mod 5 = 1], f = k mod 2.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import AsyncIterator
from datetime import date
from fractions import Fraction
from pathlib import Path

import pytest

from bot import ranking, stats
from bot.clock import FakeClock
from bot.domain import Person, Role
from bot.errors import DomainError, NotAuthorized
from bot.i18n import translator_for_locale
from bot.services import Services
from bot.settings import RankingSettings, Settings
from bot.stats import StatsPeriod, parse_period
from storage.db import Database
from tests.reminder_helpers import add_person, local

ZH = translator_for_locale("zh_CN")
TODAY = date(2026, 3, 2)
PERIOD = StatsPeriod(date(2025, 12, 1), date(2026, 1, 31))
DEPARTMENTS = (
    "县教育局", "县卫生健康局", "县水利局", "县农业农村局", "县交通运输局", "县住房和城乡建设局", "县民政局",
    "县人力资源和社会保障局", "县自然资源和规划局", "县生态环境分局", "县文化和广电旅游体育局", "县商务局",
    "县市场监督管理局", "县应急管理局", "县司法局", "县公安局", "县科学技术局", "县经济和信息化局",
    "县发展和改革局", "县统计局", "县审计局", "县医疗保障局", "县退役军人事务局", "县综合行政执法局",
    "县供销合作社", "县残疾人联合会", "县妇女联合会", "县档案馆", "县机关事务管理中心", "县大数据发展管理局",
)


def params(k: int) -> dict[str, int]:
    return {"a": k % 4, "b": k % 3, "c": k // 10, "d": int(k % 7 == 0), "e": int(k % 5 == 1), "f": k % 2}


def by_hand(k: int) -> dict[str, int]:
    """The expected figures of department k, worked out from the table in the docstring."""
    p = params(k)
    a, b, c, d, e, f = p["a"], p["b"], p["c"], p["d"], p["e"], p["f"]
    return {
        "registered": 1 + a, "due": 12 + c + d + e, "on_time": 12 - a - b, "overdue": a + b + c + d + e,
        "overdue_working_days": 5 * a + 4 * b + 33 * (c + d + e), "closed": 8 - a - b, "returned": f + 1,
        "refused": c, "inadequate": e, "falsely_reported": d, "reports": 12 - a + f + c + d + e,
        "receipt_to_report_days": 7 * (8 - a - b) + 2 * 35 + 26 * b + 13 + 4 * f + 4 + 7 * (c + d + e),
    }


# The same, written out for a few departments and the total (Σ over k of the formulas above).
# k: registered, due, on_time, overdue, overdue wd, closed, returned, refused, inadequate, false, reports, Σ days
TABLE = {
    0: (1, 13, 12, 1, 33, 8, 1, 0, 0, 1, 13, 150),
    1: (2, 13, 10, 3, 42, 6, 2, 0, 1, 0, 13, 166),
    7: (4, 13, 8, 5, 52, 4, 2, 0, 0, 1, 11, 152),
    11: (4, 14, 7, 7, 89, 3, 2, 1, 1, 0, 12, 178),
    23: (4, 14, 7, 7, 89, 3, 2, 2, 0, 0, 12, 178),
}
# registered 30 + Σ k mod 4 = 73; returned 15 + 30; refused 0×10 + 1×10 + 2×10; inadequate k = 1, 6, …, 26;
# falsely reported k = 0, 7, 14, 21, 28; the others summed from the formulas.
TOTAL = (73, 401, 287, 114, 1688, 167, 45, 30, 6, 5, 373, 4906)
FIELDS = ("registered", "due", "on_time", "overdue", "overdue_working_days", "closed", "returned", "refused",
          "inadequate", "falsely_reported", "reports", "receipt_to_report_days")


def fixture(db_path: Path, author: int) -> dict[str, int]:
    """600 cases with their reports, reviews and extensions, in one transaction."""
    conn = sqlite3.connect(db_path)
    ids: dict[str, int] = {}
    old, ts = "2025-10-15T02:00:00+00:00", "2025-12-01T02:00:00+00:00"

    def case(dept: int, kind: str, status: str, due: str | None, *, created: str = old,
             received: str | None = "2025-12-01") -> int:
        cur = conn.execute(
            "INSERT INTO cases (department_id, project, source, feedback_doc_no, feedback_received_on, period,"
            " due_on, status, created_by, created_at, updated_at) VALUES (?, ?, 'evaluation', ?, ?, '2m', ?, ?,"
            " 'cli', ?, ?)", (dept, f"{kind}项目", f"doc-{dept}-{kind}-{conn.total_changes}", received, due, status,
                              created, created))
        assert cur.lastrowid is not None
        return cur.lastrowid

    def report(case_id: int, state: str, on: str, decision: str | None = None, decided: str | None = None,
               new_due: str | None = None) -> None:
        cur = conn.execute(
            "INSERT INTO reports (case_id, author_id, state, step, measures, progress, created_at, updated_at,"
            " submitted_at, submitted_on, on_time) VALUES (?, ?, ?, 'summary', '已整改', 'done', ?, ?, ?, ?, NULL)",
            (case_id, author, state, ts, ts, f"{on}T03:00:00+00:00", on))
        if decision is not None:
            conn.execute("INSERT INTO reviews (report_id, reviewer_id, decision, new_due_on, decided_at)"
                         " VALUES (?, ?, ?, ?, ?)", (cur.lastrowid, author, decision, new_due,
                                                      f"{decided}T03:00:00+00:00"))

    def extension(case_id: int, previous: str, granted: str, decided: str) -> None:
        conn.execute(
            "INSERT INTO extension_requests (case_id, requester_id, reason, proposed_due_on, previous_due_on, state,"
            " decided_by, granted_due_on, created_at, decided_at) VALUES (?, ?, '原因', ?, ?, 'approved', ?, ?, ?, ?)",
            (case_id, author, granted, previous, author, granted, ts, f"{decided}T03:00:00+00:00"))

    with conn:
        for k, name in enumerate(DEPARTMENTS):
            dept = conn.execute("INSERT INTO departments (name, created_at) VALUES (?, ?)", (name, old)).lastrowid
            assert dept is not None
            ids[name] = dept
            p = params(k)
            made = 0
            for _ in range(8 - p["a"] - p["b"]):
                report(case(dept, "T1", "closed", "2025-12-15"), "accepted", "2025-12-10", "close", "2025-12-12")
            for _ in range(2):
                report(case(dept, "T2", "reported", "2026-01-20"), "submitted", "2026-01-20")
            for _ in range(p["b"]):
                report(case(dept, "T3", "reported", "2025-12-31"), "submitted", "2026-01-07")
            for _ in range(p["a"]):
                case(dept, "T4", "in_progress", "2026-01-23", created="2025-12-20T01:00:00+00:00")
            extension(case(dept, "T5", "in_progress", "2026-02-10"), "2026-01-15", "2026-02-10", "2026-01-10")
            t5b = case(dept, "T5b", "reported", "2025-12-19")
            extension(t5b, "2025-11-28", "2025-12-19", "2025-11-20")
            report(t5b, "submitted", "2025-12-18")
            for _ in range(p["f"]):
                report(case(dept, "T6", "returned", "2026-02-27"), "returned", "2025-12-05", "return_for_rework",
                       "2025-12-08", "2026-02-27")
            t7 = case(dept, "T7", "reported", "2026-01-16")
            report(t7, "returned", "2025-12-05", "return_for_rework", "2025-12-08", "2026-01-16")
            report(t7, "submitted", "2026-01-14")
            for kind, n, decision, status in (("T8", p["c"], "refused", "refused"),
                                              ("T9", p["d"], "falsely_reported", "falsely_reported"),
                                              ("T10", p["e"], "inadequate", "inadequate")):
                for _ in range(n):
                    report(case(dept, kind, status, "2025-12-15"), "non_compliant", "2025-12-10", decision,
                           "2025-12-20")
            case(dept, "T11", "pending_feedback", None, created="2025-12-03T01:00:00+00:00", received=None)
            made = conn.execute("SELECT COUNT(*) FROM cases WHERE department_id = ?", (dept,)).fetchone()[0]
            for _ in range(20 - made):
                t13 = case(dept, "T13", "in_progress", "2026-03-31")
                report(t13, "returned", "2025-11-20", "return_for_rework", "2025-11-25", "2026-03-31")
    assert conn.execute("SELECT COUNT(*) FROM cases").fetchone()[0] == 600
    conn.close()
    return ids


@pytest.fixture
async def svc(tmp_path: Path) -> AsyncIterator[Services]:
    from bot.bootstrap import build_renderers, history_labels
    db = await Database.open(tmp_path / "rectbot.db")
    yield Services(settings=Settings(), db=db, clock=FakeClock(local(TODAY, 9)),
                   renderers=build_renderers(Path("files")), history_labels=history_labels())
    await db.close()


async def test_the_calendar_the_hand_figures_assume(svc: Services) -> None:
    cal = svc.calendar
    assert [cal.is_working_day(date(2026, 1, d)) for d in (1, 2, 3, 4, 5)] == [False, False, False, True, True]


async def test_statistics_match_the_hand_computed_table(svc: Services, tmp_path: Path) -> None:
    author = await add_person(svc.db, 500, "supervisor")
    ids = fixture(tmp_path / "rectbot.db", author)
    report = await stats.compute(svc.db, svc.calendar, svc.settings, PERIOD, TODAY)
    got = {d.name: d for d in report.departments}
    assert len(got) == 30 and report.as_of == date(2026, 1, 31)
    for k, name in enumerate(DEPARTMENTS):
        assert {f: getattr(got[name], f) for f in FIELDS} == by_hand(k), name
    for k, row in TABLE.items():
        assert tuple(by_hand(k)[f] for f in FIELDS) == row, k
        assert tuple(getattr(got[DEPARTMENTS[k]], f) for f in FIELDS) == row, k
    assert tuple(getattr(report.total, f) for f in FIELDS) == TOTAL
    total = report.total
    assert total.on_time_rate == Fraction(287, 401) and stats.percent(total.on_time_rate) == "71.6%"
    assert total.close_rate == Fraction(167, 401) and stats.percent(total.close_rate) == "41.6%"
    assert stats.number(total.average_days) == "13.2"                       # 4906 / 373 = 13.15…

    one = await stats.compute(svc.db, svc.calendar, svc.settings, PERIOD, TODAY, department_id=ids["县水利局"])
    assert [d.name for d in one.departments] == ["县水利局"] and one.total.due == by_hand(2)["due"]
    # a period that ends in the future counts deadlines whose last day has ended, overdue days to today
    early = await stats.compute(svc.db, svc.calendar, svc.settings, PERIOD, date(2026, 1, 20))
    edu = next(d for d in early.departments if d.name == "县教育局")        # k = 0: T2 (due 20 Jan) not yet due
    assert (edu.due, edu.on_time, edu.overdue, edu.overdue_working_days) == (11, 10, 1, 12 + 13)  # 虚报 to 20 Jan

    # ranking, default weights: 100 − 0.5×(100 − rate %) − 2×overdue − returns − 2×整改不到位 − 5×(拒不整改 + 虚报)
    ranked = ranking.rank(report.departments, svc.settings.ranking)
    scores = {r.stats.name: r.score for r in ranked}
    for k, name in enumerate(DEPARTMENTS):
        h = by_hand(k)
        expected = (100 - Fraction(1, 2) * (100 - Fraction(100 * h["on_time"], h["due"])) - 2 * h["overdue"]
                    - h["returned"] - 2 * h["inadequate"] - 5 * (h["refused"] + h["falsely_reported"]))
        assert scores[name] == expected, name
    assert ranking.points(scores["县教育局"]) == "88.15"     # k = 0: 100 − 0.5×(100 − 1200/13) − 2 − 1 − 5 = 88.153…
    # k = 6 (a = 2, e = 1): 13 due, 10 on time, 3 overdue: 100 − 0.5×(100 − 1000/13) − 2×3 − 1 − 2×1 = 79.46…
    assert ranking.points(scores["县民政局"]) == "79.46"
    order = [r.stats.name for r in ranked]
    # competition ranking: 1 + the number of departments with a higher score, or the same score and fewer
    # overdue working days (ranks 3 and 4 tie here on both, so both are 3rd)
    for r in ranked:
        key = (r.score, -r.stats.overdue_working_days)
        assert r.rank == 1 + sum((o.score, -o.stats.overdue_working_days) > key for o in ranked)
    assert [r.rank for r in ranked][:5] == [1, 2, 3, 3, 5]
    # best: k = 4 (12 due, 11 on time, 1 overdue, 1 return) 92.83; worst: k = 23 (rate 50 %, 7 overdue, 2 returns,
    # 2 拒不整改) 100 − 25 − 14 − 2 − 10 = 49
    assert order[:2] == ["县交通运输局", "县生态环境分局"] and order[-1] == "县综合行政执法局"
    assert ranking.points(scores["县综合行政执法局"]) == "49.00"
    for better, worse in itertools.pairwise(ranked):
        assert (better.score, -better.stats.overdue_working_days) >= (worse.score, -worse.stats.overdue_working_days)
    assert [r.stats.name for r in ranking.bottom(ranked, 3)] == order[-3:]
    # fewer than ranking.min_cases reports due: listed, not ranked (k with c+d+e = 0 have 12 due)
    strict = ranking.rank(report.departments, RankingSettings(min_cases=13))
    unranked = [r.stats.name for r in strict if r.rank is None]
    assert unranked == sorted(DEPARTMENTS[k] for k in range(30) if by_hand(k)["due"] < 13)
    assert ranking.bottom(strict, 0) == []


async def test_a_liaison_gets_their_own_department_only(svc: Services, tmp_path: Path) -> None:
    author = await add_person(svc.db, 500, "supervisor")
    ids = fixture(tmp_path / "rectbot.db", author)
    liaison = Person(7, 7, "王芳", None, Role.LIAISON, ids["县水利局"], "县水利局", "zh_CN", True, True)
    own = await stats.stats_for(svc.db, svc.calendar, svc.settings, liaison, PERIOD, TODAY, None)
    assert [d.name for d in own.departments] == ["县水利局"]
    with pytest.raises(NotAuthorized):
        await stats.stats_for(svc.db, svc.calendar, svc.settings, liaison, PERIOD, TODAY, ids["县教育局"])


def test_periods() -> None:
    today = date(2026, 2, 10)
    assert parse_period("本月", today) == StatsPeriod(date(2026, 2, 1), date(2026, 2, 28))
    assert parse_period("本季度", today) == StatsPeriod(date(2026, 1, 1), date(2026, 3, 31))
    assert parse_period("本年", today) == StatsPeriod(date(2026, 1, 1), date(2026, 12, 31))
    assert parse_period("上月", date(2026, 1, 5)) == StatsPeriod(date(2025, 12, 1), date(2025, 12, 31))
    assert parse_period("上季度", today) == StatsPeriod(date(2025, 10, 1), date(2025, 12, 31))
    assert parse_period("2025-12-01..2026-01-31", today) == PERIOD
    assert parse_period("2025-12-01至2026-01-31", today) == PERIOD
    assert parse_period("2024-02", today) == StatsPeriod(date(2024, 2, 1), date(2024, 2, 29))
    for bad in ("下月", "2026-02-30..2026-03-01", "2026-03-01..2026-02-01", "2026-13"):
        with pytest.raises(DomainError):
            parse_period(bad, today)


async def test_chat_text_and_pages(svc: Services, tmp_path: Path) -> None:
    from bot.stats_text import department_text, overall_page, split_args
    fixture(tmp_path / "rectbot.db", await add_person(svc.db, 500, "supervisor"))
    report = await stats.compute(svc.db, svc.calendar, svc.settings, PERIOD, TODAY)
    first = overall_page(ZH, report, svc.settings.ranking, 1)
    assert "📈 整改统计：2025-12-01 至 2026-01-31（数据截至 2026-01-31）" in first.text
    assert "应报送：401 件，按期报送：287 件，按期整改率：71.6%" in first.text
    assert "1. 县交通运输局：92.83 分 · 按期整改率 91.7% · 逾期 1 件 · 退回 1 次" in first.text
    assert (first.page.pages, first.page.total) == (3, 30) and len(first.text) < 4096
    last = overall_page(ZH, report, svc.settings.ranking, 3)
    assert "县综合行政执法局：49.00 分" in last.text
    one = await stats.compute(svc.db, svc.calendar, svc.settings, PERIOD, TODAY, department_id=3)
    assert department_text(ZH, one).startswith("📈 县水利局 整改统计")
    assert split_args(["县水利局", "本年"], TODAY) == ("县水利局", parse_period("本年", TODAY))
    assert split_args(["县水利局"], TODAY) == ("县水利局", parse_period("本月", TODAY))
    assert split_args(["2025-12-01..2026-01-31"], TODAY) == ("", PERIOD)
    with pytest.raises(DomainError):
        split_args(["县水利局", "2026-13-01..2026-14-01"], TODAY)


def test_cli_stats_with_explain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
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
    assert main(["--config", str(cfg), "stats", "--period", "2025-12-01..2026-01-31", "--explain"]) == 0
    out = capsys.readouterr().out
    assert "按期整改率 = 按期报送数 ÷ 应报送数" in out and "考核得分 = 100.0 − 0.5 ×" in out
    rows = [line.split("\t") for line in out.splitlines() if "\t" in line]
    assert rows[0][:3] == ["排名", "单位", "得分"] and len(rows) == 32
    assert rows[1][:3] == ["1", "县交通运输局", "92.83"]
    assert rows[-1][1:] == ["合计", "", "73", "401", "287", "71.6%", "114", "1688", "167", "41.6%", "45", "30", "6",
                            "5", "13.2"]
    assert main(["--config", str(cfg), "stats", "--period", "下月"]) == 2
    assert "无法识别统计期" in capsys.readouterr().err


@pytest.mark.parametrize(("ranked", "praised", "explain"), [
    (0, 0, 0), (1, 0, 0), (2, 1, 1), (3, 1, 1), (5, 2, 2), (6, 3, 3), (30, 3, 3)])
def test_no_department_is_both_praised_and_asked_to_explain(ranked: int, praised: int, explain: int) -> None:
    from types import SimpleNamespace
    from typing import cast

    from bot.stats import DepartmentStats
    departments = [ranking.Ranked(cast(DepartmentStats, SimpleNamespace(department_id=k, name=f"d{k}")),
                                  Fraction(100 - k), k + 1) for k in range(ranked)]
    departments.append(ranking.Ranked(cast(DepartmentStats, SimpleNamespace(department_id=99, name="few")),
                                      Fraction(100), None))    # not ranked: never named
    top, bottom = ranking.commended_and_explaining(departments, 3, 3)
    assert [r.rank for r in top] == list(range(1, praised + 1))
    assert [r.rank for r in bottom] == list(range(ranked - explain + 1, ranked + 1))
    assert not {r.stats.department_id for r in top} & {r.stats.department_id for r in bottom}
