"""`python -m bench --quick` end to end at a few hundred cases: every key of results.json is there.

No timing assertions: the figures depend on the machine; this only proves the harness runs.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.__main__ import KEYS, main


def test_quick_bench_writes_every_key(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    assert main(["--quick", "--cases", "300", "--out", str(out), "--keep", str(tmp_path / "work")]) == 0
    results = json.loads(out.read_text(encoding="utf-8"))
    assert list(results) == [k for k, *_ in KEYS]
    expected = {
        "latency_p50_ms", "latency_p99_ms", "latency_p99_during_sweep_ms", "latency_p99_during_sweep_1m_ms",
        "unanswered_during_sweep_1m", "cases_list_p99_ms", "sweep_100k_ms",
        "sweep_ms_per_due_case", "sweep_1m_none_due_ms", "digest_100k_ms", "digest_payload_bytes_100k",
        "rss_peak_mb_100k", "rss_peak_mb_1m", "start_s_100k", "start_s_1m", "fanout_fraction_of_limit",
        "fanout_429s", "fanout_violations", "first_sweep_after_import_100k_s",
        "max_messages_per_supervisor_per_sweep", "import_rows_per_s", "import_rss_mb_1m",
        "deadline_speedup_vs_daily_loop",
        "deadline_speedup_vs_dict_loop", "jobqueue_rss_mb_100k", "jobqueue_schedule_s_100k",
    }
    assert set(results) == expected
    measured_without_large = expected - {"sweep_1m_none_due_ms", "rss_peak_mb_1m", "start_s_1m", "import_rss_mb_1m",
                                         "latency_p99_during_sweep_1m_ms", "unanswered_during_sweep_1m"}
    assert all(results[k] is not None for k in measured_without_large), results
    assert results["fanout_violations"] == 0
    meta = json.loads((tmp_path / "results.meta.json").read_text(encoding="utf-8"))
    assert meta["idle"]["unanswered"] == 0
