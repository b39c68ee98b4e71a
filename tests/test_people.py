from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import people
from bot.domain import Role
from bot.errors import DomainError, NotAuthorized
from storage import people as repo
from storage.db import Database

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "r.db")
    yield database
    await database.close()


async def test_invitation_is_single_use_hashed_and_audited(db: Database) -> None:
    await people.add_department(db, "县教育局", actor=None, now=NOW)
    issued = await people.create_invitation(db, role="liaison", department_name="县教育局", actor=None,
                                            now=NOW, valid_days=7)
    stored = await db.fetchall("SELECT code_hash FROM invitations")
    assert issued.code not in str([tuple(r) for r in stored])  # only the hash is stored
    assert stored[0]["code_hash"] == people.hash_code(issued.code)

    person = await people.redeem_invitation(db, code=issued.code, telegram_id=42, name="王芳", username=None,
                                            locale=None, now=NOW)
    assert (person.role, person.department_name, person.locale) == ("liaison", "县教育局", "zh_CN")
    with pytest.raises(DomainError, match="already been used"):
        await people.redeem_invitation(db, code=issued.code, telegram_id=43, name="李雷", username=None,
                                       locale=None, now=NOW)
    assert await repo.person_by_telegram_id(db, 43) is None
    actions = [r["action"] for r in await db.fetchall("SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["department.add", "invitation.create", "person.bind"]


async def test_expired_and_unknown_codes(db: Database) -> None:
    issued = await people.create_invitation(db, role="supervisor", department_name=None, actor=None,
                                            now=NOW, valid_days=7)
    with pytest.raises(DomainError, match="expired"):
        await people.redeem_invitation(db, code=issued.code, telegram_id=1, name="x", username=None,
                                       locale=None, now=NOW + timedelta(days=7, seconds=1))
    with pytest.raises(DomainError, match="not valid"):
        await people.redeem_invitation(db, code="nonsense", telegram_id=1, name="x", username=None,
                                       locale=None, now=NOW)


async def test_unknown_department_suggests_closest(db: Database) -> None:
    for name in ("县教育局", "县卫生健康局", "县民政局"):
        await people.add_department(db, name, actor=None, now=NOW)
    with pytest.raises(DomainError) as info:
        await people.create_invitation(db, role="liaison", department_name="教育局", actor=None, now=NOW,
                                       valid_days=7)
    assert "县教育局" in info.value.params["suggestions"]
    assert await db.fetchall("SELECT * FROM invitations") == []


async def test_role_rules_for_inviting(db: Database) -> None:
    await people.add_department(db, "县教育局", actor=None, now=NOW)
    sup_code = await people.create_invitation(db, role="supervisor", department_name=None, actor=None,
                                              now=NOW, valid_days=7)
    supervisor = await people.redeem_invitation(db, code=sup_code.code, telegram_id=7, name="督办",
                                                username=None, locale=None, now=NOW)
    with pytest.raises(NotAuthorized):
        await people.create_invitation(db, role="admin", department_name=None, actor=supervisor, now=NOW,
                                       valid_days=7)
    liaison_code = await people.create_invitation(db, role="liaison", department_name="县教育局",
                                                  actor=supervisor, now=NOW, valid_days=7)
    liaison = await people.redeem_invitation(db, code=liaison_code.code, telegram_id=8, name="联",
                                             username=None, locale=None, now=NOW)
    with pytest.raises(NotAuthorized):
        await people.create_invitation(db, role="liaison", department_name="县教育局", actor=liaison,
                                       now=NOW, valid_days=7)
    with pytest.raises(DomainError):
        await people.create_invitation(db, role="supervisor", department_name="县教育局", actor=None,
                                       now=NOW, valid_days=7)


async def test_language_switch_and_bootstrap_admins(db: Database) -> None:
    await people.bootstrap_admins(db, [99], now=NOW)
    await people.bootstrap_admins(db, [99], now=NOW)  # idempotent
    admin = await repo.person_by_telegram_id(db, 99)
    assert admin is not None and admin.role == Role.ADMIN
    updated = await people.set_language(db, admin, "en", now=NOW)
    assert updated.locale == "en"
    with pytest.raises(DomainError):
        await people.set_language(db, admin, "klingon", now=NOW)
    assert len(await db.fetchall("SELECT * FROM people")) == 1
