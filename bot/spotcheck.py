"""Spot checks (抽查复核, art. 12): sample closed cases and open a check case for each.

The draw is reproducible: the candidates (closed cases never drawn before, by id) and the seed
are written to the audit log, and `draw(candidates, n, seed)` gives the same sample again.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot.callbacks import REPORT
from bot.case_text import case_title
from bot.dates import format_deadline
from bot.domain import Case, CaseStatus, Kind, NewCase, Notification, Person, Source
from bot.errors import DomainError
from bot.i18n import N_, Translator
from bot.notify import Rendered
from bot.people import BUREAU_ROLES, actor_of, require_role
from bot.periods import Period, compute_deadline
from bot.workcalendar import WorkCalendar
from storage import cases as cases_repo
from storage import people as people_repo
from storage import reports as repo
from storage.db import Database, audit
from storage.outbox import enqueue

DEFAULT_PERIOD = Period.parse("10wd")
MAX_DRAW = 200


def draw(candidates: Sequence[int], n: int, seed: int) -> list[int]:
    """The sample for a seed: deterministic for the same (sorted) candidates, n and seed."""
    pool = sorted(candidates)
    return sorted(random.Random(seed).sample(pool, min(n, len(pool))))


@dataclass(frozen=True)
class SpotCheckResult:
    seed: int
    candidates: list[int]
    drawn: list[int]
    opened: list[Case]   # the new spot_check cases, in the order of `drawn`


def spot_check_project(origin: Case) -> str:
    """The new case's project: the original one, marked, so the ledger key stays unique."""
    return f"{origin.project}（抽查复核 #{origin.id}）"


async def spot_check(
    db: Database, person: Person | None, n: int, *, now: datetime, today: date, calendar: WorkCalendar,
    seed: int | None = None, period: Period = DEFAULT_PERIOD,
) -> SpotCheckResult:
    """Draw `n` closed cases at random and open a spot_check case for each one's department."""
    supervisor = require_role(person, *BUREAU_ROLES)
    if n < 1 or n > MAX_DRAW:
        raise DomainError(N_("Give the number of cases to draw, from 1 to {max}: /spotcheck 5"), max=MAX_DRAW)
    seed = secrets.randbits(63) if seed is None else seed
    deadline = compute_deadline(today, period, calendar)
    async with db.transaction() as conn:
        candidates = await repo.spot_check_candidates(conn)
        if not candidates:
            raise DomainError(N_("There is no closed case left to spot-check."))
        drawn = draw(candidates, n, seed)
        new_ids = []
        for origin_id in drawn:
            origin = await cases_repo.get_case(conn, origin_id)
            assert origin is not None
            case_id = await cases_repo.insert_case(conn, NewCase(
                department_id=origin.department_id, project=spot_check_project(origin),
                source=Source.SPOT_CHECK, grade=None, findings="", suggestions="", feedback_doc_no="",
                feedback_sent_on=today, feedback_received_on=today, period=str(period),
                due_on=deadline.due, due_provisional=deadline.provisional, due_rule=deadline.rule,
                confidential=origin.confidential, status=CaseStatus.IN_PROGRESS,
                next_action_at=now, origin_case_id=origin.id, received_by="spot_check",
                received_at=now, created_by=actor_of(supervisor), created_at=now, updated_at=now,
            ))
            new_ids.append(case_id)
            await audit(conn, actor=actor_of(supervisor), action="case.spot_check_open", entity="case",
                        entity_id=case_id, after={"origin_case_id": origin.id, "seed": seed,
                                                  "due_on": deadline.due, "due_provisional": deadline.provisional},
                        at=now)
            await enqueue(conn, [
                Notification(key=f"case:{case_id}:spot_check_opened:p{pid}", person_id=pid,
                             kind=Kind.SPOT_CHECK_OPENED, payload={"case_id": case_id}, not_before=now,
                             case_id=case_id)
                for pid in await people_repo.active_liaison_ids(conn, origin.department_id)
            ], now=now)
        await audit(conn, actor=actor_of(supervisor), action="spotcheck.draw", entity="spot_check", entity_id=None,
                    after={"seed": seed, "n": n, "candidates": candidates, "drawn": drawn, "opened": new_ids,
                           "period": str(period), "due_on": deadline.due}, at=now)
    opened = [await cases_repo.get_case(db, i) for i in new_ids]
    return SpotCheckResult(seed, candidates, drawn, [c for c in opened if c is not None])


async def render_spot_check_opened(db: Database, t: Translator, payload: Mapping[str, Any]) -> Rendered:
    """To the department's liaisons: a closed case of theirs will be spot-checked."""
    case = await cases_repo.get_case(db, int(payload["case_id"]))
    if case is None:
        return Rendered(t._("This case does not exist."))
    lines = [t._("Spot check (抽查复核): the bureau will re-check the rectification of case #{origin}.").format(
        origin=case.origin_case_id)]
    lines.append(t._("Check case: {case}").format(case=case_title(t, case)))
    lines.append(t._("Please report on it by {deadline} with /report.").format(
        deadline=format_deadline(case.due_on, case.due_provisional, t)))
    return Rendered("\n".join(lines), [[(t._("Report"), REPORT.build("c", case.id))]])


# How the audit action written here reads in a case's history (/case); merged in bot/bootstrap.py.
HISTORY_LABELS: Mapping[str, str] = {"case.spot_check_open": N_("opened the spot check of a closed case")}
