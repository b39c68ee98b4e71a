"""Drains the outbox through a `bot.channel.Channel`: send window, pacing, retries, unreachable people.

Nothing here knows which chat platform carries the messages: rows are rendered to a neutral
`Rendered` and handed to the channel (Telegram: `bot/telegram_channel.py`), whose errors arrive
as the port's outcomes (RetryLater, Unreachable, Rejected, Transient).

Why it is built this way:
* A row is claimed (pending → sending) in its own transaction right before the request and
  recorded (→ sent, with the message id) right after, so a crash in between leaves a `sending`
  row that `recover()` puts back: at most one duplicate per notification, never a loss.
* Chat platforms limit messages per chat and per bot (Telegram: 1/s per private chat, ~30/s per
  bot). The bot-wide rate is the channel's job (Telegram: `flood_limiter()`'s SendPacer, which
  also meters the replies to people), so there is one bot-wide pacing layer, not two (issue 14):
  `overall_rate` is None by default and only a channel without its own limiter sets it. This module
  keeps the order per chat: one message per chat at least `per_chat_interval` after the previous
  one *completed*. RetryLater pauses everything for the time asked.
* Transient errors (5xx, timeouts, network) go back to pending with exponential backoff
  (attempts are counted, the row is never given up). Unreachable (Telegram: 403) means the
  person blocked the bot or is gone: they are marked unreachable (audited), their pending rows
  are dropped with the reason, and when their department thereby loses its last reachable
  liaison the supervisors are told. Rejected rows fail for good with the reason logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from bot.cases import may_view
from bot.channel import Channel, Rejected, RetryLater, Transient, Unreachable
from bot.domain import Kind, Notification, OutboxRow, Person
from bot.i18n import N_, Translator, translator_for_locale
from bot.notify import Rendered
from bot.services import Services
from bot.settings import Settings
from bot.workcalendar import WorkCalendar
from storage import cases as cases_repo
from storage import outbox as repo
from storage import people as people_repo
from storage.db import Database, audit
from storage.outbox import enqueue

log = logging.getLogger(__name__)



# ----------------------------------------------------------------------------- send window

def in_send_window(settings: Settings, calendar: WorkCalendar, now: datetime) -> bool:
    """Windowed kinds go out only inside reminders.send_window (on working days unless configured)."""
    local = now.astimezone(settings.bureau.tz)
    if settings.reminders.working_days_only and not calendar.is_working_day(local.date()):
        return False
    start, end = settings.reminders.window
    return start <= local.time().replace(tzinfo=None) < end


def next_window_opening(settings: Settings, calendar: WorkCalendar, now: datetime) -> datetime:
    """The next instant the send window opens (now itself when it is open)."""
    if in_send_window(settings, calendar, now):
        return now
    tz = settings.bureau.tz
    local = now.astimezone(tz)
    start, _end = settings.reminders.window
    day: date = local.date()
    if local.time().replace(tzinfo=None) >= start:
        day += timedelta(days=1)
    for _ in range(400):
        if not settings.reminders.working_days_only or calendar.is_working_day(day):
            return datetime.combine(day, start, tzinfo=tz)
        day += timedelta(days=1)
    return datetime.combine(day, start, tzinfo=tz)  # pragma: no cover - a year without working days


# ----------------------------------------------------------------------------- pacing

class Pacer:
    """Hands out send slots at most `rate` per second (None: no spacing, the channel paces);
    `pause` holds everything back (RetryAfter)."""

    def __init__(self, rate: float | None, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self._mono = monotonic
        self._next = 0.0
        self._paused_until = 0.0

    def reserve(self) -> float:
        """Seconds to wait for the next slot (the slot is taken now, so callers are served FIFO)."""
        now = self._mono()
        slot = max(now, self._next, self._paused_until)
        self._next = slot + self.interval
        return slot - now

    async def wait(self) -> None:
        delay = self.reserve()
        if delay > 0:
            await asyncio.sleep(delay)

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self._mono() + seconds)


@dataclass
class DeliveryConfig:
    overall_rate: float | None = None  # messages/s for the whole bot; None: the channel's limiter paces
    per_chat_interval: float = 1.05   # seconds between two messages to one private chat (Telegram: 1)
    concurrency: int = 8              # requests in flight at once
    batch: int = 500                  # rows fetched per drain round
    per_chat_round: int | None = 3    # at most this many rows of one person per round (None: no cap)
    base_backoff: float = 2.0         # first retry after a 5xx/timeout, doubled per attempt
    max_backoff: float = 600.0
    idle_poll: float = 1.0            # longest sleep between checks when nothing is due


@dataclass
class DeliveryStats:
    fetched: int = 0
    sent: int = 0
    retried: int = 0
    dropped: int = 0
    failed: int = 0
    rate_limited: int = 0
    messages: int = 0  # messages sent (one may carry several rows: a person's reminders of one sweep)
    errors: list[str] = field(default_factory=list)

    def add(self, other: DeliveryStats) -> None:
        for name in ("fetched", "sent", "retried", "dropped", "failed", "rate_limited", "messages"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


class Delivery:
    """One per process; `run()` is the loop the application starts, `drain()` one pass (tests)."""

    def __init__(
        self,
        channel: Channel,
        services: Services,
        config: DeliveryConfig | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.channel = channel
        self.services = services
        self.config = config or DeliveryConfig()
        self._mono = monotonic
        self.pacer = Pacer(self.config.overall_rate, monotonic)
        self._sem = asyncio.Semaphore(self.config.concurrency)
        self._chat_ready: OrderedDict[int, float] = OrderedDict()  # chat → earliest next send (monotonic)
        self.totals = DeliveryStats()

    @property
    def db(self) -> Database:
        return self.services.db

    async def recover(self) -> int:
        """Rows left `sending` by a crash go back to pending (call once at start-up)."""
        async with self.db.transaction() as conn:
            count = await repo.recover_sending(conn)
        if count:
            log.warning("delivery: %d notification(s) were interrupted while sending; retrying them", count)
        return count

    async def drain(self, *, should_stop: Callable[[], bool] = lambda: False) -> DeliveryStats:
        """Send every row that is due now (one batch); returns what happened."""
        svc = self.services
        now = svc.now()
        window_open = in_send_window(svc.settings, svc.calendar, now)
        rows = await repo.due_rows(self.db, now, exclude_kinds=() if window_open else svc.renderers.windowed_kinds,
                                   limit=self.config.batch, per_person=self.config.per_chat_round)
        stats = DeliveryStats(fetched=len(rows))
        if not rows:
            return stats
        by_chat: dict[int, list[OutboxRow]] = {}
        groups: set[tuple[int, str, datetime]] = set()
        for row in rows:
            if svc.renderers.group(row.kind) is not None:  # one message takes the whole group: send it once
                group = (row.person_id, row.kind, row.created_at)
                if group in groups:
                    continue
                groups.add(group)
            by_chat.setdefault(row.telegram_id, []).append(row)
        await asyncio.gather(*(self._send_chat(chat_rows, stats, should_stop) for chat_rows in by_chat.values()))
        self.totals.add(stats)
        return stats

    async def run(self, *, should_stop: Callable[[], bool] = lambda: False) -> None:
        """The delivery loop: drain, then sleep until woken (services.wake_delivery) or something is due."""
        await self.recover()
        wakeup = self.services.delivery_wakeup
        while not should_stop():
            wakeup.clear()
            try:
                stats = await self.drain(should_stop=should_stop)
            except Exception:  # the loop must survive anything and try again
                log.exception("delivery: a drain round failed; retrying shortly")
                await asyncio.sleep(self.config.idle_poll)
                continue
            if stats.fetched >= self.config.batch or should_stop():
                continue
            timeout = await self._idle_timeout()
            if timeout > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wakeup.wait(), timeout)

    async def _idle_timeout(self) -> float:
        svc = self.services
        now = svc.now()
        window_open = in_send_window(svc.settings, svc.calendar, now)
        nxt = await repo.next_not_before(self.db, exclude_kinds=() if window_open else svc.renderers.windowed_kinds)
        if nxt is None:
            return self.config.idle_poll
        return max(0.0, min(self.config.idle_poll, (nxt - now).total_seconds()))

    # ------------------------------------------------------------------ one chat, one row

    async def _send_chat(self, rows: list[OutboxRow], stats: DeliveryStats, should_stop: Callable[[], bool]) -> None:
        """Rows of one chat, in order, at least per_chat_interval apart."""
        for row in rows:
            if should_stop():
                return
            ready = self._chat_ready.get(row.telegram_id, 0.0)
            delay = ready - self._mono()
            if delay > 0:
                await asyncio.sleep(delay)
            async with self._sem:
                try:
                    outcome = await self._send_row(row, stats)
                except Exception as exc:  # one bad row must not stop the others
                    log.exception("delivery: unexpected error for outbox row %s", row.id)
                    stats.errors.append(repr(exc))
                    claimed = [row]
                    if self.services.renderers.group(row.kind) is not None:  # the rows it had claimed too
                        claimed = await repo.sending_rows_of_group(self.db, row.person_id, row.kind,
                                                                   row.created_at) or [row]
                    await self._retry(claimed, repr(exc), stats)
                    outcome = "retry"
            if outcome in ("retry", "unreachable"):
                return  # this chat is in trouble: its other rows wait for the next round

    def _chat_done(self, chat_id: int) -> None:
        self._chat_ready[chat_id] = self._mono() + self.config.per_chat_interval
        self._chat_ready.move_to_end(chat_id)
        now = self._mono()
        while self._chat_ready:  # forget chats whose pause is long over
            first_chat, first_ready = next(iter(self._chat_ready.items()))
            if first_ready >= now:
                break
            del self._chat_ready[first_chat]

    async def _claim(self, conn: Any, row: OutboxRow) -> list[OutboxRow]:
        """pending → sending: the row itself, or for a kind sent one message per person and sweep
        every due row of that person, kind and sweep (issue 14). Empty when taken meanwhile."""
        if self.services.renderers.group(row.kind) is None:
            return [row] if await repo.claim(conn, row.id) else []
        ids = await repo.claim_group(conn, row.person_id, row.kind, row.created_at, self.services.now())
        return await repo.rows_by_ids(conn, ids) if ids else []

    async def _send_row(self, row: OutboxRow, stats: DeliveryStats) -> str:
        """Claim, render, send and record one row, or all the rows one message carries (claimed,
        then marked sent with the one message id, each in one transaction: a crash in between puts
        them all back to pending, exactly as for a single row); returns
        sent/retry/unreachable/dropped/failed/skipped."""
        db = self.db
        async with db.transaction() as conn:
            rows = await self._claim(conn, row)
            if not rows:
                return "skipped"  # taken or dropped meanwhile
            ids = [r.id for r in rows]
            if not row.reachable:
                await repo.mark_final_many(conn, ids, "dropped", "recipient unreachable")
                stats.dropped += len(rows)
                return "unreachable"
            render = self.services.renderers.get(row.kind)
            if render is None:
                await repo.mark_final_many(conn, ids, "failed", f"no renderer for kind {row.kind!r}")
                stats.failed += len(rows)
                return "failed"
            kept: list[OutboxRow] = []
            person: list[Person | None] = []  # loaded once for all the rows of one message
            for r in rows:
                refusal = await self._may_not_see(r, person)
                if refusal is None:
                    kept.append(r)
                    continue
                await repo.mark_final(conn, r.id, "dropped", refusal)
                await audit(conn, actor="system", action="outbox.dropped", entity="outbox", entity_id=r.id,
                            after={"reason": refusal, "person_id": r.person_id, "case_id": _case_of(r),
                                   "kind": r.kind}, at=self.services.now())
                stats.dropped += 1
            if not kept:
                return "dropped"
        now = self.services.now()
        expired = [r for r in kept if r.payload.get("expires_at")
                   and datetime.fromisoformat(str(r.payload["expires_at"])) <= now]
        if expired:
            async with db.transaction() as conn:
                await repo.mark_final_many(conn, [r.id for r in expired], "dropped", "expired before it could be sent")
            stats.dropped += len(expired)
            kept = [r for r in kept if r not in expired]
            if not kept:
                return "dropped"
        ids = [r.id for r in kept]
        t = translator_for_locale(row.locale)
        try:
            if len(kept) == 1:  # one item reads exactly as it always has
                rendered = await render(db, t, kept[0].payload)
            else:
                group = self.services.renderers.group(row.kind)
                assert group is not None
                rendered = await group(db, t, [r.payload for r in kept], 1)
        except Exception as exc:  # a renderer bug must not block the queue
            log.exception("delivery: renderer for %s failed (row %s)", row.kind, row.id)
            async with db.transaction() as conn:
                await repo.mark_final_many(conn, ids, "failed", f"render error: {exc!r}")
            stats.failed += len(kept)
            return "failed"
        await self.pacer.wait()
        try:
            message_id = await self.channel.send(row.telegram_id, rendered)
        except RetryLater as exc:
            seconds = exc.seconds
            self.pacer.pause(seconds)
            stats.rate_limited += 1
            await self._retry(kept, f"RetryAfter {seconds}s", stats, after=seconds)
            return "retry"
        except Unreachable as exc:
            await mark_unreachable(self.services, row.person_id, reason=exc.reason, outbox_ids=ids)
            stats.dropped += len(kept)
            return "unreachable"
        except Rejected as exc:
            async with db.transaction() as conn:
                # "BadRequest:" is the wording failed rows have always carried (a refused request).
                await repo.mark_final_many(conn, ids, "failed", f"BadRequest: {exc.reason}")
            stats.failed += len(kept)
            log.error("delivery: %s refused outbox %s for good: %s", self.channel.name, _rows_text(ids), exc.reason)
            return "failed"
        except Transient as exc:
            await self._retry(kept, exc.reason, stats)
            return "retry"
        finally:
            self._chat_done(row.telegram_id)
        async with db.transaction() as conn:
            await repo.mark_sent_many(conn, ids, message_id, self.services.now())
        stats.sent += len(kept)
        stats.messages += 1
        return "sent"

    async def _may_not_see(self, row: OutboxRow, person_cache: list[Person | None] | None = None) -> str | None:
        """Why the recipient may no longer see the row's case (None: they may, or it has no case).

        Checked at send time, not only when the row was queued: a liaison moved to another
        department (or deactivated) meanwhile must not get the old department's case titles.
        The rule is the domain's own `may_view`, on the person and the case as stored now.
        """
        case_id = _case_of(row)
        if case_id is None:
            return None
        if person_cache:
            person = person_cache[0]
        else:
            person = await people_repo.person_by_id(self.db, row.person_id)
            if person_cache is not None:
                person_cache.append(person)
        if person is None:
            return "recipient no longer exists"
        case = await cases_repo.get_case(self.db, case_id)
        if case is None:
            return f"case {case_id} no longer exists"
        if not may_view(person, case):
            return f"recipient may no longer see case {case_id}"
        return None

    async def _retry(self, rows: OutboxRow | list[OutboxRow], error: str, stats: DeliveryStats, *,
                     after: float | None = None) -> None:
        """Back to pending with exponential backoff, every row one message carried together."""
        batch = rows if isinstance(rows, list) else [rows]
        attempts = max(r.attempts for r in batch) + 1
        if after is None:
            after = min(self.config.max_backoff, self.config.base_backoff * 2 ** max(0, attempts - 1))
        async with self.db.transaction() as conn:
            await repo.mark_retry_many(conn, [r.id for r in batch], self.services.now() + timedelta(seconds=after),
                                       error)
        stats.retried += len(batch)
        log.debug("delivery: %s will be retried in %.1fs (attempt %d): %s", _rows_text([r.id for r in batch]),
                 after, attempts, error)


def _rows_text(ids: Sequence[int]) -> str:
    """"row 5" for one row (as logs have always said), "rows 5, 6, 9" for the rows of one message."""
    return f"row {ids[0]}" if len(ids) == 1 else "rows " + ", ".join(str(i) for i in ids)


def _case_of(row: OutboxRow) -> int | None:
    """The case a row speaks of: its column, or (rows of older versions) the payload's case_id."""
    if row.case_id is not None:
        return row.case_id
    value = row.payload.get("case_id")
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


