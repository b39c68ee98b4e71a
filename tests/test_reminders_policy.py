"""The reminder policy on a simulated clock: Spring Festival 2026, overdue cadence, escalation, coalescing."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from bot.clock import FakeClock
from bot.domain import Kind, Notification
from bot.i18n import translator_for_locale
from bot.reminders import (
    Light,
    Recipients,
    case_standing,
    policy,
    render_overdue,
    render_reminder,
    step_day,
)
from bot.settings import Settings
from bot.workcalendar import WorkCalendar
from tests.reminder_helpers import TZ, local, make_case

CAL = WorkCalendar()
SETTINGS = Settings()
WHO = Recipients(liaisons=(11, 12), supervisors=(21,), admins=(31,))


def simulate(case, start: date, end: date, *, hours=(0, 10, 16, 20), recipients=WHO, settings=SETTINGS):
    """Run the policy as the sweep would (only when next_action_at has come); returns day → notifications."""
    clock = FakeClock(local(start, 0))
    sent: set[str] = set()
    next_at: datetime | None = clock.now()
    out: dict[date, list[Notification]] = {}
    day = start
    while day <= end:
        for hh in hours:
            clock.set(local(day, hh))
            if next_at is None or clock.now() < next_at:
                continue
            result = policy(case, calendar=CAL, now=clock.now(), sent=frozenset(sent), settings=settings,
                            recipients=recipients)
            for n in result.due:
                assert n.key not in sent
                sent.add(n.key)
                out.setdefault(day, []).append(n)
            next_at = result.next_action_at
        day += timedelta(days=1)
    return out


def test_feedback_received_2025_12_31_spring_festival_2026() -> None:
    case = make_case()  # 2 months from 2025-12-31 → Saturday 2026-02-28, a make-up working day
    assert CAL.is_working_day(date(2026, 2, 28))
    out = simulate(case, date(2026, 1, 20), date(2026, 3, 12))
    days = {d: sorted({(n.kind, n.payload["step"]) for n in ns}) for d, ns in out.items()}
    assert days == {
        date(2026, 2, 9): [(Kind.REMINDER, 10)],    # 10 working days before, counting 2月14日 (make-up Saturday)
        date(2026, 2, 25): [(Kind.REMINDER, 3)],    # the Spring Festival break 2月15-23日 is skipped
        date(2026, 2, 27): [(Kind.REMINDER, 1)],
        date(2026, 2, 28): [(Kind.REMINDER, 0)],    # the deadline itself, a working Saturday
        date(2026, 3, 2): [(Kind.ESCALATION, 1), (Kind.OVERDUE, 0)],   # first working day after it
        date(2026, 3, 5): [(Kind.OVERDUE, 1)],
        date(2026, 3, 10): [(Kind.OVERDUE, 2)],
    }
    for d in days:
        assert CAL.is_working_day(d), f"a message on rest day {d}"
    # each reminder goes to each liaison, the escalation to the supervisor only
    assert sorted(n.person_id for n in out[date(2026, 2, 9)]) == [11, 12]
    assert sorted((n.kind, n.person_id) for n in out[date(2026, 3, 2)]) == [
        (Kind.ESCALATION, 21), (Kind.OVERDUE, 11), (Kind.OVERDUE, 12)]
    assert out[date(2026, 2, 25)][0].payload["days_left"] == 3
    assert out[date(2026, 3, 10)][0].payload["working_days_overdue"] == 7


async def test_last_day_message_says_until_midnight_and_rest_days_are_silent() -> None:
    case = make_case()
    out = simulate(case, date(2026, 2, 14), date(2026, 2, 28))
    assert not any(date(2026, 2, 15) <= d <= date(2026, 2, 23) for d in out)  # 春节 holidays
    last = out[date(2026, 2, 28)][0]
    text = (await render_reminder(_NoDb(case), translator_for_locale("en"), last.payload)).text
    assert "Today is the last day" in text and "24:00" in text


def test_overdue_notice_every_three_working_days() -> None:
    case = make_case(due_on=date(2026, 3, 2))  # a Monday
    out = simulate(case, date(2026, 3, 1), date(2026, 4, 10))
    overdue_days = sorted(d for d, ns in out.items() if any(n.kind == Kind.OVERDUE for n in ns))
    expected, wd = [], 1
    while True:
        d = CAL.add_working_days(date(2026, 3, 2), wd)
        if d > date(2026, 4, 10):
            break
        expected.append(d)
        wd += 3
    assert overdue_days == expected
    assert overdue_days[:3] == [date(2026, 3, 3), date(2026, 3, 6), date(2026, 3, 11)]
    for a, b in itertools.pairwise(overdue_days):
        assert CAL.working_days_between(a, b) == 3
    # Qingming 2026 (4月4-6日) is skipped by the count
    assert all(CAL.is_working_day(d) for d in overdue_days)


def test_escalation_level_two_goes_to_admins_after_ten_working_days() -> None:
    case = make_case(due_on=date(2026, 3, 2))
    out = simulate(case, date(2026, 3, 1), date(2026, 3, 31))
    esc = sorted((d, n.payload["level"], n.person_id) for d, ns in out.items() for n in ns if n.kind == Kind.ESCALATION)
    assert esc == [(date(2026, 3, 3), 1, 21), (CAL.add_working_days(date(2026, 3, 2), 10), 2, 31)]


async def test_provisional_deadline_is_marked_in_every_reminder() -> None:
    case = make_case(due_on=date(2026, 3, 2), due_provisional=True)
    out = simulate(case, date(2026, 2, 1), date(2026, 3, 20))
    notes = [n for ns in out.values() for n in ns]
    assert {n.kind for n in notes} == {Kind.REMINDER, Kind.OVERDUE, Kind.ESCALATION}
    for n in notes:
        assert n.payload["provisional"] is True
        render = {Kind.REMINDER: render_reminder, Kind.OVERDUE: render_overdue}.get(n.kind)
        if render is None:
            from bot.reminders import render_escalation as render
        for locale in ("zh_CN", "en"):
            text = (await render(_NoDb(case), translator_for_locale(locale), n.payload)).text
            assert "暂定" in text, text


def test_downtime_coalesces_missed_steps_into_one_message() -> None:
    case = make_case()
    # The bot was down from 2月1日 to 2月27日 10:00: steps 10 and 3 were missed.
    result = policy(case, calendar=CAL, now=local(date(2026, 2, 27)), sent=frozenset(), settings=SETTINGS,
                    recipients=WHO)
    assert [(n.kind, n.payload["step"], n.person_id) for n in result.due] == [
        (Kind.REMINDER, 1, 11), (Kind.REMINDER, 1, 12)]
    assert result.skipped_steps == ["reminder:10", "reminder:3"]
    # Down until long after the deadline: one overdue notice per liaison (the latest step), one escalation each.
    late = policy(case, calendar=CAL, now=local(date(2026, 3, 20)), sent=frozenset(), settings=SETTINGS,
                  recipients=WHO)
    kinds = sorted((n.kind, n.payload.get("level", 0) if n.kind == Kind.ESCALATION else n.payload["step"],
                    n.person_id) for n in late.due)
    wd = CAL.working_days_between(date(2026, 2, 28), date(2026, 3, 20))
    assert wd >= 10
    assert kinds == sorted([(Kind.OVERDUE, (wd - 1) // 3, 11), (Kind.OVERDUE, (wd - 1) // 3, 12),
                            (Kind.ESCALATION, 1, 21), (Kind.ESCALATION, 2, 31)])
    # Running it again changes nothing: the keys are already there.
    again = policy(case, calendar=CAL, now=local(date(2026, 3, 20), 11), sent=frozenset(n.key for n in late.due),
                   settings=SETTINGS, recipients=WHO)
    assert again.due == [] and again.current is not None and len(again.current) == 4


def test_nothing_outside_the_window_or_on_rest_days_and_a_next_action_instant() -> None:
    case = make_case()
    evening = policy(case, calendar=CAL, now=local(date(2026, 2, 25), 18), sent=frozenset(), settings=SETTINGS,
                     recipients=WHO)
    assert evening.due == [] and evening.current is None
    assert evening.next_action_at == datetime(2026, 2, 26, tzinfo=TZ)  # look again tomorrow (still unsent)
    holiday = policy(case, calendar=CAL, now=local(date(2026, 2, 17)), sent=frozenset(), settings=SETTINGS,
                     recipients=WHO)
    assert holiday.due == [] and holiday.next_action_at == datetime(2026, 2, 24, tzinfo=TZ)
    morning = policy(case, calendar=CAL, now=local(date(2026, 2, 25), 0, 5), sent=frozenset(), settings=SETTINGS,
                     recipients=WHO)
    assert [n.payload["step"] for n in morning.due] == [3, 3]
    assert morning.next_action_at == datetime(2026, 2, 27, tzinfo=TZ)


def test_closed_and_reported_cases_need_nothing() -> None:
    for status in ("closed", "reported", "refused"):
        result = policy(make_case(status=status), calendar=CAL, now=local(date(2026, 3, 20)), sent=frozenset(),
                        settings=SETTINGS, recipients=WHO)
        assert result.due == [] and result.current == [] and result.next_action_at is None


def test_bureau_feedback_deadline_reminds_supervisors_and_escalates_to_admins() -> None:
    case = make_case(status="pending_feedback", feedback_sent_on=None, feedback_received_on=None, due_on=None,
                     evaluation_ended_on=date(2026, 2, 2), feedback_due_on=date(2026, 3, 2))
    out = simulate(case, date(2026, 2, 1), date(2026, 3, 31))
    people = {(n.kind, n.person_id) for ns in out.values() for n in ns}
    assert people == {(Kind.REMINDER, 21), (Kind.OVERDUE, 21), (Kind.ESCALATION, 31)}
    assert all(n.payload["target"] == "feedback" for ns in out.values() for n in ns)
    # Feedback sent: the bureau's clock stops.
    sent = replace(case, feedback_sent_on=date(2026, 3, 3))
    assert policy(sent, calendar=CAL, now=local(date(2026, 3, 20)), sent=frozenset(), settings=SETTINGS,
                  recipients=WHO).due == []


def test_traffic_light() -> None:
    case = make_case(due_on=date(2026, 3, 6))  # Friday
    def light(d: date) -> Light:
        st = case_standing(case, d, CAL, SETTINGS)
        assert st is not None
        return st.light
    assert light(date(2026, 2, 27)) is Light.GREEN
    assert light(date(2026, 3, 3)) is Light.YELLOW   # 3 working days left
    assert light(date(2026, 3, 6)) is Light.YELLOW   # last day
    assert light(date(2026, 3, 7)) is Light.RED


def test_step_days_skip_rest_days() -> None:
    assert step_day(CAL, date(2026, 2, 28), 0) == date(2026, 2, 28)
    assert step_day(CAL, date(2026, 2, 28), 3) == date(2026, 2, 25)
    assert step_day(CAL, date(2026, 2, 28), 10) == date(2026, 2, 9)
    assert step_day(CAL, date(2026, 3, 1), 0) == date(2026, 2, 28)  # a Sunday deadline: the Saturday before


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
async def test_confidential_case_shows_number_and_deadline_only(locale: str) -> None:
    case = make_case(confidential=True, id=42)
    out = simulate(case, date(2026, 2, 1), date(2026, 3, 3))
    t = translator_for_locale(locale)
    for n in (ns[0] for ns in out.values()):
        render = render_reminder if n.kind == Kind.REMINDER else render_overdue
        if n.kind == Kind.ESCALATION:
            from bot.reminders import render_escalation as render
        text = (await render(_NoDb(case), t, n.payload)).text
        assert "42" in text and ("2026" in text)
        for secret in (case.project, case.findings, case.suggestions, case.department_name):
            assert secret not in text


class _NoDb:
    """Stands in for the Database in renderer tests: get_case reads this case."""

    def __init__(self, case) -> None:
        self.case = case
        import storage.cases as repo

        self._orig = repo.get_case

    def __getattr__(self, name):  # pragma: no cover - only get_case is used
        raise AttributeError(name)


@pytest.fixture(autouse=True)
def _fake_get_case(monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.reminders as mod

    async def get_case(db, case_id):
        return getattr(db, "case", None)

    monkeypatch.setattr(mod.cases_repo, "get_case", get_case)


def test_the_per_deadline_cache_changes_nothing() -> None:
    """policy(cache=…) (one per sweep, issue 14) gives exactly what a fresh call gives, for every case
    sharing the cached deadline: report and feedback deadlines, before, on and after them, sent or not,
    inside and outside the send window."""
    cache: dict[object, object] = {}
    cases = [make_case(id=i, due_on=date(2026, 2, 28) + timedelta(days=i % 40), due_provisional=bool(i % 3))
             for i in range(1, 60)]
    cases += [make_case(id=100 + i, status="pending_feedback", feedback_sent_on=None, feedback_received_on=None,
                        feedback_due_on=date(2026, 2, 10) + timedelta(days=i)) for i in range(30)]
    for day, hh in itertools.product((date(2026, 2, 9), date(2026, 3, 20), date(2026, 4, 3)), (10, 20)):
        now = local(day, hh)
        for case in cases:
            sent = frozenset() if case.id % 2 else frozenset({f"case:{case.id}:x"})
            fresh = policy(case, calendar=CAL, now=now, sent=sent, settings=SETTINGS, recipients=WHO)
            cached = policy(case, calendar=CAL, now=now, sent=sent, settings=SETTINGS, recipients=WHO, cache=cache)
            assert cached == fresh, (case.id, now)
    assert 0 < len(cache) < len(cases) * 6


def test_step_day_by_tables_matches_the_walk_back_day_by_day() -> None:
    """step_day counts in the calendar's tables; the plain walk back gives the same day for every
    deadline of three years (Spring Festival, National Day, make-up working Saturdays) and step."""
    def walk(due: date, n: int) -> date:
        d = due
        while not CAL.is_working_day(d):
            d -= timedelta(days=1)
        count = 0
        while count < n:
            d -= timedelta(days=1)
            if CAL.is_working_day(d):
                count += 1
        return d

    for offset in range(3 * 366):
        due = date(2025, 1, 1) + timedelta(days=offset)
        for n in (0, 1, 2, 3, 5, 10, 20):
            assert step_day(CAL, due, n) == walk(due, n), (due, n)
