from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import people
from bot.domain import Person, Role
from bot.errors import DomainError, NotAuthorized
from bot.i18n import translator_for_locale
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
    assert stored[0]["code_hash"] == people.hash_code(people.normalize_code(issued.code))

    person = await people.redeem_invitation(db, code=issued.code, telegram_id=42, name="王芳", username=None,
                                            locale=None, now=NOW)
    assert (person.role, person.department_name, person.locale) == ("liaison", "县教育局", "zh_CN")
    with pytest.raises(DomainError, match="already been used"):
        await people.redeem_invitation(db, code=issued.code, telegram_id=43, name="李雷", username=None,
                                       locale=None, now=NOW)
    assert await repo.person_by_telegram_id(db, 43) is None
    actions = [r["action"] for r in await db.fetchall("SELECT action FROM audit_log ORDER BY id")]
    # issue 13: the refused second use is a failed redemption, audited like a wrong guess
    assert actions == ["department.add", "invitation.create", "person.bind", "invitation.redeem_failed"]


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


# --- issue 13, finding 9: a registered person's role never changes silently ------------------------

async def _code(db: Database, role: str, department: str | None = None) -> str:
    return (await people.create_invitation(db, role=role, department_name=department, actor=None, now=NOW,
                                           valid_days=7)).code


async def _redeem(db: Database, code: str, telegram_id: int, *, now: datetime = NOW,
                  change_role: bool = False) -> Person:
    return await people.redeem_invitation(db, code=code, telegram_id=telegram_id, name=f"u{telegram_id}",
                                          username=None, locale=None, now=now, change_role=change_role)


async def test_an_admin_redeeming_a_liaison_code_stays_admin(db: Database) -> None:
    await people.add_department(db, "县教育局", actor=None, now=NOW)
    await people.bootstrap_admins(db, [99], now=NOW)
    code = await _code(db, "liaison", "县教育局")
    with pytest.raises(people.AlreadyRegistered) as info:
        await _redeem(db, code, 99)
    assert info.value.render(translator_for_locale("zh_CN")) == "您已注册为管理员。如需更改身份，请联系管理员。"
    assert info.value.person.role == Role.ADMIN and info.value.role == Role.LIAISON
    admin = await repo.person_by_telegram_id(db, 99)
    assert admin is not None and admin.role == Role.ADMIN
    # Even when confirmed, an administrator is never lowered by a code.
    with pytest.raises(NotAuthorized):
        await _redeem(db, code, 99, change_role=True)
    admin = await repo.person_by_telegram_id(db, 99)
    assert admin is not None and admin.role == Role.ADMIN
    # The code was not consumed: the liaison it was meant for can still use it.
    liaison = await _redeem(db, code, 100)
    assert (liaison.role, liaison.department_name) == (Role.LIAISON, "县教育局")


async def test_a_liaison_is_told_who_they_are_and_may_confirm_a_change(db: Database) -> None:
    await people.add_department(db, "县教育局", actor=None, now=NOW)
    await _redeem(db, await _code(db, "liaison", "县教育局"), 7)
    code = await _code(db, "supervisor")
    with pytest.raises(people.AlreadyRegistered) as info:
        await _redeem(db, code, 7)
    assert info.value.render(translator_for_locale("zh_CN")) == (
        "您已注册为县教育局联络员。如需更改身份，请联系管理员。")
    assert "already registered as 县教育局 liaison officer" in info.value.render(translator_for_locale("en"))
    unchanged = await repo.person_by_telegram_id(db, 7)
    assert unchanged is not None and unchanged.role == Role.LIAISON
    changed = await _redeem(db, code, 7, change_role=True)
    assert (changed.id, changed.role, changed.department_name) == (unchanged.id, Role.SUPERVISOR, None)
    row = await db.fetchone("SELECT before, after FROM audit_log WHERE action = 'person.role_changed'")
    assert row is not None and json.loads(row["before"])["role"] == "liaison"
    assert json.loads(row["after"])["role"] == "supervisor"


# --- failed guesses are audited and throttled per sender -------------------------------------------

