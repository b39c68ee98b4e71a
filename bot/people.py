"""People, roles and invitations: who may do what.

Invitation codes are shown once and stored only as a SHA-256 hash, so a leaked database
does not leak usable codes. Authorization lives here, not in handlers.
"""

from __future__ import annotations

import difflib
import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import iso
from bot.domain import Department, Invitation, Person, Role
from bot.errors import DomainError, Msg, NotAuthorized
from bot.i18n import N_, SUPPORTED_LOCALES, normalize_locale
from storage import people as repo
from storage.db import Database, Tx, audit

ROLE_NAMES = {
    Role.ADMIN: N_("administrator"),
    Role.SUPERVISOR: N_("finance bureau supervisor"),
    Role.LIAISON: N_("liaison officer"),
}

BUREAU_ROLES = (Role.ADMIN, Role.SUPERVISOR)

# How long an invitation code may stay valid: the bounds of the invitations.valid_days setting, so a
# code asked for on the command line can never outlive what the configuration allows.
MIN_VALID_DAYS, MAX_VALID_DAYS = 1, 365


def actor_of(person: Person | None) -> str:
    return f"person:{person.id}" if person else "cli"


def require_role(person: Person | None, *roles: Role) -> Person:
    """The one authorization gate: unknown or inactive people and wrong roles are refused."""
    if person is None or not person.active:
        raise NotAuthorized(N_("You are not registered with this bot."))
    if person.role not in roles:
        raise NotAuthorized(N_("Sorry, this is not available for your role."))
    return person


def hash_code(code: str) -> str:
    return hashlib.sha256(code.strip().encode("utf-8")).hexdigest()


# Codes are typed on phones: no 0/O, 1/I/L to confuse, one case, in two groups of five (K7QMX-4XPDR).
# 31 symbols ** 10 ≈ 2 ** 49.5, far beyond guessing behind the per-sender throttle below.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_GROUPS, CODE_GROUP_LENGTH = 2, 5


def new_code() -> str:
    """A fresh code such as K7QMX-4XPDR; also valid as Telegram's /start deep-link parameter."""
    groups = ("".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_GROUP_LENGTH)) for _ in range(CODE_GROUPS))
    return "-".join(groups)


def normalize_code(typed: str) -> str:
    """What a code means, however it was typed: full-width forms folded, case, spaces and dashes ignored."""
    folded = unicodedata.normalize("NFKC", typed)
    return "".join(ch for ch in folded.upper() if not ch.isspace() and ch not in "-‐‑‒–—_")


def code_hashes(typed: str) -> list[str]:
    """The stored hashes a typed code may match: the normalised form (codes issued now are stored so),
    then the code as typed (older, case-sensitive URL-safe codes were hashed as issued)."""
    return list(dict.fromkeys([hash_code(normalize_code(typed)), hash_code(typed)]))


def _echo(typed: str, limit: int = 40) -> str:
    """What a refusal quotes back of someone's input: enough to recognise it, never a message too long to send."""
    return typed if len(typed) <= limit else typed[:limit] + "…"


def normalize_department_name(name: str) -> str:
    return " ".join(name.split())


async def add_department(db: Database, name: str, *, actor: Person | None, now: datetime) -> Department:
    if actor is not None:
        require_role(actor, Role.ADMIN)
    clean = normalize_department_name(name)
    if not clean:
        raise DomainError(N_("The department name is empty."))
    if len(clean) > 100:
        raise DomainError(N_("The department name is too long (100 characters at most)."))
    if await repo.department_by_name(db, clean):
        raise DomainError(N_("The department {name} already exists."), name=clean)
    async with db.transaction() as conn:
        dept = await repo.insert_department(conn, clean, iso(now))
        await audit(conn, actor=actor_of(actor), action="department.add", entity="department",
                    entity_id=dept.id, after={"name": clean}, at=now)
    return dept


async def find_department(db: Database, name: str) -> Department:
    """Exact match, or a refusal that suggests the closest existing names."""
    clean = normalize_department_name(name)
    dept = await repo.department_by_name(db, clean)
    if dept:
        return dept
    names = [d.name for d in await repo.list_departments(db)]
    close = difflib.get_close_matches(clean, names, n=3, cutoff=0.3)
    close += [n for n in names if (clean in n or n in clean) and n not in close][:3]
    if close:
        raise DomainError(
            N_("Unknown department {name}. Did you mean: {suggestions}?"),
            name=_echo(clean), suggestions="、".join(close[:3]),
        )
    raise DomainError(N_("Unknown department {name}. Add it first with: rectbot department add NAME"),
                      name=_echo(clean))


