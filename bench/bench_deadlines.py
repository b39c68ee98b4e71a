"""Benchmark: the deadline engine vs a naive day-by-day loop over chinesecalendar.

Run:  python bench/bench_deadlines.py [N] [--seed S]

Both sides compute the same N random (start, period) pairs (default 100,000): starts from
2004-01-01 to 2025-12-31, periods uniformly one of 1-12 months, 1-90 calendar days or 1-60
working days, art. 203 in its broad reading; every due date stays within chinesecalendar's data
(2004-2026).  The naive side walks day by day calling ``chinese_calendar.is_workday`` for each
day it looks at; the engine uses ``bot.periods.compute_deadline`` with one ``WorkCalendar``,
timed twice: with its tables built inside the timed region (what the first deadlines of a
process pay), and again with the tables built (what each deadline costs afterwards: the bot
builds its calendar once per process).  The script checks that both agree on every pair, then
prints the rates and the ratio (against the per-deadline cost with the tables built).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import chinese_calendar

from bot.periods import Period, Unit, compute_deadline
from bot.workcalendar import WorkCalendar

ONE = timedelta(days=1)


def naive_due(start: date, amount: int, unit: str) -> date:
    """Textbook loop: no precomputation, one is_workday() call per inspected day."""
    is_workday = chinese_calendar.is_workday
    if unit == "wd":
        d, counted = start, 0
        while counted < amount:
            d += ONE
            if is_workday(d):
                counted += 1
        return d
    if unit == "m":
        y, m = divmod(start.month - 1 + amount, 12)
        y += start.year
        day = start.day
        while True:
            try:
                d = date(y, m + 1, day)
                break
            except ValueError:
                day -= 1
    else:
        d = start
        for _ in range(amount):
            d += ONE
    while not is_workday(d):
        d += ONE
    return d


def make_pairs(n: int, seed: int) -> list[tuple[date, int, str]]:
    rng = random.Random(seed)
    lo, hi = date(2004, 1, 1).toordinal(), date(2025, 12, 31).toordinal()
    pairs = []
    for _ in range(n):
        start = date.fromordinal(rng.randint(lo, hi))
        unit = rng.choice(("m", "d", "wd"))
        amount = rng.randint(1, {"m": 12, "d": 90, "wd": 60}[unit])
        pairs.append((start, amount, unit))
    return pairs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", nargs="?", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=20201127)
    args = ap.parse_args()

    pairs = make_pairs(args.n, args.seed)
    periods = [Period(a, Unit(u)) for _, a, u in pairs]  # parsing is not what we measure

    t0 = time.perf_counter()
    cal = WorkCalendar()
    engine = [compute_deadline(s, p, cal).due for (s, _, _), p in zip(pairs, periods, strict=True)]
    t_engine = time.perf_counter() - t0

    passes = []
    for _ in range(5):  # the median of 5: one pass is ~0.03 s, easily disturbed on a busy machine
        t0 = time.perf_counter()
        again = [compute_deadline(s, p, cal).due for (s, _, _), p in zip(pairs, periods, strict=True)]
        passes.append(time.perf_counter() - t0)
    t_built = sorted(passes)[2]

    t0 = time.perf_counter()
    naive = [naive_due(s, a, u) for s, a, u in pairs]
    t_naive = time.perf_counter() - t0

    mismatches = [(p, e, n) for p, e, n in zip(pairs, engine, naive, strict=True) if e != n]
    mismatches += [(p, e, a) for p, e, a in zip(pairs, engine, again, strict=True) if e != a]
    n = len(pairs)
    print(f"pairs:   {n}")
    print(f"engine:  {n / t_engine:>12,.0f} deadlines/s  ({t_engine:.3f} s, building the tables included)")
    print(f"engine:  {n / t_built:>12,.0f} deadlines/s  ({t_built:.3f} s, {t_built / n * 1e6:.2f} µs a deadline,"
          " tables built)")
    print(f"naive:   {n / t_naive:>12,.0f} deadlines/s  ({t_naive:.3f} s)")
    print(f"ratio:   {t_naive / t_built:>12,.1f}x faster (tables built; {t_naive / t_engine:,.1f}x with the build)")
    if mismatches:
        print(f"MISMATCH on {len(mismatches)} pairs, e.g. {mismatches[:3]}", file=sys.stderr)
        return 1
    print("results: identical on every pair")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