async def test_failed_codes_are_audited_and_throttled_per_sender(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    db = await Database.open(path)
    good = await _code(db, "supervisor")
    for n in range(people.REDEEM_MAX_FAILURES):
        with pytest.raises(DomainError, match="not valid"):
            await _redeem(db, f"guess{n}", 55, now=NOW + timedelta(minutes=n))
    await db.close()

    db = await Database.open(path)  # the throttle lives in SQLite: a restart does not reset it
    try:
        at = NOW + timedelta(minutes=5)
        with pytest.raises(people.RedeemThrottled) as info:
            await _redeem(db, good, 55, now=at)  # refused without the code being looked at
        assert "请 14 分钟后再试" in info.value.render(translator_for_locale("zh_CN"))  # blocked at 4 min, until 19
        assert await repo.person_by_telegram_id(db, 55) is None
        other = await _redeem(db, await _code(db, "supervisor"), 56, now=at)  # another sender is not affected
        assert other.role == Role.SUPERVISOR

        actions = [(r["actor"], r["action"], r["entity_id"]) for r in await db.fetchall(
            "SELECT actor, action, entity_id FROM audit_log WHERE entity = 'telegram_account' ORDER BY id")]
        assert actions == ([("telegram:55", "invitation.redeem_failed", 55)] * people.REDEEM_MAX_FAILURES
                           + [("system", "invitation.redeem_blocked", 55),
                              ("telegram:55", "invitation.redeem_throttled", 55)])
        assert "guess" not in str([tuple(r) for r in await db.fetchall("SELECT * FROM audit_log")])  # no codes

        # After the cooling-off the good code works, and the failures are forgotten.
        person = await _redeem(db, good, 55, now=NOW + people.REDEEM_COOL_OFF + timedelta(minutes=5))
        assert person.role == Role.SUPERVISOR
        assert await db.fetchall("SELECT * FROM redeem_failures") == []
    finally:
        await db.close()


async def test_failures_spread_over_time_do_not_block(db: Database) -> None:
    code = await _code(db, "supervisor")
    for n in range(people.REDEEM_MAX_FAILURES * 2):  # one every 16 minutes: never 5 within 15
        with pytest.raises(DomainError) as info:
            await _redeem(db, "wrong", 77, now=NOW + timedelta(minutes=16 * n))
        assert not isinstance(info.value, people.RedeemThrottled)
    used_and_expired = await _code(db, "supervisor")
    await _redeem(db, used_and_expired, 78)
    with pytest.raises(DomainError, match="already been used"):
        await _redeem(db, used_and_expired, 77, now=NOW + timedelta(hours=3))
    reasons = [json.loads(r["after"])["reason"] for r in await db.fetchall(
        "SELECT after FROM audit_log WHERE action = 'invitation.redeem_failed' ORDER BY id")]
    assert reasons == ["unknown"] * (people.REDEEM_MAX_FAILURES * 2) + ["used"]
    assert (await _redeem(db, code, 77, now=NOW + timedelta(days=1))).role == Role.SUPERVISOR


# --- codes easy to type on a phone (issue 10) ------------------------------------------------------

def test_new_codes_avoid_confusable_characters_and_carry_40_bits() -> None:
    import math
    import re

    codes = {people.new_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert re.fullmatch(r"[2-9A-HJKMNP-Z]{5}-[2-9A-HJKMNP-Z]{5}", code), code
        assert not set(code) & set("0O1IL")
    bits = people.CODE_GROUPS * people.CODE_GROUP_LENGTH * math.log2(len(people.CODE_ALPHABET))
    assert bits >= 40


def test_normalize_code_ignores_case_spaces_dashes_and_full_width() -> None:
    for typed in ("k7qmx 4xpdr", "K7QMX-4XPDR", " k7qmx4xpdr ", "Ｋ７ＱＭＸ－４ＸＰＤＲ", "k7 qm x-4x pdr"):
        assert people.normalize_code(typed) == "K7QMX4XPDR", typed


async def test_a_code_typed_in_lower_case_with_a_space_redeems(db: Database) -> None:
    code = await _code(db, "supervisor")
    typed = code.lower().replace("-", " ")
    person = await _redeem(db, typed, 42)
    assert person.role == Role.SUPERVISOR


async def test_an_old_code_stored_as_typed_still_redeems(db: Database) -> None:
    old = "aB3-x_Yz9QkLmN0p"  # a token_urlsafe code of before: case and dashes mattered
    async with db.transaction() as conn:
        await repo.insert_invitation(conn, code_hash=people.hash_code(old), role="supervisor", department_id=None,
                                     created_by="cli", created_at=NOW.isoformat(),
                                     expires_at=(NOW + timedelta(days=7)).isoformat())
    person = await _redeem(db, old, 42)
    assert person.role == Role.SUPERVISOR


async def test_a_wrong_code_counts_once_for_the_throttle(db: Database) -> None:
    with pytest.raises(DomainError, match="not valid"):
        await _redeem(db, "abcde-fghjk", 55)
    rows = await db.fetchall("SELECT * FROM audit_log WHERE action = 'invitation.redeem_failed'")
    assert len(rows) == 1 and json.loads(rows[0]["after"])["failures"] == 1


async def test_role_change_confirmation_passes_the_matched_hash(db: Database) -> None:
    await _redeem(db, await _code(db, "supervisor"), 7)
    code = await _code(db, "supervisor")
    with pytest.raises(people.AlreadyRegistered) as info:
        await _redeem(db, code.lower(), 7)
    assert info.value.code_hash == people.hash_code(people.normalize_code(code))


async def test_a_bootstrap_admin_takes_their_telegram_name_once(db: Database) -> None:
    await people.bootstrap_admins(db, [9001], now=NOW)
    admin = await repo.person_by_telegram_id(db, 9001)
    assert admin is not None and not people.has_real_name(admin)
    named = await people.adopt_display_name(db, admin, "  李 管理 ", now=NOW)
    assert named.name == "李 管理" and people.has_real_name(named)
    assert (await people.adopt_display_name(db, named, "别的名字", now=NOW)).name == "李 管理"  # real names stay
    rows = await db.fetchall("SELECT actor, before, after FROM audit_log WHERE action = 'person.name'")
    assert len(rows) == 1 and "李 管理" in rows[0]["after"]


async def test_refusals_quote_at_most_a_little_of_what_was_typed(db: Database) -> None:
    """A pasted novel as a role or department must not make the refusal too long to send (fault suite)."""
    with pytest.raises(DomainError) as info:
        await people.create_invitation(db, role="x" * 5000, department_name=None, actor=None, now=NOW, valid_days=7)
    assert len(info.value.render(translator_for_locale("zh_CN"))) < 200
    with pytest.raises(DomainError) as info:
        await people.find_department(db, "县" * 5000)
    assert len(info.value.render(translator_for_locale("zh_CN"))) < 200