@dataclass(frozen=True)
class IssuedInvitation:
    code: str
    role: Role
    department: Department | None
    expires_at: datetime


async def create_invitation(
    db: Database,
    *,
    role: str,
    department_name: str | None,
    actor: Person | None,
    now: datetime,
    valid_days: int,
) -> IssuedInvitation:
    """Admins may invite anyone; supervisors may invite liaisons and supervisors; the CLI is an admin."""
    if not MIN_VALID_DAYS <= valid_days <= MAX_VALID_DAYS:
        raise DomainError(N_("An invitation is valid for {low} to {high} days, not {days}."),
                          low=MIN_VALID_DAYS, high=MAX_VALID_DAYS, days=valid_days)
    try:
        wanted = Role(role)
    except ValueError:
        raise DomainError(N_("Unknown role {role}: use admin, supervisor or liaison."), role=_echo(role)) from None
    if actor is not None:
        require_role(actor, *BUREAU_ROLES)
        if wanted is Role.ADMIN and actor.role != Role.ADMIN:
            raise NotAuthorized(N_("Only administrators can invite administrators."))
    department = None
    if wanted is Role.LIAISON:
        if not department_name:
            raise DomainError(N_("A liaison invitation needs a department."))
        department = await find_department(db, department_name)
    elif department_name:
        raise DomainError(N_("Only liaison officers belong to a department; leave the department out."))
    code = new_code()
    expires = now + timedelta(days=valid_days)
    async with db.transaction() as conn:
        inv_id = await repo.insert_invitation(
            conn, code_hash=hash_code(normalize_code(code)), role=wanted.value,
            department_id=department.id if department else None,
            created_by=actor_of(actor), created_at=iso(now), expires_at=iso(expires),
        )
        await audit(conn, actor=actor_of(actor), action="invitation.create", entity="invitation",
                    entity_id=inv_id, after={"role": wanted.value,
                                             "department": department.name if department else None,
                                             "expires_at": iso(expires)}, at=now)
    return IssuedInvitation(code, wanted, department, expires)


# Failed redemptions (unknown, used or expired codes) per Telegram account: after REDEEM_MAX_FAILURES
# within REDEEM_WINDOW the sender is refused for REDEEM_COOL_OFF without the code being looked at.
# Codes carry about 50 random bits (old ones 96), so this is not what keeps them secret; it keeps someone who is pasting
# codes around (or a script) from turning the bot into an oracle, and it leaves a trail in the audit log.
REDEEM_MAX_FAILURES = 5
REDEEM_WINDOW = timedelta(minutes=15)
REDEEM_COOL_OFF = timedelta(minutes=15)


class RedeemThrottled(DomainError):
    """Too many failed codes from this sender lately; the code was not looked at."""


class AlreadyRegistered(DomainError):
    """An active person redeemed a valid code: nothing changed and the code stays unused.

    `person` is who they are now; `role` and `department` what the code offers. A handler may show
    the message as is, or ask the person to confirm and call `redeem_invitation(…, change_role=True)`.
    """

    def __init__(self, person: Person, role: Role, department: str | None, code_hash: str = "") -> None:
        super().__init__(
            N_("You are already registered as {role}. To change your role, please contact an administrator."),
            role=role_msg(Role(person.role), person.department_name),
        )
        self.person = person
        self.role = role
        self.department = department
        self.code_hash = code_hash  # the stored hash the code matched, for the confirmation to pass on


def role_msg(role: Role, department: str | None) -> Msg:
    """"县教育局 联络员", "管理员": a role (with a liaison's department), translated when rendered."""
    name = Msg(ROLE_NAMES[role])
    if role is Role.LIAISON and department:
        return Msg("{department} {role}", department=department, role=name)
    return name


_FAILURE_TEXT = {
    "unknown": N_("This invitation code is not valid. Please check it or ask for a new one."),
    "used": N_("This invitation code has already been used. Please ask for a new one."),
    "expired": N_("This invitation code has expired. Please ask for a new one."),
}


def _unusable(inv: Invitation | None, now: datetime) -> str | None:
    if inv is None:
        return "unknown"
    if inv.used_at is not None:
        return "used"
    if datetime.fromisoformat(inv.expires_at) <= now:
        return "expired"
    return None


