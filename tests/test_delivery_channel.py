"""Delivery with no Telegram at all: a second platform is one small `Channel`, and the outbox's
guarantees (once each, retries, pauses, unreachable people, failures for good) come with it."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from bot.bootstrap import build_renderers, history_labels
from bot.channel import Channel, ChannelError, Rejected, RetryLater, Transient, Unreachable
from bot.clock import SystemClock
from bot.delivery import Delivery, DeliveryConfig
from bot.domain import Kind, Notification
from bot.i18n import Translator
from bot.notify import Rendered, RendererRegistry
from bot.services import Services
from bot.settings import Settings
from storage import outbox as repo
from storage import people as people_repo
from storage.db import Database
from storage.outbox import enqueue
from tests.reminder_helpers import add_department, add_person

KIND = Kind.RECEIPT_RECORDED  # a real kind sent at once, worded by this test's renderer
ROOT = Path(__file__).resolve().parent.parent


async def _render(db: Database, t: Translator, payload: Mapping[str, Any]) -> Rendered:
    return Rendered(f"note {payload['n']}", [[("ok", f"ack:{payload['n']}")]], document=("n.txt", b"%d" % payload["n"]))


class MemoryChannel:
    """A whole platform adapter: messages kept in memory, failures scripted per chat."""

    name = "Memo"

    def __init__(self) -> None:
        self.inbox: dict[int, list[Rendered]] = defaultdict(list)
        self.faults: dict[int, list[ChannelError]] = defaultdict(list)
        self.ids: list[int] = []
        self.attempts: dict[int, list[float]] = defaultdict(list)  # loop time of every send per chat

    async def send(self, chat_id: int, message: Rendered) -> int:
        self.attempts[chat_id].append(asyncio.get_running_loop().time())
        if self.faults[chat_id]:
            raise self.faults[chat_id].pop(0)
        self.inbox[chat_id].append(message)
        self.ids.append(9000 + len(self.ids))
        return self.ids[-1]


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "rectbot.db")
    yield database
    await database.close()


async def settle(delivery: Delivery, db: Database, timeout: float = 20) -> None:  # noqa: ASYNC109 - a deadline
    stop = False
    task = asyncio.create_task(delivery.run(should_stop=lambda: stop))
    try:
        async with asyncio.timeout(timeout):
            while True:
                counts = await repo.state_counts(db)
                if not counts.get("pending") and not counts.get("sending"):
                    return
                await asyncio.sleep(0.02)
    finally:
        stop = True
        delivery.services.wake_delivery()
        await asyncio.wait_for(task, 10)


async def test_delivery_runs_on_any_channel(db: Database, caplog: pytest.LogCaptureFixture) -> None:
    svc = Services(settings=Settings(reminders={"send_window": "00:00-23:59", "working_days_only": False}),
                   db=db, clock=SystemClock(), history_labels=history_labels(),
                   renderers=RendererRegistry({**build_renderers(Path("files")).renderers, KIND: _render}))
    channel = MemoryChannel()
    port: Channel = channel  # the structural interface is all delivery needs
    delivery = Delivery(port, svc, DeliveryConfig(base_backoff=0.05, max_backoff=0.2, per_chat_interval=0.01))
    flaky, slowed, gone, refused, boss = 501, 502, 503, 504, 505
    dept = await add_department(db, "县水利局")
    ids = {chat: await add_person(db, chat, "liaison", await add_department(db, f"部门{chat}"))
           for chat in (flaky, slowed, refused)}
    ids[gone] = await add_person(db, gone, "liaison", dept)
    boss_id = await add_person(db, boss, "supervisor")
    channel.faults[flaky] = [Transient("TimedOut: Timed out"), Transient("NetworkError: Bad Gateway")]
    channel.faults[slowed] = [RetryLater(0.2)]
    channel.faults[gone] = [Unreachable("blocked by the user")]
    channel.faults[refused] = [Rejected("message too long")]
    now = svc.now()
    async with db.transaction() as conn:
        await enqueue(conn, [Notification(f"t:{chat}:{n}", pid, KIND, {"n": n}, now)
                             for chat, pid in ids.items() for n in (1, 2)], now=now)

    with caplog.at_level(logging.DEBUG, logger="bot.delivery"):
        await settle(delivery, db)

    # Each message arrives once, as rendered (buttons and document untouched); a retried one may
    # arrive after its successor.
    assert sorted(m.text for m in channel.inbox[slowed]) == ["note 1", "note 2"]
    assert sorted(m.text for m in channel.inbox[flaky]) == ["note 1", "note 2"]
    assert channel.inbox[refused] == [Rendered("note 2", [[("ok", "ack:2")]], document=("n.txt", b"2"))]
    assert channel.inbox[gone] == []
    # The platform's message ids are what the outbox records (replies are matched by them).
    sent = await repo.rows(db, state="sent")
    assert sorted(r.telegram_message_id or 0 for r in sent) == channel.ids
    by_key = {r.key: r for r in await repo.rows(db)}
    # Two transient failures, backed off and counted, then both sent.
    assert by_key[f"t:{flaky}:1"].attempts + by_key[f"t:{flaky}:2"].attempts == 4
    # RetryLater: the row is retried, and nothing more went out to the chat before the seconds asked.
    assert delivery.totals.rate_limited == 1 and by_key[f"t:{slowed}:1"].attempts == 2
    asked, after = channel.attempts[slowed][:2]
    assert after - asked >= 0.2
    assert "RetryAfter 0.2s" in caplog.text
    # Rejected: failed for good, reason kept and logged with the platform's name.
    failed = by_key[f"t:{refused}:1"]
    assert failed.state == "failed" and failed.last_error == "BadRequest: message too long"
    assert f"delivery: Memo refused outbox row {failed.id} for good: message too long" in caplog.text
    assert delivery.totals.failed == 1
    # Unreachable: the person is marked (audited), their rows dropped, and the supervisors told
    # through the same channel because the department lost its only liaison.
    person = await people_repo.person_by_id(db, ids[gone])
    assert person is not None and not person.reachable
    assert {by_key[f"t:{gone}:{n}"].state for n in (1, 2)} == {"dropped"}
    audit = await db.fetchall("SELECT action FROM audit_log WHERE entity = 'person' AND entity_id = ?", (ids[gone],))
    assert [r[0] for r in audit] == ["person.unreachable"]
    notice, = channel.inbox[boss]
    assert "县水利局" in notice.text
    assert [r.kind for r in sent if r.person_id == boss_id] == [Kind.NO_REACHABLE_LIAISON]


def test_delivery_imports_without_telegram() -> None:
    """The outbox drain and the port load in a process where `import telegram` fails."""
    code = ("import sys; sys.modules['telegram'] = None\n"
            "import bot.channel, bot.delivery\n"
            "assert not [m for m in sys.modules if m.startswith('telegram') and sys.modules[m] is not None]\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
