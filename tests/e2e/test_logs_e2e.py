"""Issue 12 item 4 end to end: `rectbot run --log-format json` writes one JSON object per line, the
operator's events are there with their fields, the libraries' chatter is not, and the token never is."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from bot.sandbox import SandboxServer
from tests.e2e.harness import RectbotProcess
from tests.e2e.test_reminders_e2e import CLOCK, insert_case, is_escalation, is_overdue_notice, wait_settled

Factory = Callable[..., RectbotProcess]


def records(bot: RectbotProcess) -> list[dict[str, Any]]:
    """Every line of the bot's log (stdout and stderr) as JSON: a line that is not JSON fails here."""
    out = []
    for n, line in enumerate(bot.log().splitlines(), 1):
        try:
            obj = json.loads(line)
        except ValueError:
            raise AssertionError(f"log line {n} is not JSON: {line!r}") from None
        assert isinstance(obj, dict), line
        out.append(obj)
    return out


def events(recs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [r for r in recs if r["event"] == name]


def test_json_log_has_the_operator_events_and_never_the_token(sandbox: SandboxServer, rectbot: Factory) -> None:
    bot = rectbot({"testing": {"clock_start": CLOCK}})  # a working Friday, 10:00: the day's digest is due
    bot.add_department("县教育局")
    bot.start(args=["--log-format", "json"])
    liaison = sandbox.create_user(first_name="联络员")
    supervisor = sandbox.create_user(first_name="督办员")
    bot.register(liaison, "liaison", "县教育局")    # /start with an invitation code
    bot.register(supervisor, "supervisor")
    insert_case(bot, "县教育局", "2026-02-28")        # overdue: a reminder and an escalation
    liaison.wait_for_message(is_overdue_notice, timeout=20)
    supervisor.wait_for_message(is_escalation, timeout=20)
    wait_settled(sandbox, bot)
    end = time.monotonic() + 30          # the quick_check runs 3 s after polling began, off the loop
    while '"database checked"' not in bot.log():
        assert time.monotonic() < end, bot.log()[-2000:]
        time.sleep(0.2)
    assert bot.stop() == 0

    recs = records(bot)
    for r in recs:
        assert {"ts", "level", "logger", "event"} <= r.keys(), r
        assert r["ts"].endswith("Z") and "T" in r["ts"], r

    [started] = events(recs, "rectbot started")
    assert started["level"] == "INFO" and started["logger"] == "bot.app"
    assert started["mode"] == "polling" and started["bureau"] == "海盐县财政局"
    assert isinstance(started["people"], int) and isinstance(started["pending"], int)
    assert "cases" not in started   # counting cases reads a whole index: not before polling (issue 14)
    [checked] = events(recs, "database checked")      # the quick_check, 3 s after polling began
    assert checked["result"] == "ok" and checked["cases"] == 1 and checked["open"] == 1

    sweeps = events(recs, "sweep done")
    assert any(s["due"] >= 1 and s["queued"] >= 2 for s in sweeps), sweeps  # the overdue notice and the escalation
    assert all(isinstance(s["ms"], int) for s in sweeps)

    rounds = events(recs, "delivery round")
    assert sum(r["sent"] for r in rounds) >= 2, rounds
    assert all(r["sent"] + r["retried"] + r["dropped"] + r["failed"] > 0 for r in rounds)  # never an empty round
    assert rounds[-1]["pending"] == 0

    [digest] = events(recs, "digest issued")
    assert digest["day"] == "2026-03-20" and isinstance(digest["recipients"], int)

    assert events(recs, "rectbot stopped"), [r["event"] for r in recs]
    assert [r["event"] for r in recs].index("rectbot started") < [r["event"] for r in recs].index("rectbot stopped")

    text = bot.log()
    assert sandbox.token not in text
    assert "HTTP Request" not in text and "Running job" not in text  # httpx and apscheduler stay quiet at INFO
    assert not [r for r in recs if r["level"] in ("ERROR", "CRITICAL")], [r for r in recs if r["level"] == "ERROR"]


def test_the_setting_alone_selects_json_and_text_stays_the_default(sandbox: SandboxServer, rectbot: Factory) -> None:
    as_json = rectbot({"logging": {"format": "json"}}, name="json")
    as_json.start()
    assert as_json.stop() == 0
    assert events(records(as_json), "rectbot started")

    as_text = rectbot(name="text")
    as_text.start()
    assert as_text.stop() == 0
    started = [line for line in as_text.log().splitlines() if "rectbot started" in line]
    assert len(started) == 1 and " INFO bot.app: rectbot started mode=polling " in started[0], started
    assert not as_text.log().lstrip().startswith("{")