async def redeem_invitation(
    db: Database,
    *,
    code: str | None = None,
    code_hash: str | None = None,
    telegram_id: int,
    name: str,
    username: str | None,
    locale: str | None,
    now: datetime,
    change_role: bool = False,
) -> Person:
    """Bind the sender's Telegram account to the role the code offers, and consume the code.

    The contract (each refusal is a DomainError whose message can be shown as is):
    * a new account (or a deactivated one) is registered and returned;
    * `RedeemThrottled`: the sender had REDEEM_MAX_FAILURES failed codes within REDEEM_WINDOW and is
      cooling off; the code is not even looked at (audited: invitation.redeem_throttled);
    * DomainError for an unknown, used or expired code: recorded for the throttle and audited
      (invitation.redeem_failed; the cooling-off that the last one starts: invitation.redeem_blocked);
    * `AlreadyRegistered`: an active person redeemed a valid code and `change_role` is False. Nothing
      changes, the code stays unused: a role never changes silently;
    * with `change_role=True` (the person confirmed) their role and department become the code's
      (audited: person.role_changed), except that an administrator is never lowered (NotAuthorized).
    The code is given as typed (`code`) or, when the person confirms a change, as its hash (`code_hash`).
    """
    if code_hash is not None:
        candidates = [code_hash]
    elif code is not None:
        candidates = code_hashes(code)  # a confirmation later passes only the hash: the code is never kept
    else:
        raise ValueError("redeem_invitation needs the code or its hash")
    sender = f"telegram:{telegram_id}"
    refusal: DomainError | None = None
    person_id: int | None = None
    async with db.transaction() as conn:
        until = await repo.redeem_blocked_until(conn, telegram_id, iso(now))
        if until is not None:
            minutes = max(1, -(-int((datetime.fromisoformat(until) - now).total_seconds()) // 60))
            await audit(conn, actor=sender, action="invitation.redeem_throttled", entity="telegram_account",
                        entity_id=telegram_id, after={"blocked_until": until}, at=now)
            refusal = RedeemThrottled(
                N_("Too many invalid invitation codes were sent from this account. Please try again in "
                   "{minutes} min, or ask for a new code."), minutes=minutes)
        else:
            inv, matched = None, candidates[0]
            for matched in candidates:
                inv = await repo.invitation_by_hash(conn, matched)
                if inv is not None:
                    break
            reason = _unusable(inv, now)
            if reason is not None:
                await _record_failure(conn, telegram_id, inv, reason, now)
                refusal = DomainError(_FAILURE_TEXT[reason])
            else:
                assert inv is not None
                existing = await repo.person_by_telegram_id(db, telegram_id)
                if existing is not None and not change_role:
                    refusal = AlreadyRegistered(existing, inv.role, inv.department_name, matched)
                else:
                    if existing is not None and existing.role == Role.ADMIN and inv.role != Role.ADMIN:
                        raise NotAuthorized(N_("An administrator's role is never changed by an invitation code."))
                    person_id = await _bind(conn, inv, existing, telegram_id=telegram_id, name=name,
                                            username=username, locale=locale, now=now)
    if refusal is not None:
        raise refusal  # after the commit: the failure, the throttle and their audit rows are kept
    assert person_id is not None
    person = await repo.person_by_id(db, person_id)
    assert person is not None
    return person


async def _record_failure(conn: Tx, telegram_id: int, inv: Invitation | None, reason: str, now: datetime) -> None:
    sender = f"telegram:{telegram_id}"
    failures = await repo.record_redeem_failure(conn, telegram_id, at=iso(now), reason=reason,
                                                window_start=iso(now - REDEEM_WINDOW))
    await audit(conn, actor=sender, action="invitation.redeem_failed", entity="telegram_account",
                entity_id=telegram_id, after={"reason": reason, "invitation": inv.id if inv else None,
                                              "failures": failures}, at=now)
    if failures >= REDEEM_MAX_FAILURES:
        until = iso(now + REDEEM_COOL_OFF)
        await repo.block_redeeming(conn, telegram_id, at=iso(now), until=until)
        await audit(conn, actor="system", action="invitation.redeem_blocked", entity="telegram_account",
                    entity_id=telegram_id, after={"failures": failures, "blocked_until": until}, at=now)


async def _bind(
    conn: Tx, inv: Invitation, existing: Person | None, *, telegram_id: int, name: str, username: str | None,
    locale: str | None, now: datetime,
) -> int:
    """Consume the invitation and bind (or, confirmed, re-bind) the account; audited."""
    person_id = await repo.upsert_person(
        conn, telegram_id=telegram_id, name=name, username=username, role=inv.role,
        department_id=inv.department_id, locale=normalize_locale(locale), created_at=iso(now),
    )
    if not await repo.mark_invitation_used(conn, inv.id, person_id, iso(now)):
        raise DomainError(_FAILURE_TEXT["used"])  # consumed by someone else meanwhile: roll back
    await repo.clear_redeem_throttle(conn, telegram_id)
    if existing is not None:
        await audit(conn, actor=f"person:{person_id}", action="person.role_changed", entity="person",
                    entity_id=person_id, before={"role": existing.role, "department": existing.department_name},
                    after={"role": inv.role, "department": inv.department_name, "invitation": inv.id}, at=now)
    else:
        await audit(conn, actor=f"person:{person_id}", action="person.bind", entity="person",
                    entity_id=person_id, after={"telegram_id": telegram_id, "name": name, "role": inv.role,
                                                "department": inv.department_name, "invitation": inv.id},
                    at=now)
    return person_id


async def set_language(db: Database, person: Person, choice: str, *, now: datetime) -> Person:
    wanted = {"zh": "zh_CN", "zh_cn": "zh_CN", "cn": "zh_CN", "中文": "zh_CN", "en": "en", "english": "en"}.get(
        choice.strip().lower().replace("-", "_")
    )
    if wanted is None or wanted not in SUPPORTED_LOCALES:
        raise DomainError(N_("Choose a language: /lang zh or /lang en"))
    async with db.transaction() as conn:
        await repo.set_locale(conn, person.id, wanted)
        await audit(conn, actor=actor_of(person), action="person.locale", entity="person", entity_id=person.id,
                    before={"locale": person.locale}, after={"locale": wanted}, at=now)
    updated = await repo.person_by_id(db, person.id)
    assert updated is not None
    return updated


async def bootstrap_admins(db: Database, admin_ids: list[int], *, now: datetime) -> None:
    """`bureau.admins` are admins from the start, before they have redeemed anything."""
    for telegram_id in admin_ids:
        existing = await repo.person_by_telegram_id(db, telegram_id)
        if existing and existing.role == Role.ADMIN:
            continue
        async with db.transaction() as conn:
            person_id = await repo.upsert_person(
                conn, telegram_id=telegram_id, name=existing.name if existing else bootstrap_name(telegram_id),
                username=existing.username if existing else None, role=Role.ADMIN.value, department_id=None,
                locale="zh_CN", created_at=iso(now),
            )
            await audit(conn, actor="system", action="person.bootstrap_admin", entity="person",
                        entity_id=person_id, after={"telegram_id": telegram_id}, at=now)


def bootstrap_name(telegram_id: int) -> str:
    """The placeholder name a `bureau.admins` admin has until we learn their Telegram display name."""
    return f"admin {telegram_id}"


def has_real_name(person: Person) -> bool:
    return bool(person.name.strip()) and person.name != bootstrap_name(person.telegram_id)


async def adopt_display_name(db: Database, person: Person, display_name: str, *, now: datetime) -> Person:
    """A bootstrap admin is known by a placeholder: the first time they talk to us, take their Telegram
    display name (audited), so greetings, /whoami and case histories name them. Real names are kept."""
    name = " ".join(display_name.split())[:100]
    if has_real_name(person) or not name:
        return person
    async with db.transaction() as conn:
        await repo.set_name(conn, person.id, name)
        await audit(conn, actor=actor_of(person), action="person.name", entity="person", entity_id=person.id,
                    before={"name": person.name}, after={"name": name}, at=now)
    updated = await repo.person_by_id(db, person.id)
    assert updated is not None
    return updated


# --------------------------------------------------------------------------- look-ups for the chat handlers


async def person_by_telegram_id(db: Database, telegram_id: int) -> Person | None:
    """The registered, active person behind a Telegram account (the stranger gate's one look-up)."""
    return await repo.person_by_telegram_id(db, telegram_id)


async def list_departments(db: Database) -> list[Department]:
    return await repo.list_departments(db)


async def department_by_id(db: Database, department_id: int) -> Department | None:
    return await repo.department_by_id(db, department_id)


async def search_departments(db: Database, text: str) -> list[tuple[int, str]]:
    """(id, name) of the departments whose name contains the text, by name."""
    return await repo.search_departments(db, text)


async def liaisons_of(db: Database, department_id: int) -> list[Person]:
    """The department's active liaison officers (who receive its feedback cards)."""
    return await repo.liaisons_of(db, department_id)
