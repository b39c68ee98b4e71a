"""The departments' ranking (issue 11, arts. 26–29): a documented score, weights from `ranking.*`.

score = base − per_rate_point × (100 − 按期整改率 in percent) − per_overdue_case × overdue cases
        − per_return × 退回 − per_inadequate × 整改不到位 − per_refused × 拒不整改 − per_falsely_reported × 虚报
Higher is better; ties are broken by fewer overdue working days, and a tie on both shares the rank
(1, 2, 2, 4). A department with fewer than `ranking.min_cases` reports due in the period is listed
but not ranked. Exact arithmetic (fractions), rounded to two decimals only when shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from bot.i18n import N_, Translator
from bot.settings import RankingSettings
from bot.stats import DepartmentStats, percent


@dataclass(frozen=True)
class Ranked:
    stats: DepartmentStats
    score: Fraction
    rank: int | None        # None: too few reports due to be ranked


def score(s: DepartmentStats, w: RankingSettings) -> Fraction:
    def f(x: float) -> Fraction:
        return Fraction(str(x))

    rate = s.on_time_rate
    below = (1 - rate) * 100 if rate is not None else Fraction(0)
    return (f(w.base) - f(w.per_rate_point) * below - f(w.per_overdue_case) * s.overdue
            - f(w.per_return) * s.returned - f(w.per_inadequate) * s.inadequate - f(w.per_refused) * s.refused
            - f(w.per_falsely_reported) * s.falsely_reported)


def rank(departments: list[DepartmentStats], w: RankingSettings) -> list[Ranked]:
    """Ranked departments best first, then the unranked ones by name."""
    scored = [(d, score(d, w)) for d in departments]
    eligible = sorted([x for x in scored if x[0].due >= max(w.min_cases, 1)],
                      key=lambda x: (-x[1], x[0].overdue_working_days, x[0].name))
    out: list[Ranked] = []
    for i, (d, sc) in enumerate(eligible):
        prev = out[-1] if out else None
        same = prev is not None and prev.score == sc and prev.stats.overdue_working_days == d.overdue_working_days
        out.append(Ranked(d, sc, prev.rank if same and prev is not None else i + 1))
    unranked = sorted([x for x in scored if x[0].due < max(w.min_cases, 1)], key=lambda x: x[0].name)
    return out + [Ranked(d, sc, None) for d, sc in unranked]


def bottom(ranked: list[Ranked], n: int) -> list[Ranked]:
    """The last `n` ranked departments (art. 29: they explain), worst last."""
    eligible = [r for r in ranked if r.rank is not None]
    return eligible[-n:] if n > 0 else []


def commended_and_explaining(ranked: list[Ranked], praise: int, explain: int) -> tuple[list[Ranked], list[Ranked]]:
    """Art. 27's best `praise` and art. 29's bottom `explain`, never the same department: when fewer
    departments are ranked than both lists need, each takes at most half of them (so one ranked
    department is neither praised nor asked to explain, two get one each)."""
    eligible = [r for r in ranked if r.rank is not None]
    half = len(eligible) // 2
    best = min(praise, half)
    top = [r for r in eligible if r.rank is not None and r.rank <= best]
    named = {r.stats.department_id for r in top}
    return top, [r for r in bottom(eligible, min(explain, half)) if r.stats.department_id not in named]


def points(value: Fraction) -> str:
    cents = (value * 100 + Fraction(1, 2)) // 1
    return f"{cents / 100:.2f}"


def ranking_line(t: Translator, r: Ranked) -> str:
    s = r.stats
    if r.rank is None:
        return t._("— {name}: not ranked ({due} report(s) due)").format(name=s.name, due=s.due)
    return t._("{rank}. {name}: {score} points · on time {rate} · overdue {overdue} · returned {returned}").format(
        rank=r.rank, name=s.name, score=points(r.score), rate=percent(s.on_time_rate), overdue=s.overdue,
        returned=s.returned)


SCORE_EXPLAIN: tuple[str, ...] = (
    N_("Ranking score = {base} − {rate} × (100 − on-time rate in %) − {overdue} × overdue cases − {ret} × returns "
       "− {inadequate} × inadequate − {refused} × refused − {false} × falsely reported; higher ranks first, ties "
       "broken by fewer overdue working days; fewer than {min} reports due: listed, not ranked."),
)


def explain(t: Translator, w: RankingSettings) -> str:
    return t._(SCORE_EXPLAIN[0]).format(base=w.base, rate=w.per_rate_point, overdue=w.per_overdue_case,
                                        ret=w.per_return, inadequate=w.per_inadequate, refused=w.per_refused,
                                        false=w.per_falsely_reported, min=w.min_cases)
