"""Shared world for the report/review/extension/spot-check/budget unit tests (no tests here)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.domain import CaseStatus, Grade, NewCase, Person, Source
from bot.workcalendar import WorkCalendar
from storage import cases as cases_repo
from storage import people as people_repo
from storage.db import Database

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 2026-03-02, 10:00 in Shanghai
TODAY = date(2026, 3, 2)
CALENDAR = WorkCalendar()
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@dataclass
class World:
    db: Database
    files: Path
    edu: int
    health: int
    sup1: Person
    sup2: Person
    liaison1: Person
    liaison2: Person
    other_liaison: Person
    admin: Person


async def add_person(db: Database, telegram_id: int, name: str, role: str, department_id: int | None) -> Person:
    async with db.transaction() as conn:
        pid = await people_repo.upsert_person(conn, telegram_id=telegram_id, name=name, username=None, role=role,
                                              department_id=department_id, locale="zh_CN", created_at=NOW.isoformat())
    person = await people_repo.person_by_id(db, pid)
    assert person is not None
    return person


async def add_case(db: Database, department_id: int, *, project: str = "学生营养餐项目", status: str = "in_progress",
                   due_on: date | None = date(2026, 3, 31), grade: str | None = None, confidential: bool = False,
                   **extra: Any) -> int:
    async with db.transaction() as conn:
        return await cases_repo.insert_case(conn, NewCase(
            department_id=department_id, project=project, source=Source.EVALUATION,
            grade=Grade(grade) if grade else None, findings="资金拨付滞后", suggestions="加快拨付",
            feedback_doc_no=extra.pop("doc", ""), due_on=due_on, due_provisional=False, due_rule="months",
            confidential=confidential, status=CaseStatus(status), created_by="cli", created_at=NOW, updated_at=NOW,
            **extra,
        ))


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    db = await Database.open(tmp_path / "r.db")
    async with db.transaction() as conn:
        edu = (await people_repo.insert_department(conn, "县教育局", NOW.isoformat())).id
        health = (await people_repo.insert_department(conn, "县卫健局", NOW.isoformat())).id
    w = World(
        db=db, files=tmp_path / "files", edu=edu, health=health,
        sup1=await add_person(db, 101, "督办甲", "supervisor", None),
        sup2=await add_person(db, 102, "督办乙", "supervisor", None),
        liaison1=await add_person(db, 201, "王芳", "liaison", edu),
        liaison2=await add_person(db, 202, "李雷", "liaison", edu),
        other_liaison=await add_person(db, 301, "赵敏", "liaison", health),
        admin=await add_person(db, 1, "管理员", "admin", None),
    )
    yield w
    await db.close()


async def outbox(db: Database) -> list[tuple[str, int, str]]:
    rows = await db.fetchall("SELECT key, person_id, kind FROM outbox ORDER BY id")
    return [(r[0], r[1], r[2]) for r in rows]


async def audit_actions(db: Database) -> list[str]:
    return [r[0] for r in await db.fetchall("SELECT action FROM audit_log ORDER BY id")]
