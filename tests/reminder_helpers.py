"""Shared helpers for the reminder/delivery/digest tests: cases and people in a real SQLite file."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from bot.clock import iso
from bot.domain import Case, CaseStatus, Grade, NewCase, Source
from storage import cases as cases_repo
from storage import people as people_repo
from storage.db import Database

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def local(d: date, hh: int = 10, mm: int = 0) -> datetime:
    return datetime.combine(d, time(hh, mm), tzinfo=TZ)


def make_case(**over: Any) -> Case:
    values: dict[str, Any] = dict(
        id=1, department_id=1, department_name="县教育局", project="义务教育均衡发展补助资金", source="evaluation",
        grade="fair", findings="绩效目标不明确", suggestions="细化指标", feedback_doc_no="海财绩〔2025〕12号",
        evaluation_ended_on=date(2025, 11, 30), feedback_sent_on=date(2025, 12, 29),
        feedback_received_on=date(2025, 12, 31), period="2m", explicit_due_on=None,
        feedback_due_on=date(2025, 12, 30), feedback_due_provisional=False, due_on=date(2026, 2, 28),
        due_provisional=False, due_rule="months", confidential=False, status="in_progress",
        next_action_at=T0, origin_case_id=None, created_by="cli", created_at=T0, updated_at=T0,
    )
    values.update(over)
    values.update(source=Source(values["source"]), status=CaseStatus(values["status"]),
                  grade=Grade(values["grade"]) if values["grade"] else None)
    return Case(**values)


async def add_department(db: Database, name: str) -> int:
    async with db.transaction() as conn:
        return (await people_repo.insert_department(conn, name, iso(T0))).id


async def add_person(db: Database, telegram_id: int, role: str, department_id: int | None = None,
                     name: str | None = None, locale: str = "zh_CN") -> int:
    async with db.transaction() as conn:
        return await people_repo.upsert_person(
            conn, telegram_id=telegram_id, name=name or f"user{telegram_id}", username=None, role=role,
            department_id=department_id, locale=locale, created_at=iso(T0),
        )


async def add_case(db: Database, department_id: int, *, project: str = "项目", due_on: date | None = None,
                   status: str = "in_progress", next_action_at: datetime | None = T0, **over: Any) -> int:
    values: dict[str, Any] = dict(
        department_id=department_id, project=project, source="evaluation", findings="问题", suggestions="建议",
        feedback_doc_no=f"doc-{project}", feedback_received_on=date(2025, 12, 31), period="2m",
        due_on=due_on, due_provisional=False, confidential=False, status=status, next_action_at=next_action_at,
        created_by="cli", created_at=T0, updated_at=T0,
    )
    values.update(over)
    values.update(source=Source(values["source"]), status=CaseStatus(values["status"]), grade=values.get("grade"))
    async with db.transaction() as conn:
        return await cases_repo.insert_case(conn, NewCase(**values))