# ----------------------------------------------------------------------------- reachability

async def mark_unreachable(services: Services, person_id: int, *, reason: str, outbox_id: int | None = None,
                           outbox_ids: Sequence[int] = ()) -> None:
    """The person cannot be reached (the channel said so, or they blocked the bot): stop sending to
    them and, if their department just lost its last reachable liaison, tell the supervisors (once
    per department and day)."""
    db = services.db
    now = services.now()
    person = await people_repo.person_by_id(db, person_id)
    if person is None:
        return
    async with db.transaction() as conn:
        claimed = [*outbox_ids, *([outbox_id] if outbox_id is not None else [])]
        if claimed:  # the rows being sent (state sending): dropped with the reason
            await repo.mark_final_many(conn, claimed, "dropped", f"recipient unreachable: {reason}")
        dropped = await repo.drop_pending_for_person(conn, person_id, f"recipient unreachable: {reason}")
        if person.reachable:
            await people_repo.set_reachable(conn, person_id, False)
            await audit(conn, actor="system", action="person.unreachable", entity="person", entity_id=person_id,
                        before={"reachable": True}, after={"reachable": False, "reason": reason,
                                                           "dropped_notifications": dropped}, at=now)
        told = 0
        if person.role == "liaison" and person.department_id is not None:
            still = [p for p in await people_repo.liaisons_of(db, person.department_id)
                     if p.reachable and p.id != person_id]
            if not still:
                today = now.astimezone(services.settings.bureau.tz).date().isoformat()
                supervisors = [p for p in await people_repo.people_with_role(db, "supervisor") if p.reachable]
                told = await enqueue(conn, [
                    Notification(
                        key=f"dept:{person.department_id}:{Kind.NO_REACHABLE_LIAISON}:{today}:p{s.id}",
                        person_id=s.id, kind=Kind.NO_REACHABLE_LIAISON,
                        payload={"department": person.department_name or "", "liaison": person.name},
                        not_before=now,
                    ) for s in supervisors
                ], now=now)
    log.warning("delivery: person %s is unreachable (%s); %d pending notification(s) dropped", person_id, reason,
                dropped)
    if told:
        services.wake_delivery()


async def mark_reachable(services: Services, person: Person) -> bool:
    """A person who writes to the bot again can be reached again; True when that changed."""
    if person.reachable:
        return False
    now = services.now()
    async with services.db.transaction() as conn:
        await people_repo.set_reachable(conn, person.id, True)
        await audit(conn, actor=f"person:{person.id}", action="person.reachable", entity="person",
                    entity_id=person.id, before={"reachable": False}, after={"reachable": True}, at=now)
    return True


async def render_no_reachable_liaison(db: Database, t: Translator, payload: Any) -> Rendered:
    return Rendered(t._(N_(
        "⚠️ {department} has no liaison officer the bot can reach any more ({liaison} blocked the bot or "
        "deleted the account). Reminders for its cases cannot be delivered; please arrange a new liaison "
        "(invitation) or contact the department directly."
    )).format(department=payload.get("department", ""), liaison=payload.get("liaison", "")))
